"""Interleaved timing: every figure is a ratio measured in the same run."""
import json
import statistics
import time
from typing import Any, Callable, Dict, List, Optional


def interleaved(fns: Dict[str, Callable[[], object]], reps: int = 7,
                warmup: int = 1,
                reps_for: Dict[str, int] = None) -> Dict[str, float]:
    """Runs the callables round-robin `reps` times (after `warmup` rounds)
    and returns the median wall time of each in seconds."""
    reps_for = reps_for or {}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for r in range(reps):
        for k, fn in fns.items():
            if r >= reps_for.get(k, reps):
                continue
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def fmt_ms(s: float) -> str:
    return f'{s * 1e3:9.2f} ms'


def write_json(path: Optional[str], results: Any) -> Any:
    """Writes `results` to the `--json` file `path` (if given) and returns
    them."""
    if path:
        with open(path, 'w') as f:
            json.dump(results, f, indent=2)
    return results
