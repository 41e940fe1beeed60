import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_identity import project
from pyg_identity.nn.functional import perfect_matching
from pyg_identity.nn.perfect_matching import IdentityPerfectMatching
from pyg_identity.solvers import solve_perfect_matching
from pyg_identity.solvers.perfect_matching import _perfect_matching


def random_graph(rng, n, p, both):
    # A random graph containing a random perfect matching.
    a, b = np.triu_indices(n, 1)
    perm = rng.permutation(n)
    pairs = {(min(u, v), max(u, v)) for u, v in perm.reshape(-1, 2).tolist()}
    keep = (rng.random(a.size) < p) | np.array(
        [(u, v) in pairs for u, v in zip(a, b)], dtype=bool)
    ei = np.stack([a[keep], b[keep]])
    if both:
        ei = np.concatenate([ei, ei[::-1]], axis=1)
    return ei[:, rng.permutation(ei.shape[1])]


def random_batch(rng, sizes, p=0.5, both=False):
    eis, batch, off = [], [], 0
    for g, n in enumerate(sizes):
        eis.append(random_graph(rng, n, p, both) + off)
        batch += [g] * n
        off += n
    edge_index = torch.from_numpy(np.concatenate(eis, axis=1))
    return edge_index, torch.tensor(batch, dtype=torch.long)


def brute_force_cost(n, edge_index, cost):
    # The cost of the cheapest perfect matching, by enumeration.
    best = {}
    for k, (u, v) in enumerate(edge_index.T.tolist()):
        key = (min(u, v), max(u, v))
        best[key] = best.get(key, 0.0) + cost[k]

    def rec(free):
        if not free:
            return 0.0
        u, rest = free[0], free[1:]
        return min([best[(u, v)] + rec([w for w in rest if w != v])
                    for v in rest if (u, v) in best] or [np.inf])

    return rec(list(range(n)))


def reference(c, edge_index, batch, num_graphs):
    # The pure solver on every graph of the batch.
    y = torch.zeros_like(c)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long),
                     torch.bincount(batch, minlength=num_graphs).cumsum(0)])
    for g in range(num_graphs):
        pos = (batch[edge_index[0]] == g).nonzero().view(-1)
        local = (edge_index[:, pos] - ptr[g]).numpy()
        y[pos] = torch.from_numpy(_perfect_matching(
            local, c[pos].detach().double().numpy(),
            int(ptr[g + 1] - ptr[g]))).to(y)
    return y


SIZES = [4, 2, 8, 6, 0, 6]


@pytest.mark.parametrize('both', [False, True])
def test_batch_matches_brute_force(both):
    rng = np.random.default_rng(0)
    edge_index, batch = random_batch(rng, SIZES, both=both)
    c = torch.randn(edge_index.size(1), dtype=torch.float64)
    y = IdentityPerfectMatching()(c, edge_index, batch,
                                  num_graphs=len(SIZES))
    ptr = np.concatenate([[0], np.cumsum(SIZES)])
    for g, n in enumerate(SIZES):
        pos = (batch[edge_index[0]] == g).nonzero().view(-1)
        local = (edge_index[:, pos] - int(ptr[g])).numpy()
        ref = brute_force_cost(n, local, c[pos].numpy())
        assert np.isclose(float(c[pos] @ y[pos]), ref)


@settings(max_examples=20, deadline=None)
@given(halves=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       seed=st.integers(0, 2**31 - 1), p=st.floats(0.0, 1.0),
       both=st.booleans())
def test_batch_output_is_a_perfect_matching(halves, seed, p, both):
    rng = np.random.default_rng(seed)
    sizes = [2 * h for h in halves]
    edge_index, batch = random_batch(rng, sizes, p, both)
    c = torch.randn(edge_index.size(1))
    y = IdentityPerfectMatching()(c, edge_index, batch)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    counts = torch.bincount(edge_index[:, y == 1].reshape(-1),
                            minlength=batch.numel())
    assert bool((counts == (2 if both else 1)).all())


def test_identity_surrogate_gradient_is_minus_g():
    rng = np.random.default_rng(1)
    edge_index, batch = random_batch(rng, SIZES)
    c = torch.randn(edge_index.size(1), dtype=torch.float64,
                    requires_grad=True)
    g = torch.randn(edge_index.size(1), dtype=torch.float64)
    layer = IdentityPerfectMatching(projection=None)
    (layer(c, edge_index, batch) * g).sum().backward()
    assert torch.equal(c.grad, -g)


@pytest.mark.parametrize('mode', ['std', 'mean', 'norm'])
def test_identity_gradient_with_projection_is_vjp(mode):
    rng = np.random.default_rng(2)
    edge_index, batch = random_batch(rng, SIZES)
    index = batch[edge_index[0]]
    c = torch.randn(edge_index.size(1), dtype=torch.float64,
                    requires_grad=True)
    g = torch.randn(edge_index.size(1), dtype=torch.float64)
    layer = IdentityPerfectMatching(projection=mode)
    (layer(c, edge_index, batch) * g).sum().backward()
    c2 = c.detach().clone().requires_grad_()
    ref, = torch.autograd.grad(project(c2, index, mode=mode), c2, -g)
    assert torch.allclose(c.grad, ref)


def test_default_projection_is_std():
    assert IdentityPerfectMatching().projection == 'std'


def test_blackbox_gradient_uses_perturbed_solver_call():
    rng = np.random.default_rng(3)
    edge_index, batch = random_batch(rng, SIZES, p=1.0)
    c = torch.randn(edge_index.size(1), dtype=torch.float64,
                    requires_grad=True)
    lam = 3.0
    layer = IdentityPerfectMatching(projection=None, backward='blackbox',
                                    lambda_=lam)
    y = layer(c, edge_index, batch)
    g = torch.randn(edge_index.size(1), dtype=torch.float64) + y.detach()
    (y * g).sum().backward()
    y_lam = reference(c.detach() + lam * g, edge_index, batch, len(SIZES))
    assert not torch.equal(y, y_lam)
    assert torch.allclose(c.grad, -(y.detach() - y_lam) / lam)


@pytest.mark.parametrize('both', [False, True])
def test_solution_invariant_to_shift_and_positive_scaling(both):
    rng = np.random.default_rng(4)
    edge_index, batch = random_batch(rng, SIZES, p=0.8, both=both)
    c = torch.randn(edge_index.size(1), dtype=torch.float64)
    layer = IdentityPerfectMatching(projection=None)
    y = layer(c, edge_index, batch)
    for scale, shift in ((0.01, 0.0), (100.0, 0.0), (1.0, 5.0), (1.0, -3.0),
                         (7.0, 2.5)):
        assert torch.equal(layer(scale * c + shift, edge_index, batch), y)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_output_dtype_shape_and_reference(dtype):
    rng = np.random.default_rng(5)
    edge_index, batch = random_batch(rng, SIZES)
    c = torch.randn(edge_index.size(1), dtype=dtype)
    y = IdentityPerfectMatching(projection=None)(c, edge_index, batch)
    assert y.dtype == dtype and y.shape == c.shape and y.device == c.device
    assert torch.equal(y, reference(c, edge_index, batch, len(SIZES)))


def test_listing_may_differ_between_graphs():
    # Graph 0 lists {0, 1} in both directions, graph 1 lists {2, 3} once.
    edge_index = torch.tensor([[0, 1, 2], [1, 0, 3]])
    y = IdentityPerfectMatching()(torch.ones(3), edge_index,
                                  torch.tensor([0, 0, 1, 1]))
    assert y.tolist() == [1.0, 1.0, 1.0]


def test_single_graph_without_batch():
    # A 4-cycle with chords: {0,1}, {2,3} is the cheapest perfect matching.
    edge_index = torch.tensor([[0, 1, 2, 3, 0, 1], [1, 2, 3, 0, 2, 3]])
    c = torch.tensor([1.0, 5.0, 1.0, 5.0, 0.0, 10.0])
    y = IdentityPerfectMatching()(c, edge_index)
    assert y.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.slow
def test_num_workers_gives_the_same_solution():
    rng = np.random.default_rng(6)
    edge_index, batch = random_batch(rng, SIZES)
    c = torch.randn(edge_index.size(1))
    y0 = IdentityPerfectMatching()(c, edge_index, batch)
    y2 = IdentityPerfectMatching(num_workers=2)(c, edge_index, batch)
    assert torch.equal(y0, y2)


EI = torch.tensor([[0, 2], [1, 3]])
B2 = torch.tensor([0, 0, 1, 1])
BAD = [
    ((torch.tensor([1.0, float('nan')]), EI), 'finite'),
    ((torch.tensor([1.0, float('inf')]), EI), 'finite'),
    ((torch.ones(2, dtype=torch.long), EI), 'floating point'),
    ((torch.ones(3), EI), "'cost' must have num_edges"),
    ((torch.ones(2, 1), EI), 'one-dimensional'),
    ((torch.ones(2), EI.float()), "'edge_index' must be an integer"),
    ((torch.ones(2), EI[0]), "'edge_index' must have shape"),
    ((torch.ones(2), EI, torch.tensor([0, 0, 0])), 'outside'),
    ((torch.ones(2), EI, torch.tensor([0, 0, 0, 0, 1])),
     r'even number of nodes \(got 1 nodes in graph 1\)'),
    ((torch.ones(2), EI, torch.tensor([0, 1, 1, 1])), 'different graphs'),
    ((torch.ones(2), EI, torch.tensor([1, 1, 0, 0])), 'sorted'),
    ((torch.ones(2), EI, None, 5), 'even number of nodes'),
    ((torch.ones(2), EI, B2, 3), "'num_nodes'"),
    ((torch.ones(1), torch.tensor([[0], [0]]), None, 2),
     'Graph 0 has no perfect matching'),
    ((torch.ones(3), torch.tensor([[0, 0, 0], [1, 2, 3]]), None, 4),
     'no perfect matching'),
    ((torch.zeros(0), torch.zeros(2, 0, dtype=torch.long), None, 2),
     'no perfect matching'),
    ((torch.ones(1), torch.zeros(2, 1, dtype=torch.long), None, 1),
     'even number of nodes'),
    ((torch.ones(3), torch.tensor([[0, 2, 0], [1, 3, 1]]), B2),
     'In graph 0: .*duplicate edges'),
    ((torch.ones(3), torch.tensor([[0, 1, 2], [1, 0, 3]])),
     'In graph 0: .*not a mix of both'),
]


@pytest.mark.parametrize('args,match', BAD)
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        IdentityPerfectMatching()(*args)


@pytest.mark.parametrize('kwargs,match', [
    ({'projection': 'max'}, "'projection'"),
    ({'backward': 'bb'}, "'backward'"),
    ({'lambda_': 0.0}, "'lambda_'"),
    ({'num_workers': 1.5}, "'num_workers'"),
    ({'timeout': True}, "'timeout' must be a positive"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityPerfectMatching(**kwargs)


def test_timeout_matches_in_process():
    rng = np.random.default_rng(7)
    edge_index, batch = random_batch(rng, SIZES)
    c = torch.randn(edge_index.size(1))
    assert torch.equal(IdentityPerfectMatching(timeout=60)(c, edge_index,
                                                           batch),
                       IdentityPerfectMatching()(c, edge_index, batch))


def test_functional_and_pure_solver_agree():
    rng = np.random.default_rng(8)
    edge_index, batch = random_batch(rng, SIZES)
    c = torch.randn(edge_index.size(1), dtype=torch.float32)
    y = perfect_matching(c, edge_index, batch, num_graphs=len(SIZES))
    assert torch.equal(y, solve_perfect_matching(c, edge_index, batch,
                                                 num_graphs=len(SIZES)))
    assert torch.equal(y, reference(c, edge_index, batch, len(SIZES)))


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        perfect_matching(torch.ones(2), EI, B2, None, None, 2)
    with pytest.raises(TypeError):
        IdentityPerfectMatching()(torch.ones(2), EI, B2, None, None, 2)


@pytest.mark.parametrize('args,match', [
    ((B2, EI), 'looks like a batch vector'),
    ((EI, torch.ones(2)), 'looks like an edge_index'),
    ((torch.ones(2), EI, torch.ones(4)), "'batch' must be an integer tensor "
     '.*looks like edge costs'),
])
def test_misplaced_integer_tensor_is_named(args, match):
    with pytest.raises(ValueError, match=match):
        IdentityPerfectMatching()(*args)


@pytest.mark.parametrize('name,value,match', [
    ('noise', -1, "'noise'"),
    ('backward', 'ste', "'backward'"),
    ('num_workers', 1.5, "'num_workers'"),
    ('timeout', -1, "'timeout' must be a positive"),
])
def test_invalid_assignment_raises(name, value, match):
    layer = IdentityPerfectMatching()
    attr = 'backward_mode' if name == 'backward' else name
    before = getattr(layer, attr)
    with pytest.raises(ValueError, match=match):
        setattr(layer, attr, value)
    assert getattr(layer, attr) == before


def test_generator_makes_the_margin_reproducible():
    rng = np.random.default_rng(9)
    edge_index, batch = random_batch(rng, SIZES, p=1.0)
    c = torch.randn(edge_index.size(1), dtype=torch.float64)

    def run(seed):
        layer = IdentityPerfectMatching(
            noise=5.0, generator=torch.Generator().manual_seed(seed)).train()
        return [layer(c, edge_index, batch) for _ in range(3)]

    first, again = run(0), run(0)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert any(not torch.equal(a, b) for a, b in zip(first, run(1)))
