# The API reference (docs/source) and the README agree with the code. No
# Sphinx needed: `make docs` (CI) builds the HTML with warnings as errors;
# these checks run in `make test`.
import importlib.util
import os
import re

import pytest

import pyg_identity.nn as nn
from pyg_identity.datasets import default_root

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, 'docs', 'source')


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f'docs_{name}', os.path.join(SOURCE, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(*path):
    with open(os.path.join(REPO, *path), encoding='utf-8') as f:
        return f.read()


api = _load('_api')
table = _load('_layer_table')


def test_every_public_name_is_in_the_reference():
    missing = api.undocumented(api.documented_in_rst(SOURCE))
    assert not missing, (
        f'public (in __all__) but in no page of docs/source: {missing}')


def test_every_documented_name_exists():
    names = api.documented_in_rst(SOURCE)
    assert len(names) > 50
    for name in names:
        api.resolve(name)  # raises on a renamed or removed object


def test_a_missing_name_is_reported():
    names = [n for n in api.documented_in_rst(SOURCE)
             if not n.endswith('.tour_length')]
    assert api.undocumented(names) == ['pyg_identity.solvers.tour_length']


def test_one_page_per_tier():
    pages = {f[:-4] for f in os.listdir(SOURCE) if f.endswith('.rst')}
    assert {'index', 'mechanism', 'solvers', 'functional', 'nn', 'datasets',
            'models', 'utils', 'layers', 'guide'} <= pages
    index = _read('docs', 'source', 'index.rst')
    for page in pages - {'index'}:
        assert re.search(rf'^   {page}$', index, re.M), page


def test_layer_table_reads_every_layer_from_the_code():
    rows = table.code_rows()
    layers = table.solver_layers()
    assert [c.__name__ for c in layers] == list(rows)
    assert {'IdentitySolver', 'IdentityTSP', 'IdentityTopK'} <= set(rows)
    for cls in layers:
        row = rows[cls.__name__]
        assert row['projection'] == cls.default_projection
        assert row['sense'] in ('min', 'max', 'either'), cls
        if row['sense'] != 'either':
            assert row['pure'], cls  # the solve_* behind it
    assert rows['IdentityTopK']['sense'] == 'max'
    assert rows['IdentityTSP']['sense'] == 'min'
    assert rows['IdentitySolver']['sense'] == 'either'
    assert "'exact'" in rows['IdentityTSP']['solver_option']


def test_layer_table_renders_every_layer_and_projection():
    lines = table.render(_read('README.md'))
    text = '\n'.join(lines)
    for cls in table.solver_layers():
        assert f':class:`~pyg_identity.nn.{cls.__name__}`' in text
    body = [line for line in lines if line.startswith('   * - ')]
    assert len(body) == len(table.solver_layers()) + 1  # + the header
    assert '.. layer-table::' in _read('docs', 'source', 'layers.rst')


def test_readme_layer_table_agrees_with_the_code():
    readme = table.readme_rows(_read('README.md'))
    code = table.code_rows()
    assert set(readme) == set(code), (
        f'only in the README: {sorted(set(readme) - set(code))}; '
        f'not in the README: {sorted(set(code) - set(readme))}')
    for name, row in code.items():
        assert readme[name]['projection'] == row['projection'], (
            f"README says {name} defaults to "
            f"{readme[name]['projection']!r}; the code says "
            f"{row['projection']!r}")
        assert readme[name]['sense'] == row['sense'], name


def test_readme_table_parser_sees_a_wrong_projection():
    text = _read('README.md').replace(
        "| `IdentityTopK` | k-hot indicator per group | max | segment sort "
        "on the device | `'std'` |",
        "| `IdentityTopK` | k-hot indicator per group | max | segment sort "
        "on the device | `'norm'` |")
    assert table.readme_rows(text)['IdentityTopK']['projection'] == 'norm'
    assert nn.IdentityTopK.default_projection == 'std'


# Numbers the guide quotes, and the file they come from (the guide names
# it); if a source changes, update the guide with it.
GUIDE_QUOTES = [
    ('55.8%', 'README.md'),
    ('90.4%', 'README.md'),
    ('67.4%', 'README.md'),
    ('98.9%', 'README.md'),
    ('0.04%', 'README.md'),
    ('0.29%', 'README.md'),
    ('0.10–0.17', 'README.md'),
    ('98.40 ± 0.28', 'REPRODUCTION.md'),
    ('99.40 ± 0.00', 'REPRODUCTION.md'),
    ('31.80', 'REPRODUCTION.md'),
    ('91.80', 'REPRODUCTION.md'),
    # The paper's lr with a step decay once the margin is off (k = 5, 10, 20).
    ('98.60 ± 0.26', 'REPRODUCTION.md'),
    ('99.03 ± 0.15', 'REPRODUCTION.md'),
    ('98.30', 'REPRODUCTION.md'),
    # What limits TSP(5): the training split against the test split, and
    # twice the training examples.
    ('between 98.1 and 98.9%', 'REPRODUCTION.md'),
    ('99.88', 'REPRODUCTION.md'),
    ('98.40', 'REPRODUCTION.md'),
    ('99.27 ± 0.12%', 'REPRODUCTION.md'),
    ('17.79 ± 2.06 km', 'REPRODUCTION.md'),
    ('44.55 ± 2.76', 'REPRODUCTION.md'),
    ('76.85 ± 0.85', 'REPRODUCTION.md'),
    ('75.82 ± 0.74', 'REPRODUCTION.md'),
    ('78.27 ± 1.34', 'REPRODUCTION.md'),
    ('76.73 ± 2.02', 'REPRODUCTION.md'),
    ('100.95 ± 0.37', 'REPRODUCTION.md'),
    ('100.82 ± 0.17', 'REPRODUCTION.md'),
    ('91.09 ± 0.07', 'REPRODUCTION.md'),
    ('99.72 ± 0.04', 'REPRODUCTION.md'),
    ('44.40 ± 18.60', 'REPRODUCTION.md'),
    ('1.08 ± 0.08 (5.96 ± 0.00)', 'REPRODUCTION.md'),
    ('92.03 ± 1.03', 'REPRODUCTION.md'),
    ('5.87 ± 0.01 (5.96 ± 0.00)', 'REPRODUCTION.md'),
    ('15.23 ± 5.90', 'REPRODUCTION.md'),
    ('5.35 ± 5.71 (12.89 ± 0.00)', 'REPRODUCTION.md'),
    ('82.57 ± 1.80', 'REPRODUCTION.md'),
    ('12.86 ± 0.02 (12.89 ± 0.00)', 'REPRODUCTION.md'),
    ('0.60 ± 0.42', 'REPRODUCTION.md'),
    ('92.84', 'REPRODUCTION.md'),
    ('4.15 ± 0.16 (26.75 ± 0.00)', 'REPRODUCTION.md'),
    ('71.75 ± 0.07', 'REPRODUCTION.md'),
    ('26.71 ± 0.02 (26.75 ± 0.00)', 'REPRODUCTION.md'),
    ('99.05', 'REPRODUCTION.md'),
    # Both accuracies (full tours, adjacency entries) of this release's runs.
    ('79.20 ± 7.18', 'REPRODUCTION.md'),
    ('97.20 ± 0.34', 'REPRODUCTION.md'),
    ('87.99 ± 1.91', 'REPRODUCTION.md'),
    ('98.12 ± 0.21', 'REPRODUCTION.md'),
    ('99.52 ± 0.14', 'REPRODUCTION.md'),
    ('99.91', 'REPRODUCTION.md'),
]


@pytest.mark.parametrize('number,source', GUIDE_QUOTES)
def test_guide_quotes_its_sources(number, source):
    guide = _read('docs', 'source', 'guide.rst').replace('--', '–')
    assert number in guide
    assert source.split('.')[0] in guide  # named where quoted
    assert number in _read(source), f'{number} is no longer in {source}'


def test_readme_states_the_data_folder_rule(monkeypatch):
    readme = _read('README.md')
    assert '~/.cache/pyg_identity/datasets' in readme
    assert '$PYG_IDENTITY_DATASETS' in readme
    assert '`./datasets`' in readme
    # ... and it is the rule of the code.
    doc = default_root.__doc__
    assert '~/.cache/pyg_identity/datasets' in doc
    assert 'PYG_IDENTITY_DATASETS' in doc
    monkeypatch.delenv('PYG_IDENTITY_DATASETS', raising=False)
    assert default_root('x') == os.path.join(REPO, 'datasets', 'x')


def test_make_docs_builds_with_warnings_as_errors_in_ci():
    makefile = _read('Makefile')
    assert re.search(r'^docs:', makefile, re.M)
    assert 'sphinx -W --keep-going' in makefile
    assert 'docs/source docs/_build/html' in makefile
    ci = _read('.ci', 'run').splitlines()
    assert ci.index('make lint') < ci.index('make docs') < \
        ci.index('make test') == len(ci) - 1
    assert 'docs/_build/' in _read('.gitignore')
