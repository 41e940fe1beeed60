from typing import Any, Optional

import torch
from torch import Tensor
from torch_geometric.data import Data


class PairData(Data):
    r"""A pair of graphs to be matched, a source graph (suffix :obj:`_s`) and
    a target graph (suffix :obj:`_t`), with their ground-truth
    correspondences, following the :obj:`PairData` pattern of PyG's
    "Advanced Mini-Batching" guide.

    Batch pairs with :obj:`follow_batch=['x_s', 'x_t']` to get the graph
    assignment vectors :obj:`x_s_batch` and :obj:`x_t_batch`:

    .. code-block:: python

        from torch_geometric.loader import DataLoader

        loader = DataLoader(dataset, batch_size=8,
                            follow_batch=['x_s', 'x_t'])
        batch = next(iter(loader))
        src, dst = batch.y  # Indices into batch.x_s and batch.x_t.

    Args:
        x_s (torch.Tensor, optional): Source node features
            :obj:`[num_nodes_s, F]`. (default: :obj:`None`)
        pos_s (torch.Tensor, optional): Source node positions
            :obj:`[num_nodes_s, 2]`. (default: :obj:`None`)
        edge_index_s (torch.Tensor, optional): Source edges
            :obj:`[2, num_edges_s]`. (default: :obj:`None`)
        edge_attr_s (torch.Tensor, optional): Source edge features
            :obj:`[num_edges_s, D]`. (default: :obj:`None`)
        x_t, pos_t, edge_index_t, edge_attr_t (torch.Tensor, optional): The
            same for the target graph. (default: :obj:`None`)
        y (torch.Tensor, optional): The ground-truth correspondences, a
            :obj:`[2, K]` long tensor whose column :obj:`(i, j)` says that
            source node :obj:`i` matches target node :obj:`j`. Nodes
            without a partner (outliers, keypoints missing on the other
            side) appear in no column. In a batch, the indices are offset
            into the batched :obj:`x_s` and :obj:`x_t`.
            (default: :obj:`None`)
        **kwargs (optional): Additional attributes.

    The number of nodes of each side is read from :obj:`x_*`, else
    :obj:`pos_*`; :obj:`num_nodes` is their sum.
    """
    def __init__(
        self,
        x_s: Optional[Tensor] = None,
        pos_s: Optional[Tensor] = None,
        edge_index_s: Optional[Tensor] = None,
        edge_attr_s: Optional[Tensor] = None,
        x_t: Optional[Tensor] = None,
        pos_t: Optional[Tensor] = None,
        edge_index_t: Optional[Tensor] = None,
        edge_attr_t: Optional[Tensor] = None,
        y: Optional[Tensor] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(y=y, **kwargs)
        # Only set given attributes, so that `Data.from_dict` and
        # `InMemoryDataset` storage round-trip without `None` entries.
        for key, value in (('x_s', x_s), ('pos_s', pos_s),
                           ('edge_index_s', edge_index_s),
                           ('edge_attr_s', edge_attr_s), ('x_t', x_t),
                           ('pos_t', pos_t), ('edge_index_t', edge_index_t),
                           ('edge_attr_t', edge_attr_t)):
            if value is not None:
                setattr(self, key, value)

    def _side_num_nodes(self, side: str) -> Optional[int]:
        for key in (f'x_{side}', f'pos_{side}'):
            value = self._store.get(key)
            if isinstance(value, Tensor):
                return value.size(0)
        return None

    @property
    def num_nodes_s(self) -> Optional[int]:
        r"""The number of source nodes."""
        return self._side_num_nodes('s')

    @property
    def num_nodes_t(self) -> Optional[int]:
        r"""The number of target nodes."""
        return self._side_num_nodes('t')

    @property
    def num_nodes(self) -> Optional[int]:
        r"""The total number of nodes, source plus target."""
        if 'num_nodes' in self._store:
            return self._store['num_nodes']
        n_s, n_t = self.num_nodes_s, self.num_nodes_t
        if n_s is None and n_t is None:
            return super().num_nodes
        return (n_s or 0) + (n_t or 0)

    @num_nodes.setter
    def num_nodes(self, num_nodes: Optional[int]) -> None:
        self._store.num_nodes = num_nodes

    @property
    def num_edges(self) -> int:
        r"""The total number of edges, source plus target."""
        out = 0
        for key in ('edge_index_s', 'edge_index_t'):
            value = self._store.get(key)
            if isinstance(value, Tensor):
                out += value.size(-1)
        return out

    def _num_features(self, key: str) -> int:
        # The feature size of the source-side attribute `key` (0 if unset).
        value = self._store.get(key)
        if isinstance(value, Tensor):
            return 1 if value.dim() == 1 else value.size(-1)
        return 0

    @property
    def num_node_features(self) -> int:
        return self._num_features('x_s')

    @property
    def num_edge_features(self) -> int:
        return self._num_features('edge_attr_s')

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key == 'edge_index_s':
            return self.num_nodes_s or 0
        if key == 'edge_index_t':
            return self.num_nodes_t or 0
        if key == 'y':
            return torch.tensor([[self.num_nodes_s or 0],
                                 [self.num_nodes_t or 0]])
        return super().__inc__(key, value, *args, **kwargs)

    def __cat_dim__(self, key: str, value: Any, *args: Any,
                    **kwargs: Any) -> Any:
        if key == 'y':
            return -1
        return super().__cat_dim__(key, value, *args, **kwargs)
