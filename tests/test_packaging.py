import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(__file__))


def test_pyproject_lists_every_package():
    text = open(os.path.join(REPO, 'pyproject.toml')).read()
    listed = set(re.findall(r'"(pyg_identity[\w.]*)"', text))
    found = set()
    for root, dirs, files in os.walk(os.path.join(REPO, 'pyg_identity')):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        if '__init__.py' in files:
            rel = os.path.relpath(root, REPO)
            found.add(rel.replace(os.sep, '.'))
    assert found <= listed, f'missing from pyproject.toml: {found - listed}'


def test_torch_is_not_pinned_tightly():
    text = open(os.path.join(REPO, 'pyproject.toml')).read()
    assert '"torch==' not in text


def test_ci_runs_the_readme_test_command():
    readme = open(os.path.join(REPO, 'README.md')).read()
    ci = open(os.path.join(REPO, '.ci', 'run')).read()
    assert 'make test' in readme and 'make test' in ci
    assert 'make demo' in readme


# --- the extras (issue 12): every one installs with a plain
# `pip install '.[extra]'` after torch, or is left out and documented.

# sdists whose setup.py imports torch: a plain pip install (build isolation
# on) fails with "No module named 'torch'"; they install only with
# `--no-build-isolation`, so none may be an extra.
NEEDS_NO_BUILD_ISOLATION = {
    'torch-scatter', 'torch-sparse', 'torch-cluster', 'torch-spline-conv',
}
# Packages whose every usable release conflicts with a core requirement, so
# an extra naming them cannot resolve.
CONFLICTS_WITH_CORE = {
    'lkh': 'every lkh release with LKHProblem (1.1.1, 2.0.0) pins '
           'networkx<3 through tsplib95; the core needs networkx>=3.0',
}
# Extras that are not runtime features (left out of `full`), and runtime
# requirements deliberately left out of `full` (none at present).
NOT_RUNTIME = {'test', 'full', 'docs'}
NOT_IN_FULL: set = set()
# The commands the README gives for the packages that are not extras.
DOCUMENTED_COMMANDS = [
    'pip install torch-scatter --no-build-isolation',
    'pip install deprecated && pip install --no-deps lkh==2.0.0',
]


def _pyproject():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = pytest.importorskip('tomli')
    with open(os.path.join(REPO, 'pyproject.toml'), 'rb') as f:
        return tomllib.load(f)


def _extras():
    from packaging.requirements import Requirement
    extras = _pyproject()['project']['optional-dependencies']
    return {name: [Requirement(r) for r in reqs]
            for name, reqs in extras.items()}


def _key(req):
    from packaging.utils import canonicalize_name
    return (canonicalize_name(req.name), str(req.specifier),
            str(req.marker or ''))


def test_every_extra_parses_and_names_a_registry_package():
    from packaging.utils import canonicalize_name
    extras = _extras()
    assert extras, 'no [project.optional-dependencies]'
    for name, reqs in extras.items():
        assert canonicalize_name(name) == name, name
        assert reqs, f'extra {name!r} is empty'
        for req in reqs:
            # A direct URL is refused by PyPI and by `pip install` of a
            # wheel built from us.
            assert req.url is None, (name, str(req))


def test_no_extra_needs_build_isolation_off_or_conflicts_with_core():
    from packaging.utils import canonicalize_name
    for name, reqs in _extras().items():
        for req in reqs:
            pkg = canonicalize_name(req.name)
            assert pkg not in NEEDS_NO_BUILD_ISOLATION, (
                f"extra {name!r} lists {pkg}, an sdist whose build imports "
                f"torch: document 'pip install {pkg} --no-build-isolation' "
                f"in the README instead")
            assert pkg not in CONFLICTS_WITH_CORE, (
                f'extra {name!r} lists {pkg}: {CONFLICTS_WITH_CORE[pkg]}')


def test_extras_do_not_pin_torch():
    for name, reqs in _extras().items():
        assert all(r.name.lower() != 'torch' for r in reqs), name


def test_full_is_the_union_of_the_runtime_extras():
    extras = _extras()
    runtime = set()
    for name, reqs in extras.items():
        if name not in NOT_RUNTIME:
            runtime |= {_key(r) for r in reqs}
    full = {_key(r) for r in extras['full']}
    assert full == runtime - NOT_IN_FULL, (
        f'missing from full: {sorted(runtime - NOT_IN_FULL - full)}; '
        f'only in full: {sorted(full - runtime)}')
    assert len(full) == len(extras['full']), 'a duplicate in full'


def test_readme_documents_every_extra_and_the_commands_that_work():
    readme = open(os.path.join(REPO, 'README.md')).read()
    for name in _extras():
        assert f'`{name}`' in readme, f'extra {name!r} not in the README'
    for command in DOCUMENTED_COMMANDS:
        assert command in readme, command


def test_every_install_hint_names_an_existing_extra():
    extras = set(_extras())
    pattern = re.compile(r"(?:pyg_identity|pyg-identity|\.)\[([a-z_,-]+)\]")
    roots = ['pyg_identity', 'examples', 'datasets', 'benchmarks', 'docs']
    files = [os.path.join(REPO, f) for f in ('README.md', 'Makefile')]
    for root in roots:
        for dirpath, dirs, names in os.walk(os.path.join(REPO, root)):
            dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
            files += [os.path.join(dirpath, n) for n in names
                      if n.endswith(('.py', '.md'))]
    for path in files:
        with open(path, encoding='utf-8', errors='replace') as f:
            for hit in pattern.findall(f.read()):
                for name in hit.split(','):
                    assert name in extras, (
                        f'{os.path.relpath(path, REPO)} names the extra '
                        f'[{name}], which pyproject.toml lacks')
