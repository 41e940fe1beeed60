r"""Shared plumbing of the paper-experiment scripts: the common flags, seeding,
per-epoch logging, the metrics JSON, training-curve plots, the paper's
number beside ours and :class:`Distributed` for runs under :obj:`torchrun`."""
import argparse
import atexit
import contextlib
import functools
import json
import os
import random
import re
import sys
import time
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np
import torch

from pyg_identity.nn.functional.settings import BACKWARDS, IMLE_NOISES
from pyg_identity.projection import validate_mode
from pyg_identity.utils.collapse import CollapseMonitor
from pyg_identity.utils.plot import import_pyplot

# Argument types ##############################################################
# argparse prints "argument --x: <message>" for an ArgumentTypeError, but
# "invalid <function name> value" for any other exception: every type below
# raises the former, naming what it expected and what it got.


def _projection(value: str) -> Optional[str]:
    try:
        return validate_mode(value, 'projection')
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _number(value: str, what: str, cast: Any, low: Optional[float]) -> Any:
    try:
        x = cast(value)
    except ValueError:
        x = None
    if x is None or x != x or (low is not None and not x >= low):
        raise argparse.ArgumentTypeError(f'expected {what}, got {value!r}')
    return x


def _float(value: str) -> float:
    return _number(value, 'a number', float, None)


def _non_negative(value: str) -> float:
    return _number(value, 'a non-negative number', float, 0.0)


def _positive(value: str) -> float:
    x = _float(value)
    if not (x > 0 and x != float('inf')):
        raise argparse.ArgumentTypeError(f'expected a positive number, got '
                                         f'{value!r}')
    return x


def _unit_interval(value: str) -> float:
    x = _float(value)
    if not 0.0 <= x < 1.0:
        raise argparse.ArgumentTypeError(f'expected a number in [0, 1), got '
                                         f'{value!r}')
    return x


def _int(value: str) -> int:
    return _number(value, 'an integer', int, None)


def _non_negative_int(value: str) -> int:
    return _number(value, 'a non-negative integer', int, 0)


def _positive_int(value: str) -> int:
    return _number(value, 'a positive integer', int, 1)


# Help text ###################################################################

_LATEX = [
    (r'\times', '×'), (r'\cdot', '·'), (r'\langle', '⟨'), (r'\rangle', '⟩'),
    (r'\hat{y}', 'ŷ'), (r'\lambda', 'λ'), (r'\alpha', 'α'),
    (r'\sigma', 'σ'), (r'\rho', 'ρ'), (r'\partial', '∂'), (r'\ell', 'ℓ'),
    (r'\sum', 'Σ'), (r'\mathcal', ''), (r'\text', ''), (r'\,', ' '),
]


def _plain_math(tex: str) -> str:
    for old, new in _LATEX:
        tex = tex.replace(old, new)
    tex = re.sub(r'\^\{([^{}]*)\}', r'^\1', tex).replace('^*', '*')
    tex = tex.replace('{', '').replace('}', '').replace('\\', '')
    return re.sub(r'⟨\s*', '⟨', re.sub(r'\s*⟩', '⟩', tex))


def plain_text(text: str) -> str:
    r"""Returns :obj:`text` (a docstring) without its reST markup, for
    :obj:`--help`: roles such as :obj:`:class:` become their target's last
    name, :obj:`:math:` becomes plain Unicode (:math:`\lambda` → λ),
    literals and links lose their quotes."""
    text = re.sub(r':math:`([^`]*)`', lambda m: _plain_math(m.group(1)),
                  text)
    text = re.sub(r':[a-z]+:`(~?)([^`]*)`',
                  lambda m: m.group(2).rsplit('.', 1)[-1] if m.group(1)
                  else m.group(2), text)
    text = re.sub(r'`([^`<]*?)\s*<([^>]+)>`_', r'\1 (\2)', text)
    text = text.replace('``', '')
    return ' '.join(text.split())


def describe(doc: Optional[str]) -> str:
    r"""The first paragraph of a module docstring as plain text (the
    :obj:`--help` description of an experiment)."""
    return plain_text((doc or '').strip().split('\n\n')[0])


class HelpFormatter(argparse.HelpFormatter):
    r"""Appends :obj:`(default: ...)` to the help of every option that
    takes a value, unless the help already states its default (options
    whose default is :obj:`None` must say it in words)."""
    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        text = action.help or ''
        if ('(default' in text or action.default is argparse.SUPPRESS
                or action.default is None or not action.option_strings
                or action.nargs == 0):
            return text
        value = action.default
        if isinstance(value, (list, tuple)):
            value = ' '.join(str(v) for v in value)
        value = str(value).replace('%', '%%')
        return f'{text} (default: {value})'.lstrip()


class ArgumentParser(argparse.ArgumentParser):
    r"""An :class:`argparse.ArgumentParser` whose usage errors are one line
    on stderr (:obj:`PROG: error: MESSAGE (see PROG --help)`), status 2."""
    def error(self, message: str) -> 'NoReturn':  # type: ignore[override]
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} '
                  f'--help)\n')


class _DeprecatedAlias(argparse.Action):
    r"""A hidden old spelling of an option: stores into the new option's
    destination and prints a one-line notice to stderr."""
    def __init__(self, option_strings: Sequence[str], dest: str,
                 new: str = '', **kwargs: Any) -> None:
        self.new = new
        kwargs.update(default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        print(f'{parser.prog}: warning: {option_string} is deprecated and '
              f'will be removed in the next release; use {self.new}',
              file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else
                values)


def add_alias(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    r"""Keeps :obj:`old` as a hidden, deprecated spelling of the option
    :obj:`new` (already added to :obj:`parser`) for one release."""
    action = next(a for a in parser._actions if new in a.option_strings)
    kwargs: Dict[str, Any] = dict(nargs=action.nargs, const=action.const,
                                  metavar=action.metavar)
    if action.type is not None:
        kwargs['type'] = action.type
    parser.add_argument(old, action=_DeprecatedAlias, dest=action.dest,
                        new=new, **kwargs)


# Missing data ################################################################


class DataNotFoundError(FileNotFoundError):
    r"""The files of a dataset are missing; the :obj:`pyg-identity` command
    prints it as a one-line error."""


@contextlib.contextmanager
def missing_data(name: str, root: Optional[str], folder: str,
                 downloadable: bool = True) -> Iterator[None]:
    r"""Turns the error of a dataset whose files are missing under
    :obj:`root` (the datasets name :obj:`download=True` in it) into a
    :class:`DataNotFoundError` that says which flags fix it.

    Args:
        name (str): The dataset's name in the message, *e.g.*
            :obj:`"MNIST"`.
        root (str, optional): The :obj:`--root` flag.
        folder (str): The dataset's folder name under the default root.
        downloadable (bool, optional): Whether the experiment takes
            :obj:`--download`. (default: :obj:`True`)
    """
    try:
        yield
    except (ValueError, RuntimeError) as e:
        message = str(e)
        if isinstance(e, ValueError) and 'download=True' not in message:
            raise
        if isinstance(e, RuntimeError) and not message.startswith(
                'Could not download'):
            raise
        from pyg_identity.datasets._utils import check_root
        where = check_root(root, folder)
        if isinstance(e, RuntimeError):
            raise DataNotFoundError(f'{name} not found under {where} and '
                                    f'the download failed ({message}); '
                                    f'pass --root PATH') from e
        fix = 'pass --download or --root PATH' if downloadable else \
            'pass --root PATH'
        raise DataNotFoundError(f'{name} not found under {where}; '
                                f'{fix}') from e


def root_help(folder: str, what: str = 'dataset root') -> str:
    r"""The help of a :obj:`--root` flag: :obj:`what` and the default
    folder of the dataset :obj:`folder` on this install."""
    from pyg_identity.datasets import default_root
    return f'{what} (default: {default_root(folder)})'


def add_download(parser: argparse.ArgumentParser, what: str) -> None:
    r"""Adds :obj:`--download` (fetch :obj:`what` if missing)."""
    parser.add_argument('--download', action='store_true',
                        help=f'download {what} into --root if missing')


def add_save(parser: argparse.ArgumentParser) -> None:
    r"""Adds :obj:`--save PATH` (the trained state dict, float32)."""
    parser.add_argument('--save', default=None, metavar='PATH',
                        help='save the trained state dict (float32) here '
                        '(default: not saved)')


def add_threads(parser: argparse.ArgumentParser,
                why: str = 'on a busy machine') -> None:
    r"""Adds :obj:`--threads N` (torch CPU threads; 1 is fastest
    :obj:`why`)."""
    parser.add_argument('--threads', type=_positive_int, default=None,
                        help='torch CPU threads (default: torch\'s; 1 is '
                        f'fastest {why})')


def add_num_plots(parser: argparse.ArgumentParser, what: str) -> None:
    r"""Adds :obj:`--num-plots N` (:obj:`what`: the examples drawn)."""
    parser.add_argument('--num-plots', type=_non_negative_int, default=4,
                        help=what)


def add_label_workers(parser: argparse.ArgumentParser) -> None:
    r"""Adds :obj:`--num-workers N` (alias :obj:`--workers`): the processes
    that generate the labels of a TSP dataset."""
    parser.add_argument('--num-workers', type=_non_negative_int,
                        default=None, help='processes generating the labels '
                        '(default: all cores; 0 under --tiny)')
    add_alias(parser, '--workers', '--num-workers')


def add_mnist(parser: argparse.ArgumentParser, data_help: str) -> None:
    r"""Adds the MNIST flags: :obj:`--root`, :obj:`--download` and
    :obj:`--data {auto,full,test-only}` (:obj:`data_help`: what the choices
    mean)."""
    parser.add_argument('--root', default=None, metavar='DIR',
                        help=root_help('mnist',
                                       'folder of the MNIST IDX files'))
    add_download(parser, 'the MNIST IDX files (about 11 MB)')
    parser.add_argument('--data', default='auto',
                        choices=['auto', 'full', 'test-only'],
                        help=data_help)


# Run-time estimate ###########################################################

#: Print an estimate of the run time after the first epoch if it exceeds
#: this many seconds.
LONG_RUN_S = 600.0


def format_duration(seconds: float) -> str:
    r"""Seconds as :obj:`"23 s"`, :obj:`"38 min"` or :obj:`"2.5 h"`."""
    if seconds < 120:
        return f'{seconds:.0f} s'
    if seconds < 2 * 3600:
        return f'{seconds / 60:.0f} min'
    return f'{seconds / 3600:.1f} h'


def run_time_estimate(epoch_s: float, epochs: int,
                      threshold_s: float = LONG_RUN_S) -> Optional[str]:
    r"""The line printed after the first of :obj:`epochs` epochs took
    :obj:`epoch_s` seconds, or :obj:`None` if the whole run is estimated
    to take at most :obj:`threshold_s` seconds."""
    total = epoch_s * epochs
    if epochs <= 1 or total <= threshold_s:
        return None
    return (f'epoch 1 took {format_duration(epoch_s)}; {epochs} epochs ≈ '
            f'{format_duration(total)} (pass --epochs N for a shorter run)')


def base_parser(description: str, *, epochs: int, projection: Optional[str],
                name: Optional[str] = None,
                noise: float = 0.0, noise_epochs: Optional[int] = None,
                noise_epochs_default: str = 'all epochs',
                lambda_: float = 20.0, lr: float = 1e-3,
                batch_size: int = 32,
                lr_milestones: Optional[Sequence[int]] = None,
                lr_gamma: float = 0.1,
                adam_betas: Tuple[float, float] = (0.9, 0.999),
                adam_eps: float = 1e-8) -> argparse.ArgumentParser:
    r"""Returns an :class:`argparse.ArgumentParser` with the flags every
    experiment takes: :obj:`--backward`, :obj:`--projection`,
    :obj:`--noise`, :obj:`--noise-epochs`, :obj:`--noise-position`,
    :obj:`--lambda`, :obj:`--sigma`, :obj:`--num-samples`,
    :obj:`--imle-noise`, :obj:`--epochs`, :obj:`--lr`, :obj:`--lr-milestones`,
    :obj:`--lr-gamma`, :obj:`--adam-betas`, :obj:`--adam-eps`,
    :obj:`--batch-size`, :obj:`--seed`,
    :obj:`--out`, :obj:`--tiny` and :obj:`--quiet`; defaults are the
    experiment's. Its program name is :obj:`pyg-identity train NAME` and its
    help shows every option's default once (:class:`HelpFormatter`)."""
    p = ArgumentParser(
        prog=f'pyg-identity train {name}' if name else None,
        usage='%(prog)s [-h] [options]',
        description=plain_text(description),
        formatter_class=HelpFormatter)
    p.add_argument('--backward', default='identity',
                   choices=list(BACKWARDS),
                   help='gradient estimator of the solver layer (see '
                   'GradientSettings)')
    p.add_argument('--projection', type=_projection,
                   default='none' if projection is None else projection,
                   metavar='{none,mean,norm,std}',
                   help='per-graph projection of the costs before the '
                   'solver')
    p.add_argument('--noise', type=_non_negative, default=noise,
                   metavar='ALPHA',
                   help='noise margin alpha, in training only')
    p.add_argument('--noise-epochs', type=_non_negative_int,
                   default=noise_epochs, metavar='N',
                   help='apply the noise during the first N epochs only '
                   f'(default: {noise_epochs_default})')
    p.add_argument('--noise-position', default='before',
                   choices=['before', 'after'],
                   help='add the margin to the raw costs (before the '
                   'projection; it keeps them from collapsing) or to the '
                   'projected costs')
    p.add_argument('--lambda', dest='lambda_', type=_non_negative,
                   default=lambda_, metavar='LAMBDA',
                   help='Blackbox interpolation strength and I-MLE target '
                   'strength')
    p.add_argument('--sigma', type=_positive, default=1.0,
                   help='perturbation scale of --backward perturbed '
                   '(Gaussian std) and imle (noise temperature), on the '
                   'projected costs')
    p.add_argument('--num-samples', type=_positive_int, default=1,
                   metavar='M',
                   help='perturbation samples per step of --backward '
                   'perturbed and imle')
    p.add_argument('--imle-noise', default='gumbel', choices=list(IMLE_NOISES),
                   help='noise of --backward imle')
    p.add_argument('--epochs', type=_positive_int, default=epochs,
                   help='training epochs')
    p.add_argument('--lr', type=_non_negative, default=lr,
                   help='learning rate')
    p.add_argument('--lr-milestones', type=_positive_int, nargs='*',
                   default=lr_milestones, metavar='EPOCH',
                   help='multiply the learning rate by --lr-gamma after '
                   'each of these epochs (step decays)' +
                   ('' if lr_milestones else ' (default: none)'))
    p.add_argument('--lr-gamma', type=_non_negative, default=lr_gamma,
                   help='the factor of each step decay')
    p.add_argument('--adam-betas', type=_unit_interval, nargs=2,
                   default=list(adam_betas), metavar=('BETA1', 'BETA2'),
                   help='Adam\'s moment decays')
    p.add_argument('--adam-eps', type=_positive, default=adam_eps,
                   help='Adam\'s denominator term (large values damp the '
                   'steps of small, rare gradients)')
    p.add_argument('--batch-size', type=_positive_int, default=batch_size,
                   help='examples per training step')
    p.add_argument('--seed', type=_int, default=0,
                   help='seed of the model initialisation, the noise and '
                   'the data order')
    p.add_argument('--out', default=None, metavar='DIR',
                   help='run folder for metrics.json and plots (default: '
                   'runs/<experiment>-<backward>-<time>)')
    p.add_argument('--tiny', action='store_true',
                   help='a seconds-long setting for smoke tests and CI')
    p.add_argument('--quiet', action='store_true',
                   help='no progress bars')
    # Tests of distributed runs: every rank saves its final state dict to
    # DIR/rank{r}.pt (so that the ranks can be compared).
    p.add_argument('--save-ranks', default=None, metavar='DIR',
                   help=argparse.SUPPRESS)
    return p


def gradient_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    r"""The :class:`~pyg_identity.nn.functional.GradientSettings` keyword
    arguments of an experiment's solver layer from its flags (projection,
    noise position, backward, :math:`\lambda`, :math:`\sigma`, samples,
    I-MLE noise) with :obj:`diagnostics=True`; the one place every
    experiment's model construction reads them (the noise margin itself is
    passed, and scheduled, by the experiment)."""
    return dict(projection=args.projection,
                noise_position=args.noise_position, backward=args.backward,
                lambda_=args.lambda_, sigma=args.sigma,
                num_samples=args.num_samples, imle_noise=args.imle_noise,
                diagnostics=True)


def solver_calls(diagnostics: Any) -> Optional[int]:
    r"""The solver calls of the last step that :obj:`diagnostics` recorded
    (:obj:`None` if it does not count them)."""
    calls = getattr(diagnostics, 'solver_calls', None)
    return None if calls is None else int(calls)


def start_run(args: argparse.Namespace,
              noise_epochs: Optional[int] = None) -> 'Distributed':
    r"""The start of a training run with :func:`add_threads`'s option:
    :obj:`args.noise_epochs` set to :obj:`noise_epochs` if it is unset and
    one is given, torch's CPU threads (:obj:`args.threads`, if given), a
    :class:`Distributed` session and the seeds (:obj:`args.seed`)."""
    if noise_epochs is not None and args.noise_epochs is None:
        args.noise_epochs = noise_epochs
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    ddp = Distributed()
    seed_everything(args.seed)
    return ddp


def timed_epochs(epochs: int, train: Callable[[int], Any], diagnostics: Any,
                 scheduler: Optional[Any] = None) -> Iterator[
                     Tuple[int, Any, Optional[int], float]]:
    r"""Runs :obj:`train(epoch)` for the epochs :obj:`1, ..., epochs` and
    yields, after the :obj:`scheduler` step (if any), :obj:`(epoch, what
    train returned, the solver calls of its last step (see
    :func:`solver_calls`), its wall-clock seconds)`."""
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        stats = train(epoch)
        calls = solver_calls(diagnostics)  # last step
        seconds = time.perf_counter() - start
        if scheduler is not None:
            scheduler.step()
        yield epoch, stats, calls, seconds


def seed_everything(seed: int) -> None:
    r"""Seeds Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def adam(params: Any, args: argparse.Namespace,
         **kwargs: Any) -> torch.optim.Adam:
    r"""The :class:`torch.optim.Adam` of an experiment: :obj:`args.lr`,
    :obj:`args.adam_betas` and :obj:`args.adam_eps` (:func:`base_parser`'s
    flags), with any further keyword arguments (e.g. :obj:`weight_decay`)."""
    beta1, beta2 = args.adam_betas
    return torch.optim.Adam(params, lr=args.lr, betas=(beta1, beta2),
                            eps=args.adam_eps, **kwargs)


def lr_scheduler(optimizer: torch.optim.Optimizer,
                 args: argparse.Namespace) -> Optional[Any]:
    r"""A :class:`~torch.optim.lr_scheduler.MultiStepLR` for
    :obj:`args.lr_milestones` and :obj:`args.lr_gamma` (step it once per
    epoch), or :obj:`None` if no milestones are set."""
    milestones = getattr(args, 'lr_milestones', None)
    if not milestones:
        return None
    return torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=sorted(milestones), gamma=args.lr_gamma)


def graph_norms(values: torch.Tensor, index: torch.Tensor,
                num_graphs: int) -> torch.Tensor:
    r"""The L2 norm of :obj:`values` per graph of :obj:`index` (to compare
    the raw cost norm of a model with the norm of the true costs)."""
    from torch_geometric.utils import scatter
    sq = scatter(values.reshape(values.size(0), -1).pow(2).sum(-1), index, 0,
                 dim_size=num_graphs, reduce='sum')
    return sq.sqrt()


def mean_graph_norm(dataset: Any, costs: Callable[[Any], Tuple[
        torch.Tensor, torch.Tensor]], batch_size: int = 500) -> float:
    r"""The mean over the graphs of :obj:`dataset` of the L2 norm of their
    true costs, where :obj:`costs(batch)` returns the costs of a batch and
    the graph of every entry (the norm a model's raw costs would have if it
    had learned the true costs)."""
    from torch_geometric.loader import DataLoader
    norms = [graph_norms(*costs(d), d.num_graphs)
             for d in DataLoader(dataset, batch_size=batch_size)]
    return float(torch.cat(norms).mean())


class EpochNorm:
    r"""Averages the raw cost norm that a solver layer's diagnostics record
    at every training step over one epoch (:meth:`add` per step,
    :meth:`pop` at the end of the epoch; NaN if nothing was recorded)."""
    def __init__(self, diagnostics: Any) -> None:
        self.diagnostics = diagnostics
        self.total = 0.0
        self.steps = 0

    def add(self) -> None:
        norm = getattr(self.diagnostics, 'cost_norm', None)
        if norm is not None:
            self.total += float(norm)
            self.steps += 1

    def pop(self) -> float:
        out = self.total / self.steps if self.steps else float('nan')
        self.total, self.steps = 0.0, 0
        return out


def noise_for_epoch(args: argparse.Namespace, epoch: int) -> float:
    r"""The noise margin to use in :obj:`epoch` (1-based): :obj:`args.noise`
    during the first :obj:`args.noise_epochs` epochs (all if unset), then
    :obj:`0` (the paper switches it off after half of the TSP training)."""
    if args.noise_epochs is not None and epoch > args.noise_epochs:
        return 0.0
    return float(args.noise)


# The process groups of this process, released at exit (see Distributed).
_KEPT_GROUPS: List[Any] = []


def _release_groups() -> None:
    _KEPT_GROUPS.clear()


class Distributed:
    r"""Data-parallel training under :obj:`torchrun --nproc_per_node N`
    with :class:`~torch.nn.parallel.DistributedDataParallel` (gloo backend,
    CPU). Outside :obj:`torchrun` (:obj:`WORLD_SIZE` unset or 1) it is
    disabled and every method is a no-op that keeps the single-process
    behaviour.

    A script creates one instance (it joins the process group), lets rank 0
    prepare the data first (:meth:`main_first`), wraps its model
    (:meth:`wrap`), gives every rank its shard of the training set
    (:meth:`sampler` for datasets, :meth:`shard` for tensors), logs and
    evaluates on the main rank only (:attr:`is_main`) and calls
    :meth:`close` at the end."""
    def __init__(self) -> None:
        self.world_size = int(os.environ.get('WORLD_SIZE', '1'))
        self.enabled = self.world_size > 1
        self.rank = 0
        if self.enabled:
            import torch.distributed as dist
            if not dist.is_initialized():
                dist.init_process_group('gloo')
            self.rank = dist.get_rank()
            # Keep the group alive until exit. Otherwise the wrapped model's
            # C++ reducer may hold its last reference, and freeing the model
            # (when the script's main() returns) then destroys the gloo group
            # with the GIL held: its destructor joins the worker threads,
            # and one still releasing a finished collective's tensors waits
            # for the GIL forever (seen on a loaded machine: a rank hung at
            # exit in ~ProcessGroupGloo, thread.join). Released at exit,
            # through the Python binding, the group is destroyed with the
            # GIL released.
            if not _KEPT_GROUPS:
                atexit.register(_release_groups)
            _KEPT_GROUPS.append(dist.group.WORLD)

    @property
    def is_main(self) -> bool:
        r"""Whether this process is rank 0 (the one that logs and writes)."""
        return self.rank == 0

    def barrier(self) -> None:
        r"""Waits for all ranks (no-op when disabled)."""
        if self.enabled:
            import torch.distributed as dist
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        r"""A context in which rank 0 runs first (e.g. generating and
        caching a dataset) and the other ranks after it (loading it)."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def wrap(self, model: torch.nn.Module, seed: Optional[int] = None,
             find_unused_parameters: bool = False) -> torch.nn.Module:
        r"""Returns :obj:`model` wrapped in
        :class:`~torch.nn.parallel.DistributedDataParallel` (which copies
        rank 0's parameters to all ranks), or :obj:`model` itself when
        disabled. With :obj:`seed`, reseeds every rank with
        :obj:`seed + rank` afterwards (a different noise per rank)."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(
            model, find_unused_parameters=find_unused_parameters)
        if seed is not None:
            seed_everything(seed + self.rank)
        return net

    def sampler(self, dataset: Any, seed: int) -> Optional[Any]:
        r"""A :class:`~torch.utils.data.distributed.DistributedSampler` of
        :obj:`dataset` (shuffled; every rank gets the same number of
        examples, hence of steps), or :obj:`None` when disabled. Call its
        :meth:`set_epoch` every epoch (see :meth:`set_epoch`)."""
        if not self.enabled:
            return None
        from torch.utils.data.distributed import DistributedSampler
        return DistributedSampler(dataset, num_replicas=self.world_size,
                                  rank=self.rank, shuffle=True, seed=seed)

    @staticmethod
    def set_epoch(sampler: Optional[Any], epoch: int) -> None:
        r"""Calls :obj:`sampler.set_epoch(epoch)` unless :obj:`sampler` is
        :obj:`None`."""
        if sampler is not None:
            sampler.set_epoch(epoch)

    def shard(self, n: int, seed: int, epoch: int) -> torch.Tensor:
        r"""The shuffled indices of an :obj:`n`-example tensor dataset that
        this rank trains on in :obj:`epoch`: a permutation drawn from a
        generator seeded by :obj:`seed + epoch` (the same on every rank),
        split :obj:`rank::world_size` and truncated to
        :obj:`n // world_size` so that all ranks run the same number of
        steps. When disabled, :obj:`torch.randperm(n)` from the global
        generator (the single-process behaviour)."""
        if not self.enabled:
            return torch.randperm(n)
        gen = torch.Generator().manual_seed(seed + epoch)
        perm = torch.randperm(n, generator=gen)
        return perm[self.rank::self.world_size][:n // self.world_size]

    def final_metrics(self) -> Dict[str, Any]:
        r"""The extra final metrics of a distributed run
        (:obj:`world_size`); empty when disabled, so that single-process
        runs write the same metrics as before."""
        return dict(world_size=self.world_size) if self.enabled else {}

    def sync_buffers(self, model: torch.nn.Module) -> None:
        r"""Copies rank 0's buffers (e.g. batch-norm running statistics) to
        all ranks. :class:`~torch.nn.parallel.DistributedDataParallel`
        broadcasts them at the start of every forward pass only, so after
        the last training step each rank holds its own; call this once
        after training so that all ranks end with the same state."""
        if not self.enabled:
            return
        import torch.distributed as dist
        model = getattr(model, 'module', model)
        for buf in model.buffers():
            dist.broadcast(buf.data, src=0)

    def save_rank(self, model: torch.nn.Module,
                  directory: Optional[str]) -> None:
        r"""Saves :obj:`model.state_dict()` to :obj:`directory/rank{r}.pt`
        (the hidden :obj:`--save-ranks` flag); no-op if :obj:`directory`
        is :obj:`None`."""
        if directory is None:
            return
        os.makedirs(directory, exist_ok=True)
        model = getattr(model, 'module', model)
        torch.save(model.state_dict(),
                   os.path.join(directory, f'rank{self.rank}.pt'))

    def end_training(self, model: torch.nn.Module,
                     save_ranks: Optional[str]) -> None:
        r"""After the last epoch: :meth:`sync_buffers`, then
        :meth:`save_rank` into :obj:`save_ranks` (the hidden
        :obj:`--save-ranks` flag)."""
        self.sync_buffers(model)
        self.save_rank(model, save_ranks)

    def close(self) -> None:
        r"""Waits for all ranks and leaves the process group."""
        if self.enabled:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.barrier()
                dist.destroy_process_group()
            self.enabled = False


# Training, evaluation and saving ###########################################


def train_epoch(batches: Iterable[Any], optimizer: torch.optim.Optimizer,
                loss_of: Callable[[Any], Tuple[torch.Tensor, float]], *,
                norm: Optional['EpochNorm'] = None,
                after_step: Optional[Callable[[], None]] = None,
                desc: str = 'train', progress: bool = True) -> float:
    r"""One training pass: for every batch of :obj:`batches`, the gradient
    of :obj:`loss, weight = loss_of(batch)` and an :obj:`optimizer` step,
    then :obj:`norm.add()` and :obj:`after_step()` (if given). Returns the
    mean loss, weighted by :obj:`weight` (e.g. the graphs of a batch).

    Args:
        batches (iterable): The batches (a loader, or a list).
        optimizer (torch.optim.Optimizer): The optimizer.
        loss_of (callable): Maps a batch to its loss (a scalar tensor) and
            its weight in the mean.
        norm (EpochNorm, optional): Records the raw cost norm of every
            step. (default: :obj:`None`)
        after_step (callable, optional): Called after every step.
            (default: :obj:`None`)
        desc (str, optional): The progress bar's label.
            (default: :obj:`"train"`)
        progress (bool, optional): Show a progress bar.
            (default: :obj:`True`)
    """
    from tqdm import tqdm
    total = count = 0.0
    for batch in tqdm(batches, desc=desc, leave=False, disable=not progress):
        optimizer.zero_grad()
        loss, weight = loss_of(batch)
        loss.backward()
        optimizer.step()
        if norm is not None:
            norm.add()
        if after_step is not None:
            after_step()
        total += float(loss.detach()) * weight
        count += weight
    return total / max(count, 1)


def tour_loss(y: torch.Tensor, data: Any, form: str = 'l1') -> torch.Tensor:
    r"""The Hamming loss of the predicted tour indicator :obj:`y` to the
    optimal tour :obj:`data.y`, summed per graph and averaged over the
    graphs, in the :obj:`form` of :func:`hamming_loss`."""
    from pyg_identity import edge_batch
    from pyg_identity.nn.functional import hamming_loss
    return hamming_loss(y, data.y, edge_batch(data.batch, data.edge_index),
                        data.num_graphs, form=form)


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    r"""A context in which :obj:`model` is in evaluation mode and no
    gradients are recorded; restores the model's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def first_batch(dataset: Any, num: int,
                follow_batch: Optional[List[str]] = None) -> Any:
    r"""The first :obj:`num` examples of :obj:`dataset` (at most all of
    them) as one PyG batch (for the plots)."""
    from torch_geometric.loader import DataLoader
    num = min(num, len(dataset))
    return next(iter(DataLoader(dataset[:num], batch_size=num,
                                follow_batch=follow_batch)))


def plot_first_tours(model: torch.nn.Module, dataset: Any, path: str,
                     num: int,
                     forward: Callable[[torch.nn.Module, Any], torch.Tensor],
                     points: Callable[[Any], torch.Tensor],
                     titles: Callable[[torch.Tensor, Any], List[str]],
                     **kwargs: Any) -> Optional[str]:
    r"""Plots the predicted (red) and optimal (grey) tours of the first
    :obj:`num` examples of :obj:`dataset` (:func:`first_batch`) with
    :func:`~pyg_identity.utils.plot_tours` into :obj:`path`: the tours
    :obj:`y = forward(model, data)` (in evaluation mode), the nodes at
    :obj:`points(data)`, one panel title per graph from :obj:`titles(y,
    data)`, and :obj:`**kwargs` for :func:`plot_tours`. Returns the path, or
    :obj:`None` (nothing plotted) if :obj:`num <= 0`."""
    from pyg_identity.utils.plot import plot_tours
    if num <= 0:
        return None
    data = first_batch(dataset, num)
    with evaluating(model):
        y = forward(model, data)
    return plot_tours(points(data), data.edge_index, y, data.y, data.ptr,
                      path, titles=titles(y, data), **kwargs)


def save_state_dict(model: torch.nn.Module, path: Optional[str]) -> None:
    r"""Saves :obj:`model.state_dict()` to :obj:`path` (its folder created),
    floating-point tensors as float32, everything on the CPU; nothing
    without a :obj:`path` (:obj:`--save` not given)."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({k: v.detach().float().cpu() if v.is_floating_point() else
                v.detach().cpu() for k, v in model.state_dict().items()},
               path)


def save_figure(fig: Any, path: str, dpi: int = 100,
                rect: Optional[Tuple[float, float, float, float]] = None
                ) -> str:
    r"""Lays out (within :obj:`rect`, a figure legend's room left free),
    saves (to :obj:`path`, returned) and closes a matplotlib figure."""
    import matplotlib.pyplot as plt
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


#: The projections of the ablations (none, mean, norm, std).
PROJECTIONS: Tuple[Optional[str], ...] = (None, 'mean', 'norm', 'std')


@contextlib.contextmanager
def distributed(ddp: Optional['Distributed'] = None) -> Iterator[
        'Distributed']:
    r"""Yields :obj:`ddp`, or a new :class:`Distributed` that is closed on
    exit (for a run that may be one of several in a process)."""
    if ddp is not None:
        yield ddp
        return
    ddp = Distributed()
    try:
        yield ddp
    finally:
        ddp.close()


def in_session(run: Callable[[argparse.Namespace, Any, 'Distributed'],
                              Dict[str, Any]]
               ) -> Callable[..., Dict[str, Any]]:
    r"""Makes :obj:`run(args, data, ddp)` callable as :obj:`run(args,
    data=None, ddp=None)`: without :obj:`ddp`, in a :class:`Distributed`
    session of its own (:func:`distributed`)."""
    @functools.wraps(run)
    def wrapper(args: argparse.Namespace, data: Any = None,
                ddp: Optional['Distributed'] = None) -> Dict[str, Any]:
        with distributed(ddp) as session:
            return run(args, data, session)

    return wrapper


def projection_ablation(name: str, args: argparse.Namespace,
                        run: Callable[..., Dict[str, Any]],
                        load_data: Callable[[argparse.Namespace], Any],
                        ddp: Optional['Distributed'] = None) -> Tuple[
                            str, Dict[str, Dict[str, Any]]]:
    r"""Runs :obj:`run(sub_args, data, ddp)` once per projection of
    :obj:`PROJECTIONS` into sub-folders of the ablation's folder
    (:obj:`args.out`, or a new one under :obj:`runs/`), on the data
    :obj:`load_data(args)` loaded once. Returns the folder and the results
    by projection name (:obj:`"None"`, :obj:`"mean"`, ...), empty on ranks
    other than 0."""
    out = args.out or os.path.join(
        'runs', f'{name}-ablation-{args.backward}-'
        f'{time.strftime("%Y%m%d-%H%M%S")}')
    os.makedirs(out, exist_ok=True)
    results: Dict[str, Dict[str, Any]] = {}
    with distributed(ddp) as ddp:
        data = load_data(args)
        for projection in PROJECTIONS:
            sub = argparse.Namespace(**vars(args))
            sub.projection = projection
            sub.out = os.path.join(out, str(projection))
            results[str(projection)] = run(sub, data, ddp)
        main = ddp.is_main
    return out, results if main else {}


class RunLogger:
    r"""One log line per epoch, a metrics JSON and training-curve plots in a
    run folder.

    Args:
        name (str): The experiment name.
        args (argparse.Namespace): The parsed flags (stored in the JSON).
        paper (dict, optional): The paper's numbers, printed beside ours.
        paper_note (str, optional): How this run's data differs from the
            paper's, printed under the paper's numbers (*e.g.* a stand-in
            dataset of the paper's task). (default: :obj:`None`)
        epochs (int, optional): The number of epochs of the run, for the
            run-time estimate printed to stderr after the first epoch when
            the run looks long (:obj:`LONG_RUN_S`). (default:
            :obj:`args.epochs`)
        cost_reference (float, optional): The true costs' norm per graph,
            where the raw costs are on its scale: the collapse watch then
            also warns when the raw costs stay far below it (see
            :class:`~pyg_identity.utils.CollapseMonitor`).
            (default: :obj:`None`)
    """
    def __init__(self, name: str, args: argparse.Namespace,
                 paper: Optional[Dict[str, Any]] = None,
                 epochs: Optional[int] = None,
                 paper_note: Optional[str] = None,
                 cost_reference: Optional[float] = None) -> None:
        self.name = name
        # Every logged 'cost_norm' feeds the collapse watch.
        self.monitor = CollapseMonitor(reference=cost_reference)
        self.paper_note = paper_note
        self.epochs = epochs if epochs is not None else getattr(
            args, 'epochs', None)
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
        r"""Records and prints the metrics of one epoch (a :obj:`cost_norm`
        among them also goes to the collapse watch :obj:`monitor`, which
        warns once); after epoch 1, also prints an estimate of the run time
        to stderr if it is long."""
        row = dict(epoch=epoch, time_s=time.perf_counter() - self.start)
        note = None
        if epoch == 1 and self.epochs:
            since = self.history[-1]['time_s'] if self.history else 0.0
            note = run_time_estimate(row['time_s'] - since, self.epochs)
        row.update({k: _plain(v) for k, v in metrics.items()})
        self.history.append(row)
        if 'cost_norm' in metrics:
            self.monitor.update(epoch, float(metrics['cost_norm']))
        parts = [f'Epoch {epoch:03d}']
        for k, v in metrics.items():
            parts.append(f'{k} {v:.4f}' if isinstance(v, float) else
                         f'{k} {v}')
        print(' | '.join(parts), flush=True)
        if note is not None:
            print(f'{self.name}: {note}', file=sys.stderr, flush=True)

    def finish(self, plots: Sequence[str] = (), **final: Any) -> Dict[
            str, Any]:
        r"""Writes :obj:`metrics.json` and a plot of the curves named in
        :obj:`plots`, prints the final metrics beside the paper's, and
        returns the metrics dictionary (with :obj:`cost_collapse_warned`
        among the final metrics where a cost norm was logged)."""
        wall = time.perf_counter() - self.start
        if self.monitor.start is not None:  # some epoch logged a cost norm
            final.setdefault('cost_collapse_warned', self.monitor.warned)
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
        if self.paper_note and any(k in self.paper for k in final):
            print(f'  (paper: {self.paper_note})')
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
        from matplotlib.ticker import MaxNLocator
        for ax, key in zip(axes[0], keys):
            pts = [(r['epoch'], r[key]) for r in self.history if key in r]
            epochs = [p[0] for p in pts]
            ax.plot(epochs, [p[1] for p in pts], marker='o')
            title, unit = metric_label(key)
            ax.set_title(title, fontsize=10)
            ax.set_ylabel(unit)
            ax.set_xlabel('epoch')
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if len(set(epochs)) == 1:  # one epoch: no fractional ticks
                ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
            ax.grid(alpha=0.3)
        fig.suptitle(f'{self.name}: {self.args.backward} backward, '
                     f'projection {getattr(self.args, "projection", None)}',
                     fontsize=10)
        fig.tight_layout()
        path = os.path.join(self.out, 'curves.png')
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


# Per-epoch metric keys -> (panel title, y-axis label with the unit). Every
# rate is a percent and says so in its key (`_pct`).
METRIC_LABELS: Dict[str, Tuple[str, str]] = {
    'loss': ('training loss (per graph)', 'loss'),
    'train_loss': ('training loss (mean over the steps)', 'loss'),
    'test_loss': ('test loss (per graph)', 'loss'),
    'test_acc_pct': ('test accuracy', 'accuracy (%)'),
    'train_acc_pct': ('training accuracy', 'accuracy (%)'),
    'test_entry_acc_pct': ('test: right entries of the tour adjacency',
                           '% of k x k entries'),
    'test_f1_pct': ('test F1 score', 'F1 (%)'),
    'test_gap_pct': ('test optimality gap of the tours', 'gap (%)'),
    'val_exact_acc_pct': ('validation: exactly optimal paths', '% of maps'),
    'val_optimal_acc_pct': ('validation: paths of optimal cost',
                            '% of maps'),
    'val_cost_ratio_pct': ('validation: path cost / optimal cost',
                           '% of optimal'),
    'test_n_elbo': ('test negative ELBO', 'nats per image'),
    'train_n_elbo': ('training negative ELBO', 'nats per image'),
    'test_recall_at_1_pct': ('test recall@1', 'recall (%)'),
    'cost_norm': ('raw cost norm per graph (collapse watch)', 'L2 norm'),
    'true_cost_norm': ("true costs' norm per graph", 'L2 norm'),
    'spread': ('mean pairwise distance of the points', 'radians'),
    'location_error_km': ('median location error', 'km'),
    'grad_cosine': ('cosine: Identity update vs gradient', 'cosine'),
    'epoch_time_s': ('time per epoch', 'seconds'),
}

#: The metric keys of earlier releases (still in old metrics.json files) ->
#: (the key now, the factor from the old value to the new one): fractions
#: became percents, and every rate names its unit (:obj:`_pct`).
RENAMED_METRICS: Dict[str, Tuple[str, float]] = {
    'test_acc': ('test_acc_pct', 1.0),
    'train_acc': ('train_acc_pct', 1.0),
    'test_f1': ('test_f1_pct', 1.0),
    'accuracy': ('test_acc_pct', 1.0),  # graph_matching's final metrics
    'f1': ('test_f1_pct', 1.0),
    'precision': ('test_precision_pct', 1.0),
    'test_gap': ('test_gap_pct', 1.0),
    'val_cost_ratio': ('val_cost_ratio_pct', 1.0),
    'test_cost_ratio': ('test_cost_ratio_pct', 1.0),
    'val_exact_acc': ('val_exact_acc_pct', 100.0),
    'val_optimal_acc': ('val_optimal_acc_pct', 100.0),
    'test_exact_acc': ('test_exact_acc_pct', 100.0),
    'test_optimal_acc': ('test_optimal_acc_pct', 100.0),
    'test_recall_at_1': ('test_recall_at_1_pct', 100.0),
}


def current_metrics(row: Dict[str, Any]) -> Dict[str, Any]:
    r"""A copy of one row of metrics (the :obj:`final` metrics or an epoch
    of the :obj:`history`) with the keys of earlier releases renamed and
    their values rescaled (:obj:`RENAMED_METRICS`); a key already in its
    current form wins over its old spelling."""
    out: Dict[str, Any] = {}
    for key, value in row.items():
        if key in RENAMED_METRICS:
            new, factor = RENAMED_METRICS[key]
            if new in row:
                continue
            if isinstance(value, (int, float)) and not isinstance(
                    value, bool):
                value = value * factor
            key = new
        out[key] = value
    return out


def current_result(result: Dict[str, Any]) -> Dict[str, Any]:
    r"""A metrics dictionary (what :meth:`RunLogger.finish` writes, of any
    release) with its :obj:`final` metrics and every :obj:`history` row in
    the current keys (:func:`current_metrics`)."""
    out = dict(result)
    if isinstance(result.get('final'), dict):
        out['final'] = current_metrics(result['final'])
    if isinstance(result.get('history'), list):
        out['history'] = [current_metrics(r) for r in result['history']]
    return out


def metric_label(key: str) -> Tuple[str, str]:
    r"""The panel title and the y-axis label (with the unit) of a metric
    key; unknown keys get their words and the label "value"."""
    return METRIC_LABELS.get(key, (key.replace('_', ' '), 'value'))


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
