import os
import re

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
