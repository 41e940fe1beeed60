from typing import Any, Dict, Sequence, Tuple

import pytest
import torch
from torch import Tensor
from torch_geometric.loader import DataLoader

from pyg_identity.datasets.synthetic_keypoints import generate_pair
from pyg_identity.models.keypoint_matcher import (
    KeypointMatcher,
    candidate_truth,
    edge_pair_truth,
)
from pyg_identity.nn.functional import all_edge_pairs, all_pairs, matching
from pyg_identity.nn.graph_matching import IdentityGraphMatching
from pyg_identity.nn.matching import IdentityMatching


def make_batch(sizes: Sequence[Tuple[int, int]] = ((4, 5), (3, 3), (5, 6)),
               seed: int = 0) -> Any:
    import numpy as np

    gen = np.random.default_rng(seed)
    pairs = [
        generate_pair(gen, num_inliers=(n_s, n_s),
                      num_outliers_t=(n_t - n_s, n_t - n_s), feature_dim=8)
        for n_s, n_t in sizes
    ]
    loader = DataLoader(pairs, batch_size=len(pairs),
                        follow_batch=['x_s', 'x_t'])
    return next(iter(loader))


def inputs(batch: Any) -> Dict[str, Tensor]:
    return dict(x_s=batch.x_s, edge_index_s=batch.edge_index_s,
                edge_attr_s=batch.edge_attr_s, x_t=batch.x_t,
                edge_index_t=batch.edge_index_t,
                edge_attr_t=batch.edge_attr_t, batch_s=batch.x_s_batch,
                batch_t=batch.x_t_batch)


def is_matching(y: Tensor, batch: Any) -> bool:
    # Every pair matches min(n_s, n_t) nodes, each node at most once,
    # within its own pair.
    pairs = all_pairs(batch.x_s_batch, batch.x_t_batch)
    sel = pairs[:, y > 0.5]
    if sel[0].unique().numel() != sel.size(1):
        return False
    if sel[1].unique().numel() != sel.size(1):
        return False
    if not bool((batch.x_s_batch[sel[0]] == batch.x_t_batch[sel[1]]).all()):
        return False
    n_s = torch.bincount(batch.x_s_batch)
    n_t = torch.bincount(batch.x_t_batch)
    got = torch.bincount(batch.x_s_batch[sel[0]], minlength=n_s.numel())
    return bool((got == torch.minimum(n_s, n_t)).all())


@pytest.mark.parametrize('conv', ['gine', 'transformer'])
def test_linear_output_is_a_matching(conv: str) -> None:
    batch = make_batch()
    model = KeypointMatcher(8, 16, conv=conv)
    y = model(**inputs(batch))
    assert y.shape == (4 * 5 + 3 * 3 + 5 * 6, )
    assert y.dtype == torch.float32
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert is_matching(y, batch)


def test_linear_matches_the_solver_on_its_costs() -> None:
    batch = make_batch()
    model = KeypointMatcher(8, 16).eval()
    unary, pairwise = model.costs(**inputs(batch))
    assert pairwise is None
    expected = matching(unary, None, batch.x_s_batch, batch.x_t_batch)
    assert torch.equal(model(**inputs(batch)), expected)


def test_quadratic_outputs() -> None:
    batch = make_batch()
    model = KeypointMatcher(8, 16, quadratic=True, solver='sm', max_iter=5)
    assert isinstance(model.matcher, IdentityGraphMatching)
    y_u, y_p = model(**inputs(batch))
    edge_pairs = all_edge_pairs(batch.edge_index_s, batch.edge_index_t,
                                batch.x_s_batch, batch.x_t_batch)
    assert y_u.shape == (4 * 5 + 3 * 3 + 5 * 6, )
    assert y_p.shape == (edge_pairs.size(1), )
    assert is_matching(y_u, batch)
    # The edge-pair indicator is the product of the unary indicators.
    expected = edge_pair_truth(y_u, batch.edge_index_s, batch.edge_index_t,
                               edge_pairs, batch.x_s_batch, batch.x_t_batch,
                               batch.x_s.size(0), batch.x_t.size(0))
    assert torch.equal(y_p, expected)


def test_candidate_truth() -> None:
    batch = make_batch()
    pairs = all_pairs(batch.x_s_batch, batch.x_t_batch)
    t = candidate_truth(batch.y, pairs, batch.x_t.size(0))
    assert int(t.sum()) == batch.y.size(1)
    assert torch.equal(pairs[:, t > 0.5], batch.y)


def test_informed_margin_only_in_training() -> None:
    batch = make_batch()
    base = KeypointMatcher(8, 16)
    model = KeypointMatcher(8, 16, informed_margin=100.0)
    model.load_state_dict(base.state_dict())
    pairs = all_pairs(batch.x_s_batch, batch.x_t_batch)
    truth = candidate_truth(batch.y, pairs, batch.x_t.size(0))
    # A huge margin on the true pairs makes them too expensive to match.
    y = model.train()(**inputs(batch), y_true=batch.y)
    assert float((y.detach() * truth).sum()) == 0
    model.eval()
    assert torch.equal(model(**inputs(batch), y_true=batch.y),
                       base.eval()(**inputs(batch)))


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
@pytest.mark.parametrize('quadratic', [False, True])
def test_gradient_reaches_the_backbone(backward: str,
                                       quadratic: bool) -> None:
    batch = make_batch()
    model = KeypointMatcher(8, 16, quadratic=quadratic, backward=backward,
                            solver='sm', max_iter=5, lambda_=0.5)
    out = model(**inputs(batch))
    y = out[0] if isinstance(out, tuple) else out
    loss = (y * torch.randn_like(y)).sum()
    if isinstance(out, tuple):
        loss = loss + (out[1] * torch.randn_like(out[1])).sum()
    loss.backward()
    for name in ('lin_in.weight', 'affinity.weight',
                 'convs.0.nn.lins.0.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and bool(torch.isfinite(grad).all())
        if backward == 'identity':
            assert float(grad.abs().sum()) > 0, name
    if quadratic and backward == 'identity':
        grad = model.edge_affinity.weight.grad
        assert grad is not None and float(grad.abs().sum()) > 0


def test_identity_gradient_on_the_costs() -> None:
    # The unary costs receive exactly -dl/dy (argmin, no projection).
    batch = make_batch()
    model = KeypointMatcher(8, 16)
    captured = {}

    def hook(module: Any, args: Any, kwargs: Dict[str, Any]) -> None:
        kwargs['cost'].retain_grad()
        captured['costs'] = kwargs['cost']

    model.matcher.register_forward_pre_hook(hook, with_kwargs=True)
    y = model(**inputs(batch))
    g = torch.randn_like(y)
    (y * g).sum().backward()
    assert torch.allclose(captured['costs'].grad, -g)


def test_smooth_part_gradcheck() -> None:
    batch = make_batch(((3, 4), (2, 2)))
    model = KeypointMatcher(8, 4, num_layers=1).double()
    x_s = batch.x_s.double().requires_grad_()
    x_t = batch.x_t.double().requires_grad_()

    def fn(a: Tensor, b: Tensor) -> Tensor:
        kw = inputs(batch)
        kw.update(x_s=a, x_t=b, edge_attr_s=batch.edge_attr_s.double(),
                  edge_attr_t=batch.edge_attr_t.double())
        return model.costs(**kw)[0]

    assert torch.autograd.gradcheck(fn, (x_s, x_t))


def test_single_pair_without_batch_vectors() -> None:
    batch = make_batch(((4, 6), ))
    kw = inputs(batch)
    kw.update(batch_s=None, batch_t=None)
    y = KeypointMatcher(8, 16)(**kw)
    assert y.shape == (24, )
    assert int(y.sum()) == 4


def test_settings_reach_the_layer() -> None:
    model = KeypointMatcher(8, projection='norm', noise=0.5,
                            backward='blackbox', lambda_=7.0)
    assert isinstance(model.matcher, IdentityMatching)
    assert model.matcher.projection == 'norm'
    assert model.matcher.noise == 0.5
    assert model.matcher.backward_mode == 'blackbox'
    assert model.matcher.lambda_ == 7.0
    assert 'KeypointMatcher(8, 64' in repr(model)


def test_reset_parameters_is_deterministic() -> None:
    torch.manual_seed(1)
    a = KeypointMatcher(8, 16, quadratic=True)
    torch.manual_seed(1)
    b = KeypointMatcher(8, 16, quadratic=True)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), name


def test_float64() -> None:
    batch = make_batch()
    model = KeypointMatcher(8, 16).double()
    kw = {k: (v.double() if v.is_floating_point() else v)
          for k, v in inputs(batch).items()}
    y = model(**kw)
    assert y.dtype == torch.float64


@pytest.mark.parametrize('kwargs,match', [
    (dict(in_channels=0), 'in_channels'),
    (dict(in_channels=8, hidden_channels=0), 'hidden_channels'),
    (dict(in_channels=8, num_layers=-1), 'num_layers'),
    (dict(in_channels=8, conv='spline'), 'conv'),
    (dict(in_channels=8, informed_margin=-1.0), 'informed_margin'),
    (dict(in_channels=8, quadratic=True, unmatch_cost=0.5), 'unmatch_cost'),
    (dict(in_channels=8, quadratic=True, solver='lpmp'), 'solver'),
    (dict(in_channels=8, projection='max'), 'projection'),
    (dict(in_channels=8, backward='straight'), 'backward'),
])
def test_bad_arguments(kwargs: Dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        KeypointMatcher(**kwargs)


def test_bad_ground_truth() -> None:
    pairs = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match='y_true'):
        candidate_truth(torch.zeros(3, 2), pairs, 4)


def test_embed_edges_needs_quadratic() -> None:
    model = KeypointMatcher(8, 16)
    with pytest.raises(ValueError, match='quadratic'):
        model.embed_edges(torch.zeros(2, 16), torch.zeros(2, 1,
                                                          dtype=torch.long),
                          torch.zeros(1, 3))


def test_pair_batch_input_and_settings() -> None:
    from pyg_identity.nn.functional import GradientSettings
    batch = make_batch()
    model = KeypointMatcher(8, 16).eval()
    assert torch.equal(model(batch), model(**inputs(batch)))
    assert model.matcher.lambda_ == 80.0 and model.matcher.projection is None
    model = KeypointMatcher(8, settings=GradientSettings(noise=0.5),
                            backward='blackbox')
    assert model.matcher.noise == 0.5
    assert model.matcher.backward_mode == 'blackbox'
    with pytest.raises(TypeError):  # the gradient settings are keywords
        KeypointMatcher(8, 16, 2, 3, 'gine', False, 16, 'ipfp', 20, None,
                        0.0, 'norm')
    with pytest.raises(ValueError, match="'noise'"):
        model.matcher.noise = -1


def test_state_dict_keys_are_unchanged() -> None:
    import os
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'models',
                        'keypoint_matcher.pt')
    state = torch.load(path, weights_only=True)
    model = KeypointMatcher(32, 64)
    assert list(model.state_dict()) == list(state)
