r"""Runs an experiment script under ``torchrun --nproc_per_node 2`` (DDP,
gloo on CPU) and checks that both ranks end with the same state dict."""
import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any, Dict

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_ddp(tmp_path: Any, name: str, *extra: str) -> Dict[str, Any]:
    r"""Runs :obj:`pyg_identity.experiments.<name> --tiny --quiet` on two
    processes with the run folder :obj:`tmp_path/run`, asserts that the two
    ranks saved identical state dicts, and returns rank 0's metrics."""
    ranks = tmp_path / 'ranks'
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_addr', '127.0.0.1', '--master_port',
        str(free_port()), '-m', f'pyg_identity.experiments.{name}', '--tiny',
        '--quiet', '--out', str(tmp_path / 'run'), '--save-ranks',
        str(ranks), *extra
    ]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    # Output to a file, not a pipe: a rank that outlives torchrun would hold
    # a pipe open and block the read forever. On a timeout, SIGTERM first:
    # torchrun then stops its ranks (they run in sessions of their own, so
    # killing torchrun's process group alone would leave them waiting in a
    # collective), and SIGKILL only what is left after a grace period.
    log = tmp_path / 'torchrun.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            proc.wait(timeout=300)  # generous: shared cores
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise
    stderr = log.read_text()
    assert proc.returncode == 0, stderr[-3000:]
    states = [torch.load(ranks / f'rank{r}.pt', weights_only=True)
              for r in range(2)]
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    # Only rank 0 writes the run folder.
    with open(tmp_path / 'run' / 'metrics.json') as f:
        metrics = json.load(f)
    assert metrics['final']['world_size'] == 2
    return metrics
