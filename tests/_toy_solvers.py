"""Tiny solvers with known answers for testing the gradient mechanism."""
import itertools

import torch
from torch import Tensor


def argmin_one_hot(costs: Tensor, group: Tensor, num_groups: int) -> Tensor:
    """Per group, the one-hot indicator of the cheapest entry (argmin)."""
    y = torch.zeros_like(costs)
    for g in range(num_groups):
        pos = (group == g).nonzero().view(-1)
        if pos.numel():
            y[pos[costs[pos].argmin()]] = 1.0
    return y


def top2(costs: Tensor, group: Tensor, num_groups: int) -> Tensor:
    """Per group, the 2-hot indicator of the largest entries (argmax)."""
    y = torch.zeros_like(costs)
    for g in range(num_groups):
        pos = (group == g).nonzero().view(-1)
        y[pos[costs[pos].topk(min(2, pos.numel())).indices]] = 1.0
    return y


def brute_force_subsets(costs: Tensor, k: int) -> Tensor:
    """argmin over all k-subsets, by enumeration."""
    n = costs.numel()
    best, arg = None, None
    for sub in itertools.combinations(range(n), k):
        val = float(costs[list(sub)].sum())
        if best is None or val < best:
            best, arg = val, sub
    y = torch.zeros_like(costs)
    y[list(arg)] = 1.0
    return y
