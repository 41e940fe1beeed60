"""Every python block of README.md runs on its own, in a fresh interpreter
(its own imports, no names from an earlier block), and prints what it
computes."""
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(REPO, 'README.md')).read()
SNIPPETS = re.findall(r'```python\n(.*?)```', README, re.S)


def _line(code):
    return README[:README.index(code)].count('\n') + 1


def test_readme_has_python_snippets():
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize('code', SNIPPETS,
                         ids=[f'line{_line(c)}' for c in SNIPPETS])
def test_readme_snippet_runs_standalone_and_prints(code, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, env.get('PYTHONPATH')) if p)
    proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                          env=env, capture_output=True, text=True,
                          timeout=300)
    where = f'README.md block at line {_line(code)}'
    assert proc.returncode == 0, f'{where} failed:\n{proc.stderr}'
    out = proc.stdout.strip().splitlines()
    assert out, f'{where} prints nothing'
    # A print call for every result the block computes, and no bare reprs.
    assert len(out) >= code.count('print('), f'{where}: {out}'
    assert not any(line.strip() in ('None', '') for line in out), out

