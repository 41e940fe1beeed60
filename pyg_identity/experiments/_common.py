r"""Shared plumbing of the paper-experiment scripts: the common flags, seeding,
per-epoch logging, the metrics JSON, training-curve plots and the paper's
number beside ours."""
import argparse
import json
import os
import random
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from pyg_identity.projection import validate_mode


def _projection(value: str) -> Optional[str]:
    try:
        return validate_mode(value, 'projection')
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _non_negative(value: str) -> float:
    x = float(value)
    if not x >= 0:
        raise argparse.ArgumentTypeError(f'must be non-negative (got {x})')
    return x


def _positive_int(value: str) -> int:
    x = int(value)
    if x < 1:
        raise argparse.ArgumentTypeError(f'must be positive (got {x})')
    return x


def base_parser(description: str, *, epochs: int, projection: Optional[str],
                noise: float = 0.0, noise_epochs: Optional[int] = None,
                lambda_: float = 20.0, lr: float = 1e-3,
                batch_size: int = 32) -> argparse.ArgumentParser:
    r"""Returns an :class:`argparse.ArgumentParser` with the flags every
    experiment takes: :obj:`--backward`, :obj:`--projection`,
    :obj:`--noise`, :obj:`--noise-epochs`, :obj:`--lambda`,
    :obj:`--epochs`, :obj:`--lr`, :obj:`--batch-size`, :obj:`--seed`,
    :obj:`--out`, :obj:`--tiny` and :obj:`--quiet`; defaults are the
    experiment's."""
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--backward', default='identity',
                   choices=['identity', 'blackbox'],
                   help='gradient of the solver layer')
    p.add_argument('--projection', type=_projection,
                   default='none' if projection is None else projection,
                   help="cost projection: none, mean, norm or std")
    p.add_argument('--noise', type=_non_negative, default=noise,
                   help='noise margin alpha (training only)')
    p.add_argument('--noise-epochs', type=int, default=noise_epochs,
                   help='apply the noise during the first N epochs only '
                   '(default: all epochs)')
    p.add_argument('--lambda', dest='lambda_', type=float, default=lambda_,
                   help='Blackbox interpolation strength')
    p.add_argument('--epochs', type=_positive_int, default=epochs)
    p.add_argument('--lr', type=float, default=lr)
    p.add_argument('--batch-size', type=_positive_int, default=batch_size)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None,
                   help='run folder for metrics.json and plots (default: '
                   'runs/<experiment>-<backward>-<time>)')
    p.add_argument('--tiny', action='store_true',
                   help='a seconds-long setting for smoke tests and CI')
    p.add_argument('--quiet', action='store_true',
                   help='no progress bars')
    return p


def seed_everything(seed: int) -> None:
    r"""Seeds Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def noise_for_epoch(args: argparse.Namespace, epoch: int) -> float:
    r"""The noise margin to use in :obj:`epoch` (1-based): :obj:`args.noise`
    during the first :obj:`args.noise_epochs` epochs (all if unset), then
    :obj:`0` (the paper switches it off after half of the TSP training)."""
    if args.noise_epochs is not None and epoch > args.noise_epochs:
        return 0.0
    return float(args.noise)


class RunLogger:
    r"""One log line per epoch, a metrics JSON and training-curve plots in a
    run folder.

    Args:
        name (str): The experiment name.
        args (argparse.Namespace): The parsed flags (stored in the JSON).
        paper (dict, optional): The paper's numbers, printed beside ours.
    """
    def __init__(self, name: str, args: argparse.Namespace,
                 paper: Optional[Dict[str, Any]] = None) -> None:
        self.name = name
        self.args = args
        self.paper = paper or {}
        out = getattr(args, 'out', None)
        if out is None:
            stamp = time.strftime('%Y%m%d-%H%M%S')
            out = os.path.join('runs', f'{name}-{args.backward}-{stamp}')
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.history: List[Dict[str, Any]] = []
        self.start = time.perf_counter()
        self.quiet = bool(getattr(args, 'quiet', False))

    def log(self, epoch: int, **metrics: Any) -> None:
        r"""Records and prints the metrics of one epoch."""
        row = dict(epoch=epoch, time_s=time.perf_counter() - self.start)
        row.update({k: _plain(v) for k, v in metrics.items()})
        self.history.append(row)
        parts = [f'Epoch {epoch:03d}']
        for k, v in metrics.items():
            parts.append(f'{k} {v:.4f}' if isinstance(v, float) else
                         f'{k} {v}')
        print(' | '.join(parts), flush=True)

    def finish(self, plots: Sequence[str] = (), **final: Any) -> Dict[
            str, Any]:
        r"""Writes :obj:`metrics.json` and a plot of the curves named in
        :obj:`plots`, prints the final metrics beside the paper's, and
        returns the metrics dictionary."""
        wall = time.perf_counter() - self.start
        result = dict(experiment=self.name, args=_plain(vars(self.args)),
                      final={k: _plain(v) for k, v in final.items()},
                      paper=self.paper, wall_time_s=wall,
                      history=self.history)
        with open(os.path.join(self.out, 'metrics.json'), 'w') as f:
            json.dump(result, f, indent=2)
        if plots:
            self.plot(plots)
        print(f'{self.name}: done in {wall:.1f} s, results in {self.out}')
        for k, v in final.items():
            ref = self.paper.get(k)
            ours = f'{v:.4f}' if isinstance(v, float) else f'{v}'
            print(f'  {k:24s} ours {ours:>12s}' +
                  (f'   paper {ref}' if ref is not None else ''))
        return result

    def plot(self, keys: Sequence[str]) -> Optional[str]:
        r"""Plots the per-epoch curves of :obj:`keys` (one panel each) to
        :obj:`<out>/curves.png`; needs matplotlib (extra :obj:`plot`)."""
        plt = import_pyplot()
        keys = [k for k in keys if any(k in row for row in self.history)]
        if not keys:
            return None
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3),
                                 squeeze=False)
        for ax, key in zip(axes[0], keys):
            pts = [(r['epoch'], r[key]) for r in self.history if key in r]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='o')
            ax.set_xlabel('epoch')
            ax.set_title(key)
            ax.grid(alpha=0.3)
        fig.suptitle(f'{self.name} ({self.args.backward})')
        fig.tight_layout()
        path = os.path.join(self.out, 'curves.png')
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def import_pyplot() -> Any:
    r"""Imports :mod:`matplotlib.pyplot` with the Agg backend, or raises an
    :class:`ImportError` naming the extra to install."""
    try:
        import matplotlib
    except ImportError as e:  # pragma: no cover
        raise ImportError("Plots need matplotlib: pip install "
                          "'pyg_identity[plot]'") from e
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
