import pytest
import torch

from pyg_identity.models.retrieval import RetrievalNet
from pyg_identity.nn.functional.ranking import identity_recall_loss


def small(**kwargs) -> RetrievalNet:
    kwargs.setdefault('in_channels', 12)
    kwargs.setdefault('hidden_channels', 16)
    kwargs.setdefault('out_channels', 4)
    return RetrievalNet(**kwargs)


def batch(n: int = 10, classes: int = 3, dtype=torch.float32):
    x = torch.rand(n, 12, dtype=dtype)
    y = torch.arange(n) % classes
    return x, y


def test_default_architecture_and_unit_embeddings():
    model = RetrievalNet()
    assert [lin.in_channels for lin in model.mlp.lins] == [784, 512]
    assert model.mlp.lins[-1].out_channels == 64
    assert model.criterion.projection == 'std'
    assert model.criterion.lambda_ == 0.2
    emb = model(torch.rand(3, 1, 28, 28))
    assert emb.shape == (3, 64)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert str(model) == ("RetrievalNet(784, 64, projection='std', "
                          "backward='identity')")


def test_scores_exclude_self_pairs():
    q = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    mem = torch.nn.functional.normalize(torch.randn(2, 4), dim=-1)
    ql, ml = torch.tensor([0, 1, 0]), torch.tensor([1, 0])
    keys, labels = torch.cat([q, mem]), torch.cat([ql, ml])
    sim, rel = RetrievalNet.scores(q, ql, keys, labels)
    assert sim.shape == rel.shape == (3, 4)
    for i in range(3):
        others = [j for j in range(5) if j != i]
        assert torch.allclose(sim[i], keys[others] @ q[i])
        assert torch.equal(rel[i], labels[others] == ql[i])
    full, full_rel = RetrievalNet.scores(q, ql, keys, labels, False)
    assert full.shape == full_rel.shape == (3, 5)


def test_loss_is_recall_loss_of_scores():
    model = small()
    x, y = batch()
    emb = model(x)
    sim, rel = model.scores(emb, y, emb, y)
    expected = identity_recall_loss(sim, rel)
    assert torch.allclose(model.loss(emb, y), expected)
    assert 0.0 < expected.item()


@pytest.mark.parametrize('backward', ['identity', 'blackbox'])
@pytest.mark.parametrize('projection', ['mean', 'norm', 'std'])
def test_gradient_reaches_backbone(projection, backward):
    model = small(projection=projection, backward=backward, lambda_=5.0)
    x, y = batch(16)
    emb = model(x)
    mem = torch.nn.functional.normalize(torch.randn(6, 4), dim=-1)
    model.loss(emb, y, mem, torch.arange(6) % 3).backward()
    grad = model.mlp.lins[0].weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0


def test_no_projection_identity_gradient_vanishes():
    # The Identity gradients of the two rankings of the recall loss cancel
    # (the paper's 13.9 R@1 row): nothing reaches the backbone.
    model = small(projection=None)
    x, y = batch(16)
    model.loss(model(x), y).backward()
    assert float(model.mlp.lins[0].weight.grad.abs().sum()) == 0.0


def test_training_lowers_loss():
    torch.manual_seed(0)
    model = small(projection='std')
    x, y = batch(32, classes=4)
    x = x + torch.nn.functional.one_hot(y, 12).float()  # Separable classes.
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = model.loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_smooth_parts_gradcheck():
    model = small().double()
    x = torch.rand(4, 12, dtype=torch.float64, requires_grad=True)
    key = torch.rand(3, 4, dtype=torch.float64)

    def similarities(x):
        emb = model(x)
        return model.scores(emb, torch.arange(4), torch.cat([emb, key]),
                            torch.arange(7))[0]

    assert torch.autograd.gradcheck(similarities, (x, ))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_dtypes(dtype):
    model = small().to(dtype)
    x, y = batch(dtype=dtype)
    emb = model(x)
    loss = model.loss(emb, y)
    assert emb.dtype == loss.dtype == dtype


@pytest.mark.parametrize('kwargs, match', [
    (dict(out_channels=0), "'out_channels' must be a positive integer"),
    (dict(hidden_channels=2.0), "'hidden_channels' must be a positive"),
    (dict(projection='sum'), "Invalid 'projection'"),
    (dict(lambda_=0.0), "'lambda_' must be positive"),
    (dict(noise=-1.0), "'noise' must be non-negative"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small(**kwargs)


def test_bad_inputs():
    model = small()
    x, y = batch(4)
    emb = model(x)
    with pytest.raises(ValueError, match="'x' must have 12 entries"):
        model(torch.rand(2, 11))
    with pytest.raises(ValueError, match="same number of columns"):
        model.scores(emb, y, torch.rand(4, 3), y)
    with pytest.raises(ValueError, match="one label per row"):
        model.scores(emb, y[:3], emb, y)
    with pytest.raises(ValueError, match="'exclude_self' needs the queries"):
        model.scores(emb, y, emb[:2], y[:2])
    with pytest.raises(ValueError, match="must be given together"):
        model.loss(emb, y, emb)


def test_gradient_settings_are_keyword_only_and_accept_a_settings_object():
    from pyg_identity.nn.functional import GradientSettings
    with pytest.raises(TypeError):
        RetrievalNet(12, 16, 4, 'std')
    settings = GradientSettings(projection='mean', backward='blackbox')
    model = small(settings=settings)
    assert model.criterion.settings is settings
    assert model.criterion.lambda_ == 20.0  # the object's, not the default
    model = small(settings=settings, lambda_=3.0)
    assert model.criterion.lambda_ == 3.0
    assert model.criterion.projection == 'mean'
    with pytest.raises(ValueError, match='unknown gradient setting'):
        small(normalize=True)


def test_state_dict_keys():
    assert list(small().state_dict()) == [
        'mlp.lins.0.weight', 'mlp.lins.0.bias', 'mlp.lins.1.weight',
        'mlp.lins.1.bias'
    ]
