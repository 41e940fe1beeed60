import pytest
import torch

from pyg_identity.nn.functional import hamming_loss


def test_hamming_loss_per_graph_and_forms():
    y = torch.tensor([1., 0., 1., 0., 1.], requires_grad=True)
    t = torch.tensor([1., 1., 0., 0., 1.])
    batch = torch.tensor([0, 0, 0, 1, 1])
    per = hamming_loss(y, t, batch, reduction='none')
    assert per.tolist() == [2.0, 0.0]
    assert hamming_loss(y, t, batch).item() == 1.0
    assert hamming_loss(y, t, batch, reduction='sum').item() == 2.0
    assert hamming_loss(y, t).item() == 2.0  # one graph
    # Same value in every form on 0/1 indicators, different gradients.
    grads = {}
    for form in ('l1', 'squared', 'bbgm'):
        loss = hamming_loss(y, t, batch, form=form, reduction='sum')
        assert loss.item() == 2.0
        grads[form], = torch.autograd.grad(loss, y)
    assert grads['l1'].tolist() == [0., -1., 1., 0., 0.]
    assert torch.equal(grads['squared'], 2 * grads['l1'])
    assert grads['bbgm'].tolist() == [-1., -1., 1., 1., -1.]
    # Empty graphs count as zero loss; rows of a 2-D indicator are summed.
    assert hamming_loss(y, t, batch + 1, num_graphs=3,
                        reduction='none').tolist() == [0., 2., 0.]
    y2 = torch.ones(3, 4)
    assert hamming_loss(y2, torch.zeros(3, 4),
                        torch.tensor([0, 1, 1])).item() == 6.0


@pytest.mark.parametrize('kwargs,match', [
    (dict(y_true=torch.zeros(4)), "'y_true'"),
    (dict(batch=torch.zeros(3)), "'batch'"),
    (dict(batch=torch.zeros(2, dtype=torch.long)), "'batch'"),
    (dict(form='hinge'), "'form'"),
    (dict(reduction='max'), "'reduction'"),
    (dict(num_graphs=2), "'num_graphs'"),
])
def test_hamming_loss_bad_input(kwargs, match):
    args = dict(y=torch.zeros(3), y_true=torch.zeros(3))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        hamming_loss(**args)
    with pytest.raises(ValueError, match="'y'"):
        hamming_loss(torch.zeros(3, dtype=torch.long), torch.zeros(3))
