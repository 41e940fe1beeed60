"""Which cosine does the paper's Fig. 7 report? (claim 11, issue 9 item 5)

The paper: on the DVAE, "the cosine similarity between -dl/dy and the
projected update is < 0.05 throughout training" (P_std). Ours, per latent
block, is about 0.8. This script trains a DVAE (Identity, P_std) and, at
initialisation and after every epoch, computes on a fixed batch (fixed
Sum-of-Gamma noise) the cosine between the plain Identity update
u = +dl/dz (top-k is an argmax) and the update that reaches the logits,
under several definitions:

* ``block``: per latent block (20 entries), averaged over blocks and samples
  (what ``SolverDiagnostics.grad_cosine`` reports);
* ``sample``: over the whole latent vector of a sample (20 x 20 entries),
  averaged over samples;
* ``batch``: over the whole batch, flattened;
* ``*_nosog``: the same with the projection's Jacobian taken at the logits
  without the Sum-of-Gamma sampling noise;
* ``*_total``: against the full gradient of the N-ELBO w.r.t. the logits,
  i.e. the projected update plus the KL term's gradient;
* ``*_flipsign``: the projected update against -dl/dz, the sign of an
  argmin solver (a sign convention error would show here).

    python benchmarks/dvae_cosine.py --root ../shared/data/mnist --epochs 5
"""
import argparse
import json
import os
from typing import Dict

import torch
import torch.nn.functional as F

from pyg_identity import project
from pyg_identity.experiments.dvae import load_data
from pyg_identity.experiments.dvae import parser as dvae_parser
from pyg_identity.experiments.dvae import train as dvae_train
from pyg_identity.models.dvae import DVAE, sum_of_gamma_noise


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Row-wise cosine of two [R, D] matrices.
    return F.cosine_similarity(a, b, dim=-1, eps=1e-30)


def cosines(model: DVAE, x: torch.Tensor, seed: int) -> Dict[str, float]:
    torch.manual_seed(seed)
    B, N, M = x.size(0), model.num_blocks, model.block_size
    logits = model.encode(x).detach().requires_grad_()
    eps = sum_of_gamma_noise(logits.shape, model.k, model.tau, model.s)
    rows = torch.arange(B * N).repeat_interleave(M)

    def projected(src: torch.Tensor) -> torch.Tensor:
        return project(src.reshape(-1), rows, num_graphs=B * N,
                       mode='std').view(B, N, M)

    # The forward pass of the Identity top-k with P_std on logits + SoG.
    scores = logits + eps
    z = model.topk(scores.reshape(-1, M)).view(B, N, M)
    z_leaf = z.detach().requires_grad_()
    x_logits = model.decode(z_leaf)
    rec = F.binary_cross_entropy_with_logits(
        x_logits, x.reshape(B, -1), reduction='none').sum(-1).mean()
    dl_dz, = torch.autograd.grad(rec, z_leaf)
    naive = dl_dz  # argmax solver: the Identity update is +dl/dz

    def pullback(at: torch.Tensor) -> torch.Tensor:
        src = at.detach().requires_grad_()
        out, = torch.autograd.grad(projected(src), src, naive)
        return out

    upd = pullback(scores)
    upd_nosog = pullback(logits)
    # Full gradient w.r.t. the logits: projected update + KL gradient.
    log_q = torch.log_softmax(logits, dim=-1)
    kl = (log_q.exp() * (log_q + torch.log(torch.tensor(float(M))))).sum(
        dim=(-2, -1)).mean()
    kl_grad, = torch.autograd.grad(kl, logits)
    total = upd + kl_grad

    out: Dict[str, float] = {}
    for name, a, b in (('', naive, upd), ('_nosog', naive, upd_nosog),
                       ('_total', naive, total),
                       ('_flipsign', -naive, upd)):
        out[f'block{name}'] = float(_cos(a.reshape(-1, M),
                                         b.reshape(-1, M)).mean())
        out[f'sample{name}'] = float(_cos(a.reshape(B, -1),
                                          b.reshape(B, -1)).mean())
        out[f'batch{name}'] = float(_cos(a.reshape(1, -1),
                                         b.reshape(1, -1)).mean())
    # The share of dl/dz that lies along the block-wise constant direction
    # (what P_mean removes).
    mean_part = naive.mean(-1, keepdim=True).expand_as(naive)
    out['mean_share'] = float(mean_part.norm() / naive.norm())
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--root', default=None)
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None)
    args = p.parse_args(argv)
    dargs = dvae_parser().parse_args(
        ['--projection', 'std', '--quiet'] +
        (['--root', args.root] if args.root else []))
    torch.manual_seed(args.seed)
    train_x, test_x, split = load_data(dargs)
    model = DVAE(k=10, projection='std')
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    probe = test_x[:100]
    rows = []
    for epoch in range(0, args.epochs + 1):
        if epoch > 0:
            dvae_train(model, opt, train_x, 100, True)
        model.train()
        rows.append(dict(epoch=epoch, **cosines(model, probe, seed=1)))
        r = rows[-1]
        print(f"epoch {epoch}: block {r['block']:.3f}  sample "
              f"{r['sample']:.3f}  batch {r['batch']:.3f}  block_nosog "
              f"{r['block_nosog']:.3f}  block_total {r['block_total']:.3f}"
              f"  mean_share {r['mean_share']:.3f}", flush=True)
    keys = [k for k in rows[0] if k != 'epoch']
    print('\n| definition | ' + ' | '.join(f'epoch {r["epoch"]}'
                                          for r in rows) + ' |')
    print('|---|' + '---|' * len(rows))
    for k in keys:
        print(f'| {k} | ' + ' | '.join(f'{r[k]:.3f}' for r in rows) + ' |')
    result = dict(data=split, rows=rows)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)),
                    exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
