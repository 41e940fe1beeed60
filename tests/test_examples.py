import ast
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, 'examples')

# Each example at a tiny setting (seconds): name -> (flags, needs MNIST).
TINY = {
    'random_tsp': (['--nodes', '8', '--num-train', '16', '--num-test', '8',
                    '--batch-size', '8'], False),
    'globe_tsp': (['--k', '5', '--num-train', '20', '--num-test', '10',
                   '--batch-size', '10'], False),
    'terrain_shortest_path': (['--grid-size', '6', '--num-train', '16',
                               '--num-test', '8', '--batch-size', '8',
                               '--hidden-channels', '8'], False),
    'graph_matching': (['--num-train', '16', '--num-test', '8',
                        '--batch-size', '8', '--hidden-channels', '16'],
                       False),
    'retrieval': (['--num-train', '256', '--num-test', '128',
                   '--batch-size', '64'], True),
    'dvae': (['--num-train', '256', '--num-test', '128'], True),
}
EPOCHS = 2
# The modules an example may import from (the public API).
PUBLIC = ('pyg_identity', 'pyg_identity.nn', 'pyg_identity.nn.functional',
          'pyg_identity.datasets', 'pyg_identity.models',
          'pyg_identity.utils')


def source(name: str) -> str:
    with open(os.path.join(EXAMPLES, f'{name}.py')) as f:
        return f.read()


def test_every_example_is_run():
    found = {f[:-3] for f in os.listdir(EXAMPLES) if f.endswith('.py')}
    assert found == set(TINY)


@pytest.mark.parametrize('name', sorted(TINY))
def test_example_uses_only_the_public_api(name):
    tree = ast.parse(source(name))
    modules = [n.module for n in ast.walk(tree)
               if isinstance(n, ast.ImportFrom) and n.module]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names]
    ours = [m for m in modules if m.split('.')[0] == 'pyg_identity']
    assert ours, name
    for module in ours:
        public = module in PUBLIC or module.startswith('pyg_identity.models.')
        assert public and '._' not in module, (name, module)
    # The paper-table machinery stays in the experiment, which the
    # docstring names.
    doc = ast.get_docstring(tree)
    assert doc and f'pyg_identity.experiments.{name}' in doc


@pytest.mark.parametrize('name', sorted(TINY))
def test_example_runs_at_a_tiny_setting(name, tmp_path, request):
    flags, needs_mnist = TINY[name]
    if needs_mnist:
        shared_data = request.getfixturevalue('shared_data')
        flags = flags + ['--root', os.path.join(shared_data, 'mnist')]
    else:
        flags = flags + ['--root', str(tmp_path / 'data')]
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
               MPLBACKEND='Agg')
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, f'{name}.py'), '--epochs',
         str(EPOCHS), *flags], cwd=str(tmp_path), env=env,
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    epochs = re.findall(r'^Epoch: (\d+),', proc.stdout, re.M)
    assert [int(e) for e in epochs] == list(range(1, EPOCHS + 1)), (
        proc.stdout)
    assert 'nan' not in proc.stdout.lower(), proc.stdout
