import sys

import pytest
import torch

from pyg_identity.utils import plot_tours
from pyg_identity.utils.plot import import_pyplot


def ring(n):
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij')
    keep = i != j
    ei = torch.stack([i[keep], j[keep]])
    d = (ei[0] - ei[1]).abs()
    return ei, ((d == 1) | (d == n - 1)).float()


def test_plot_tours_writes_one_panel_per_graph(tmp_path):
    (ei0, y0), (ei1, y1) = ring(5), ring(6)
    edge_index = torch.cat([ei0, ei1 + 5], dim=1)
    y = torch.cat([y0, y1])
    pos = torch.rand(11, 2)
    ptr = torch.tensor([0, 5, 11])
    path = str(tmp_path / 'tours.png')
    out = plot_tours(pos, edge_index, y, y.flip(0), ptr, path,
                     titles=['a', 'b'], xlim=(0, 1), ylim=(0, 1),
                     equal_aspect=True)
    assert out == path and (tmp_path / 'tours.png').stat().st_size > 0


def test_missing_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    with pytest.raises(ImportError, match=r"pyg_identity\[plot\]"):
        import_pyplot()
