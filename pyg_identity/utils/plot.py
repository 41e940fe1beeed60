r"""Drawing predicted against optimal tours (matplotlib, imported lazily:
:obj:`pip install 'pyg_identity[plot]'`)."""
from typing import Any, Optional, Sequence, Tuple

from torch import Tensor


def import_pyplot() -> Any:
    r"""Imports :mod:`matplotlib.pyplot` with the non-interactive Agg
    backend, or raises an :class:`ImportError` naming the :obj:`plot`
    extra."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("Plots need matplotlib: pip install "
                          "'pyg_identity[plot]'") from e
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_tours(
    pos: Tensor,
    edge_index: Tensor,
    y: Tensor,
    y_true: Tensor,
    ptr: Tensor,
    path: str,
    *,
    titles: Optional[Sequence[str]] = None,
    suptitle: str = 'predicted (red) vs optimal (grey) tours',
    xlim: Optional[Tuple[float, float]] = None,
    ylim: Optional[Tuple[float, float]] = None,
    equal_aspect: bool = False,
    panel_size: Tuple[float, float] = (3.2, 3.4),
    xlabel: str = 'x',
    ylabel: str = 'y',
    ticks: bool = False,
) -> str:
    r"""Draws the predicted tours (red) over the optimal ones (grey) of every
    graph of a batch, one panel per graph, with a legend of the lines and
    axis labels, and saves the figure to :obj:`path` (returned).

    Args:
        pos (torch.Tensor): The 2-D drawing coordinates of the nodes,
            :obj:`[num_nodes, 2]`.
        edge_index (torch.Tensor): The edges :obj:`[2, num_edges]`; a pair
            is drawn once (from its entry with :obj:`i < j`).
        y (torch.Tensor): The predicted tour indicator :obj:`[num_edges]`.
        y_true (torch.Tensor): The optimal tour indicator
            :obj:`[num_edges]`.
        ptr (torch.Tensor): The node offsets of the graphs (PyG's
            :obj:`batch.ptr`), :obj:`[num_graphs + 1]`.
        path (str): The image file to write.
        titles (list of str, optional): One panel title per graph.
            (default: :obj:`None`)
        suptitle (str, optional): The figure title.
            (default: :obj:`"predicted (red) vs optimal (grey) tours"`)
        xlim (tuple, optional): The x range of every panel.
            (default: :obj:`None`)
        ylim (tuple, optional): The y range of every panel.
            (default: :obj:`None`)
        equal_aspect (bool, optional): Equal scales on both axes.
            (default: :obj:`False`)
        panel_size (tuple, optional): Width and height of one panel in
            inches. (default: :obj:`(3.2, 3.4)`)
        xlabel (str, optional): The x-axis label, with its unit.
            (default: :obj:`"x"`)
        ylabel (str, optional): The y-axis label, with its unit.
            (default: :obj:`"y"`)
        ticks (bool, optional): Keep the axis ticks (e.g. degrees of
            longitude); without, the axes only carry their labels.
            (default: :obj:`False`)
    """
    plt = import_pyplot()
    from matplotlib.lines import Line2D
    pos = pos.detach().cpu()
    ei = edge_index.detach().cpu()
    y, y_true = y.detach().cpu().view(-1), y_true.detach().cpu().view(-1)
    ptr = ptr.detach().cpu()
    num_graphs = ptr.numel() - 1
    fig, axes = plt.subplots(1, num_graphs,
                             figsize=(panel_size[0] * num_graphs,
                                      panel_size[1] + 0.5), squeeze=False)
    for g, ax in enumerate(axes[0]):
        lo, hi = int(ptr[g]), int(ptr[g + 1])
        mask = (ei[0] >= lo) & (ei[0] < hi)
        e = ei[:, mask]
        for ind, style in ((y_true[mask], dict(color='0.6', lw=4,
                                               alpha=0.6)),
                           (y[mask], dict(color='tab:red', lw=1.2))):
            for s, t in e[:, (ind > 0.5) & (e[0] < e[1])].t().tolist():
                ax.plot(pos[[s, t], 0], pos[[s, t], 1], **style)
        ax.scatter(pos[lo:hi, 0], pos[lo:hi, 1], s=10, color='k', zorder=3)
        if xlim is not None:
            ax.set_xlim(*xlim)
        if ylim is not None:
            ax.set_ylim(*ylim)
        if equal_aspect:
            ax.set_aspect('equal')
        if titles is not None:
            ax.set_title(titles[g], fontsize=9)
        if not ticks:
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.tick_params(labelsize=7)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
    handles = [Line2D([], [], color='0.6', lw=4, alpha=0.6,
                      label='optimal tour'),
               Line2D([], [], color='tab:red', lw=1.2,
                      label='predicted tour'),
               Line2D([], [], ls='', marker='o', color='k', markersize=3,
                      label='node')]
    fig.legend(handles=handles, loc='lower center', ncol=3, fontsize=8,
               frameon=False)
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ['plot_tours', 'import_pyplot']
