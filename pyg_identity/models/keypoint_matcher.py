r"""The keypoint matcher of the deep graph matching experiment (Sec. 4.2 of
the Identity paper): a geometry-aware GNN shared by both graphs of a pair, a
learnable affinity, and a matching solver layer."""
from typing import Any, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data.data import BaseData
from torch_geometric.nn import MLP, GINEConv, TransformerConv
from torch_geometric.typing import OptTensor

from pyg_identity.nn.functional.pairs import all_edge_pairs, all_pairs
from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.graph_matching import IdentityGraphMatching
from pyg_identity.nn.matching import IdentityMatching
from pyg_identity.nn.pair_cost import PairCost

CONVS = ('gine', 'transformer')


def candidate_truth(
    y_true: Tensor,
    edge_index: Tensor,
    num_nodes_t: int,
    dtype: torch.dtype = torch.float,
) -> Tensor:
    r"""Returns the ground-truth indicator :math:`y^* \in \{0, 1\}^E` on the
    candidate pairs :obj:`edge_index` (global source, global target node)
    from the true pairs :obj:`y_true` of shape :obj:`[2, K]` (the
    :obj:`y` of a batch of :class:`~pyg_identity.datasets.PairData`).

    Args:
        y_true (torch.Tensor): The true (global source, global target)
            pairs.
        edge_index (torch.Tensor): The candidate pairs.
        num_nodes_t (int): The number of target nodes of the batch.
        dtype (torch.dtype, optional): The dtype of the result.
            (default: :obj:`torch.float`)

    Shapes:
        - **input:** :obj:`y_true` :math:`(2, K)`, :obj:`edge_index`
          :math:`(2, E)`
        - **output:** :math:`(E)`
    """
    if (not isinstance(y_true, Tensor) or y_true.dim() != 2
            or y_true.size(0) != 2 or y_true.is_floating_point()):
        raise ValueError(f"'y_true' must be an integer tensor of true pairs "
                         f"of shape [2, K] (got "
                         f"{getattr(y_true, 'dtype', type(y_true))} of shape "
                         f"{list(getattr(y_true, 'shape', []))})")
    width = max(int(num_nodes_t), 1)
    key_true = y_true[0].to(edge_index.device) * width + y_true[1].to(
        edge_index.device)
    key_edge = edge_index[0] * width + edge_index[1]
    return torch.isin(key_edge, key_true).to(dtype)


def edge_pair_truth(
    y_u: Tensor,
    edge_index_s: Tensor,
    edge_index_t: Tensor,
    edge_pair_index: Tensor,
    batch_s: OptTensor,
    batch_t: OptTensor,
    num_nodes_s: int,
    num_nodes_t: int,
) -> Tensor:
    r"""Returns the indicator of the edge pairs :math:`(i \to j,
    a \to b)` that a matching :math:`y^u` on all candidate pairs (in the
    order of :func:`~pyg_identity.nn.functional.all_pairs`)
    activates, :math:`y^p_{ij,ab} = y^u_{ia}\, y^u_{jb}`; applied to the
    ground truth, it is the target of the pairwise Hamming loss.

    Args:
        y_u (torch.Tensor): The 0/1 indicator on all candidate pairs.
        edge_index_s (torch.Tensor): The source edges.
        edge_index_t (torch.Tensor): The target edges.
        edge_pair_index (torch.Tensor): The (source edge, target edge) ids.
        batch_s (torch.Tensor, optional): The source batch vector.
        batch_t (torch.Tensor, optional): The target batch vector.
        num_nodes_s (int): The number of source nodes.
        num_nodes_t (int): The number of target nodes.

    Shapes:
        - **input:** :obj:`y_u` :math:`(\sum_b n_s^{(b)} n_t^{(b)})`,
          :obj:`edge_pair_index` :math:`(2, Q)`
        - **output:** :math:`(Q)`
    """
    device = y_u.device
    if batch_s is None:
        batch_s = torch.zeros(num_nodes_s, dtype=torch.long, device=device)
    if batch_t is None:
        batch_t = torch.zeros(num_nodes_t, dtype=torch.long, device=device)
    num_graphs = int(max(batch_s.max(), batch_t.max())) + 1 if (
        num_nodes_s and num_nodes_t) else 1
    cs = torch.bincount(batch_s, minlength=num_graphs)
    ct = torch.bincount(batch_t, minlength=num_graphs)
    ptr_s, ptr_t = cs.cumsum(0) - cs, ct.cumsum(0) - ct
    sizes = cs * ct
    off = sizes.cumsum(0) - sizes

    def position(i: Tensor, a: Tensor) -> Tensor:
        g = batch_s[i]
        return off[g] + (i - ptr_s[g]) * ct[g] + (a - ptr_t[g])

    es = edge_index_s[:, edge_pair_index[0]]
    et = edge_index_t[:, edge_pair_index[1]]
    return y_u[position(es[0], et[0])] * y_u[position(es[1], et[1])]


def _squash(cost: Tensor) -> Tensor:
    # BB-GM's affinity bounded below, softplus(a) - 1/2, negated, for the
    # cost -a that PairCost returns.
    return 0.5 - F.softplus(-cost)


class KeypointMatcher(torch.nn.Module):
    r"""A keypoint matcher in the spirit of BB-GM (`"Deep Graph Matching via
    Blackbox Differentiation of Combinatorial Solvers"
    <https://arxiv.org/abs/2003.11657>`_), the architecture of the graph
    matching experiment of the `"Backpropagation through Combinatorial
    Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper, built from pure PyG
    convolutions.

    Both graphs of a pair share one encoder: a linear map of the keypoint
    features (descriptors, or VGG16 features sampled at the keypoints),
    then :obj:`num_layers` residual geometry-aware message passing layers
    whose edge attributes are the relative keypoint positions
    (:class:`~torch_geometric.nn.conv.GINEConv` or
    :class:`~torch_geometric.nn.conv.TransformerConv` with
    :obj:`edge_dim`, in place of BB-GM's SplineCNN, so no compiled
    extension is needed):

    .. math::
        \mathbf{h}^{(0)}_i = \mathbf{W}\mathbf{x}_i, \qquad
        \mathbf{h}^{(l)}_i = \mathbf{h}^{(l-1)}_i + \mathrm{ReLU}\Big(
        \mathrm{conv}^{(l)}\big(\mathbf{h}^{(l-1)}, \mathbf{p}_j -
        \mathbf{p}_i\big)_i\Big).

    The unary cost of a candidate pair is the negated learnable bilinear
    affinity (:class:`~pyg_identity.nn.pair_cost.PairCost`), bounded below
    as in BB-GM,
    :math:`c^u_{ia} = \frac{1}{2} - \mathrm{softplus}(\mathbf{h}_i^{\top}
    \mathbf{A}\,\mathbf{h}_a)`, and the matching is the linear assignment

    .. math::
        y = \arg\min_{y \in \mathcal{M}} \sum_{(i, a)} c^u_{ia} y_{ia}

    of :class:`~pyg_identity.nn.matching.IdentityMatching` (an
    :math:`\arg\min`, so the Identity backward is
    :math:`-\partial\ell/\partial y`). With :obj:`quadratic=True`, an edge
    :math:`i \to j` also gets an embedding
    :math:`\mathbf{e}_{ij} = \mathrm{MLP}([\mathbf{h}_i, \mathbf{h}_j,
    \mathbf{a}_{ij}])`, every pair of a source and a target edge a cost
    :math:`c^p_{ij,ab} = -\frac{1}{2}\tanh(\mathbf{e}_{ij}^{\top}
    \mathbf{B}\,\mathbf{e}_{ab})` (halved as in BB-GM, since both
    directions of every edge are in the graph; bounded, since the number of
    active edge pairs varies between matchings and unbounded pairwise
    affinities diverged under the Blackbox backward in our tests),
    and the matching solves the quadratic (Lawler) problem of
    :class:`~pyg_identity.nn.graph_matching.IdentityGraphMatching`,

    .. math::
        y \approx \arg\min_{y \in \mathcal{M}} \sum_{(i, a)} c^u_{ia}
        y_{ia} + \sum_{(i \to j, a \to b)} c^p_{ij,ab}\, y_{ia} y_{jb},

    with a :obj:`pygmtools` heuristic (the paper uses the LPMP solver,
    which is not a Python dependency); keep graphs small there, the
    affinity matrix has :math:`(n_s n_t)^2` entries per pair.

    The optional informed margin of BB-GM adds :math:`\alpha\, y^*` to the
    unary costs of the ground-truth pairs in training mode (when
    :obj:`y_true` is given to :meth:`forward`), before the solver layer and
    so before its projection; the noise margin :obj:`noise` is the
    label-free replacement the paper proposes. The default projection is
    :obj:`None`, the best setting for Identity in the paper's graph
    matching experiments (:math:`P_{\text{norm}}` is always valid and hurt
    Identity there; :math:`P_{\text{mean}}` assumes matchings of one size).

    Args:
        in_channels (int): The number of keypoint features.
        hidden_channels (int, optional): The embedding size.
            (default: :obj:`64`)
        num_layers (int, optional): The number of message passing layers.
            (default: :obj:`2`)
        edge_dim (int, optional): The number of edge attributes (relative
            position and distance: :obj:`3`). (default: :obj:`3`)
        conv (str, optional): :obj:`"gine"` or :obj:`"transformer"`.
            (default: :obj:`"gine"`)
        quadratic (bool, optional): If set, adds learned pairwise costs on
            edge pairs and solves the quadratic problem.
            (default: :obj:`False`)
        edge_channels (int, optional): The size of the edge embeddings of
            the quadratic variant. (default: :obj:`16`)
        solver (str, optional): The QAP heuristic of the quadratic variant,
            :obj:`"ipfp"`, :obj:`"sm"` or :obj:`"rrwm"`.
            (default: :obj:`"ipfp"`)
        max_iter (int, optional): The iterations of the QAP heuristic.
            (default: :obj:`20`)
        unmatch_cost (float, optional): The cost of leaving a node
            unmatched (linear variant only, see
            :class:`~pyg_identity.nn.matching.IdentityMatching`); :obj:`None`
            matches :math:`\min(n_s, n_t)` nodes. (default: :obj:`None`)
        informed_margin (float, optional): The informed margin
            :math:`\alpha \geq 0` added to the unary costs of the true pairs
            in training. (default: :obj:`0.0`)
        settings (GradientSettings, optional): The gradient settings of the
            matching layer (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`None` (:obj:`"norm"`, and :obj:`"mean"` /
            :obj:`"std"` for the linear variant without
            :obj:`unmatch_cost`, are valid) and :obj:`lambda_=80.0` (the
            paper's Blackbox :math:`\lambda` for graph matching).
            :obj:`diagnostics=True` records the raw cost norm of the last
            call in :obj:`model.matcher.diagnostics`. (default: :obj:`None`)
        **kwargs: Fields of :class:`GradientSettings` overriding
            :obj:`settings` (*e.g.* :obj:`noise=1.0, backward="blackbox"`).

    Shapes:
        - **input:** keypoint features :obj:`x_s` :math:`(N_s, F)`,
          :obj:`x_t` :math:`(N_t, F)`, edges :obj:`edge_index_s`
          :math:`(2, E_s)`, :obj:`edge_index_t` :math:`(2, E_t)`, edge
          attributes :math:`(E_s, D)`, :math:`(E_t, D)`, batch vectors
          :math:`(N_s)`, :math:`(N_t)` (optional), true pairs :obj:`y_true`
          :math:`(2, K)` (optional)
        - **output:** the 0/1 matching indicator on all candidate pairs
          :math:`(\sum_b n_s^{(b)} n_t^{(b)})`, in the order of
          :func:`~pyg_identity.nn.functional.all_pairs`; with
          :obj:`quadratic=True`, also the edge-pair indicator :math:`(Q)` in
          the order of
          :func:`~pyg_identity.nn.functional.all_edge_pairs`
    """
    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 2,
        edge_dim: int = 3,
        conv: str = 'gine',
        quadratic: bool = False,
        edge_channels: int = 16,
        solver: str = 'ipfp',
        max_iter: int = 20,
        unmatch_cost: Optional[float] = None,
        informed_margin: float = 0.0,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        settings = GradientSettings.resolve(settings, kwargs, projection=None,
                                            lambda_=80.0)
        for name, value, low in (('in_channels', in_channels, 1),
                                 ('hidden_channels', hidden_channels, 1),
                                 ('num_layers', num_layers, 0),
                                 ('edge_dim', edge_dim, 1),
                                 ('edge_channels', edge_channels, 1)):
            if (not isinstance(value, int) or isinstance(value, bool)
                    or value < low):
                raise ValueError(f"'{name}' must be an integer >= {low} "
                                 f"(got {value!r})")
        if conv not in CONVS:
            raise ValueError(f"'conv' must be 'gine' or 'transformer' (got "
                             f"{conv!r})")
        if not informed_margin >= 0:
            raise ValueError(f"'informed_margin' must be non-negative (got "
                             f"{informed_margin})")
        if quadratic and unmatch_cost is not None:
            raise ValueError(f"'unmatch_cost' is only supported by the "
                             f"linear variant (got {unmatch_cost} with "
                             f"quadratic=True)")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.edge_dim = edge_dim
        self.conv = conv
        self.quadratic = bool(quadratic)
        self.edge_channels = edge_channels
        self.informed_margin = float(informed_margin)

        self.lin_in = torch.nn.Linear(in_channels, hidden_channels)
        self.convs = torch.nn.ModuleList()
        for _ in range(num_layers):
            if conv == 'gine':
                mlp = MLP([hidden_channels, hidden_channels, hidden_channels],
                          act='relu', norm=None)
                self.convs.append(GINEConv(mlp, train_eps=True,
                                           edge_dim=edge_dim))
            else:
                self.convs.append(TransformerConv(
                    hidden_channels, hidden_channels, heads=1,
                    edge_dim=edge_dim, root_weight=True))
        self.affinity = PairCost('bilinear', hidden_channels)
        self.edge_mlp: Optional[MLP] = None
        self.edge_affinity: Optional[PairCost] = None
        self.matcher: Union[IdentityMatching, IdentityGraphMatching]
        if self.quadratic:
            self.edge_mlp = MLP(
                [2 * hidden_channels + edge_dim, hidden_channels,
                 edge_channels], act='relu', norm=None)
            self.edge_affinity = PairCost('bilinear', edge_channels)
            self.matcher = IdentityGraphMatching(
                solver=solver, max_iter=max_iter, settings=settings)
        else:
            self.matcher = IdentityMatching(unmatch_cost=unmatch_cost,
                                            settings=settings)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        self.lin_in.reset_parameters()
        for conv in self.convs:
            assert isinstance(conv, (GINEConv, TransformerConv))
            conv.reset_parameters()
        self.affinity.reset_parameters()
        if self.edge_mlp is not None and self.edge_affinity is not None:
            self.edge_mlp.reset_parameters()
            self.edge_affinity.reset_parameters()

    def embed(self, x: Tensor, edge_index: Tensor,
              edge_attr: Tensor) -> Tensor:
        r"""Returns the node embeddings :obj:`[N, hidden_channels]` of one
        side (the encoder is shared by source and target)."""
        h = self.lin_in(x)
        for conv in self.convs:
            h = h + conv(h, edge_index, edge_attr).relu()
        return h

    def embed_edges(self, h: Tensor, edge_index: Tensor,
                    edge_attr: Tensor) -> Tensor:
        r"""Returns the edge embeddings :obj:`[E, edge_channels]` of the
        quadratic variant."""
        if self.edge_mlp is None:
            raise ValueError("'embed_edges' needs quadratic=True")
        src, dst = edge_index
        return self.edge_mlp(torch.cat([h[src], h[dst], edge_attr], dim=-1))

    def costs(
        self,
        x_s: Tensor,
        edge_index_s: Tensor,
        edge_attr_s: Tensor,
        x_t: Tensor,
        edge_index_t: Tensor,
        edge_attr_t: Tensor,
        batch_s: OptTensor = None,
        batch_t: OptTensor = None,
    ) -> Tuple[Tensor, OptTensor]:
        r"""Returns the unary costs on all candidate pairs (order of
        :func:`~pyg_identity.nn.functional.all_pairs`) and, for
        the quadratic variant, the pairwise costs on all edge pairs (order
        of :func:`~pyg_identity.nn.functional.all_edge_pairs`,
        else :obj:`None`), before any margin."""
        h_s = self.embed(x_s, edge_index_s, edge_attr_s)
        h_t = self.embed(x_t, edge_index_t, edge_attr_t)
        pairs = all_pairs(batch_s, batch_t, x_s.size(0), x_t.size(0))
        unary = _squash(self.affinity(h_s, h_t, pairs.to(x_s.device)))
        if self.edge_affinity is None:
            return unary, None
        e_s = self.embed_edges(h_s, edge_index_s, edge_attr_s)
        e_t = self.embed_edges(h_t, edge_index_t, edge_attr_t)
        edge_pairs = all_edge_pairs(edge_index_s, edge_index_t, batch_s,
                                    batch_t)
        return unary, 0.5 * torch.tanh(self.edge_affinity(e_s, e_t,
                                                          edge_pairs))

    def forward(
        self,
        x_s: Union[Tensor, BaseData],
        edge_index_s: OptTensor = None,
        edge_attr_s: OptTensor = None,
        x_t: OptTensor = None,
        edge_index_t: OptTensor = None,
        edge_attr_t: OptTensor = None,
        batch_s: OptTensor = None,
        batch_t: OptTensor = None,
        y_true: OptTensor = None,
    ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        r"""Forward pass: :obj:`model(x_s, edge_index_s, edge_attr_s, x_t,
        edge_index_t, edge_attr_t, batch_s, batch_t)` or
        :obj:`model(pair_batch)` for a batch of
        :class:`~pyg_identity.datasets.PairData` (loaded with
        :obj:`follow_batch=['x_s', 'x_t']`).

        Args:
            x_s (torch.Tensor or PairData): Source keypoint features, or a
                pair batch that supplies all inputs but :obj:`y_true`.
            edge_index_s (torch.Tensor): Source edges.
            edge_attr_s (torch.Tensor): Source edge attributes.
            x_t (torch.Tensor): Target keypoint features.
            edge_index_t (torch.Tensor): Target edges.
            edge_attr_t (torch.Tensor): Target edge attributes.
            batch_s (torch.Tensor, optional): The source batch vector
                (:obj:`batch.x_s_batch` with :obj:`follow_batch=['x_s',
                'x_t']`); :obj:`None` for a single pair.
                (default: :obj:`None`)
            batch_t (torch.Tensor, optional): The target batch vector.
                (default: :obj:`None`)
            y_true (torch.Tensor, optional): The true pairs :obj:`[2, K]`,
                used only by the informed margin in training mode.
                (default: :obj:`None`)
        """
        if isinstance(x_s, BaseData):
            pair = x_s
            x_s, x_t = pair.x_s, pair.x_t
            edge_index_s, edge_index_t = pair.edge_index_s, pair.edge_index_t
            edge_attr_s, edge_attr_t = pair.edge_attr_s, pair.edge_attr_t
            batch_s = getattr(pair, 'x_s_batch', None)
            batch_t = getattr(pair, 'x_t_batch', None)
        if (edge_index_s is None or edge_attr_s is None or x_t is None
                or edge_index_t is None or edge_attr_t is None):
            raise ValueError("'edge_index_s', 'edge_attr_s', 'x_t', "
                             "'edge_index_t' and 'edge_attr_t' are required "
                             "(or pass a PairData batch)")
        unary, pairwise = self.costs(x_s, edge_index_s, edge_attr_s, x_t,
                                     edge_index_t, edge_attr_t, batch_s,
                                     batch_t)
        if (self.training and self.informed_margin > 0
                and y_true is not None):
            pairs = all_pairs(batch_s, batch_t, x_s.size(0),
                              x_t.size(0)).to(x_s.device)
            unary = unary + self.informed_margin * candidate_truth(
                y_true, pairs, x_t.size(0), unary.dtype)
        if isinstance(self.matcher, IdentityGraphMatching):
            assert pairwise is not None
            return self.matcher(unary, pairwise, edge_index_s, edge_index_t,
                                batch_s=batch_s, batch_t=batch_t,
                                num_nodes_s=x_s.size(0),
                                num_nodes_t=x_t.size(0))
        return self.matcher(cost=unary, batch_s=batch_s, batch_t=batch_t,
                            num_nodes_s=x_s.size(0),
                            num_nodes_t=x_t.size(0))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.hidden_channels}, num_layers={self.num_layers}, '
                f'conv={self.conv!r}, quadratic={self.quadratic}, '
                f'matcher={self.matcher})')


__all__ = ['KeypointMatcher', 'candidate_truth', 'edge_pair_truth']
