r"""The image-retrieval model of the paper's Sec. 4.3: an embedding network
trained through differentiable rankings of in-batch similarities by the
recall loss."""
from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MLP

from pyg_identity.nn.functional.settings import GradientSettings
from pyg_identity.nn.ranking import RecallLoss
from pyg_identity.utils._checks import check_positive


class RetrievalNet(torch.nn.Module):
    r"""The rank-based retrieval model of the `"Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works"
    <https://arxiv.org/abs/2205.15213>`_ paper (Sec. 4.3, after `"Optimizing
    Rank-based Metrics with Blackbox Differentiation"
    <https://arxiv.org/abs/1912.03500>`_), scaled down to small images: an
    MLP embeds an image into a unit vector, every query scores the keys by
    cosine similarity :math:`\omega_{qj} = \langle e_q, e_j \rangle`, and
    the "loglog" recall loss (:class:`~pyg_identity.nn.ranking.RecallLoss`)
    ranks the scores of every query with two differentiable rankings:

    .. math::
        \mathrm{rk}(\omega_q) = \arg\min_{y \in \Pi_n}
        \langle P(\omega_q) + \xi, y \rangle, \qquad
        \ell = \frac{1}{|\mathrm{rel}|} \sum_{i \in \mathrm{rel}}
        \log\big(1 + \log(1 + \mathrm{rk}(\omega_q)_i -
        \mathrm{rk}(\omega_q^+)_i)\big),

    where the relevant keys of a query share its class. The ranking is an
    :math:`\arg\min` (rank :math:`1` to the highest similarity), so the
    Identity gradient is :math:`-P'(\omega)^\top \partial\ell/\partial y`.
    The default projection :obj:`"std"` is valid since all rank vectors of a
    query are permutations of each other; without a projection the Identity
    gradients of the two rankings cancel and the embedding does not train
    (the paper's 13.9 R@1 row).
    The paper's model is an ImageNet-pretrained ResNet-50 with a 512-d
    embedding; this one is an MLP :obj:`in_channels` :math:`\to`
    :obj:`hidden_channels` :math:`\to` :obj:`out_channels`.

    Args:
        in_channels (int, optional): The input size (pixels).
            (default: :obj:`784`)
        hidden_channels (int, optional): The hidden size.
            (default: :obj:`512`)
        out_channels (int, optional): The embedding size.
            (default: :obj:`64`)
        settings (GradientSettings, optional): The gradient settings of the
            loss layer :obj:`model.criterion` (see
            :class:`~pyg_identity.nn.functional.GradientSettings`); default
            projection :obj:`"std"` and :obj:`lambda_=0.2`.
            (default: :obj:`None`)
        **kwargs: Fields of
            :class:`~pyg_identity.nn.functional.GradientSettings`
            overriding :obj:`settings` (*e.g.* :obj:`backward="blackbox"`;
            :obj:`diagnostics=True` records the raw score norm of the last
            call in :obj:`model.criterion.diagnostics`).

    Shapes:
        - **input:** images :math:`(B, \text{in\_channels})` or
          :math:`(B, 1, H, W)`
        - **output:** unit embeddings :math:`(B, \text{out\_channels})`;
          :meth:`loss` returns a scalar
    """
    def __init__(
        self,
        in_channels: int = 784,
        hidden_channels: int = 512,
        out_channels: int = 64,
        *,
        settings: Optional[GradientSettings] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        for name, value in (('in_channels', in_channels),
                            ('hidden_channels', hidden_channels),
                            ('out_channels', out_channels)):
            check_positive(value, name)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.mlp = MLP([in_channels, hidden_channels, out_channels],
                       act='relu', norm=None)
        self.criterion = RecallLoss(settings=GradientSettings.resolve(
            settings, kwargs, projection='std', lambda_=0.2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        self.mlp.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        r"""Returns the unit-length embeddings of the images :obj:`x`."""
        x = x.reshape(x.size(0), -1)
        if x.size(1) != self.in_channels:
            raise ValueError(f"'x' must have {self.in_channels} entries per "
                             f"image (got {x.size(1)})")
        return F.normalize(self.mlp(x), dim=-1)

    @staticmethod
    def scores(query: Tensor, query_label: Tensor, key: Tensor,
               key_label: Tensor,
               exclude_self: bool = True) -> Tuple[Tensor, Tensor]:
        r"""Returns the cosine similarities of every query (row) to the keys
        and their relevance (same label). With :obj:`exclude_self`, the
        first :obj:`len(query)` keys are the queries themselves and the
        pair of a query with itself is left out, so rows hold
        :obj:`len(key) - 1` entries.

        Args:
            query (torch.Tensor): Query embeddings :math:`(B, F)`.
            query_label (torch.Tensor): Query labels :math:`(B)`.
            key (torch.Tensor): Key embeddings :math:`(K, F)`.
            key_label (torch.Tensor): Key labels :math:`(K)`.
            exclude_self (bool, optional): Whether to drop the diagonal.
                (default: :obj:`True`)
        """
        if query.dim() != 2 or key.dim() != 2 or query.size(1) != key.size(
                1):
            raise ValueError(f"'query' and 'key' must be matrices with the "
                             f"same number of columns (got "
                             f"{list(query.size())} and {list(key.size())})")
        if query_label.shape != query.shape[:1] or (
                key_label.shape != key.shape[:1]):
            raise ValueError(f"'query_label' and 'key_label' must hold one "
                             f"label per row (got {list(query_label.size())} "
                             f"and {list(key_label.size())})")
        if exclude_self and key.size(0) < query.size(0):
            raise ValueError(f"'exclude_self' needs the queries as the first "
                             f"keys (got {query.size(0)} queries and "
                             f"{key.size(0)} keys)")
        sim = query @ key.t()
        rel = query_label.view(-1, 1) == key_label.view(1, -1)
        if not exclude_self:
            return sim, rel
        # Every row loses exactly one entry, so the rest stays a matrix.
        keep = torch.ones_like(rel)
        keep[:, :query.size(0)].fill_diagonal_(False)
        shape = (sim.size(0), sim.size(1) - 1)
        return sim[keep].view(shape), rel[keep].view(shape)

    def loss(self, query: Tensor, query_label: Tensor,
             key: Optional[Tensor] = None,
             key_label: Optional[Tensor] = None) -> Tensor:
        r"""The recall loss of the queries against themselves followed by
        the optional extra keys (*e.g.* a memory of earlier batches).

        Args:
            query (torch.Tensor): Query embeddings :math:`(B, F)`.
            query_label (torch.Tensor): Query labels :math:`(B)`.
            key (torch.Tensor, optional): Extra key embeddings
                :math:`(K, F)`. (default: :obj:`None`)
            key_label (torch.Tensor, optional): Their labels :math:`(K)`.
                (default: :obj:`None`)
        """
        if (key is None) != (key_label is None):
            raise ValueError("'key' and 'key_label' must be given together")
        keys, labels = query, query_label
        if key is not None and key_label is not None:
            keys = torch.cat([query, key], dim=0)
            labels = torch.cat([query_label, key_label], dim=0)
        sim, rel = self.scores(query, query_label, keys, labels)
        return self.criterion(sim, rel)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, {self.criterion.extra_repr()})')


__all__ = ['RetrievalNet']
