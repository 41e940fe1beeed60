r"""Globe TSP (paper Sec. 4.4, Table 6, Fig. 4, Table 8): learning where
countries lie from their flags, through a TSP solver.

A CNN maps every country's flag to a point on the unit sphere; the pairwise
distances are the edge costs of IdentityTSP (projection P_std) and the L1
loss to the optimal tour through the capitals trains the CNN. Paper claims:
the noise margin during the first 50 of 100 epochs prevents cost collapse
and lifts full-tour accuracy (TSP(5) 91.09 -> 99.67, TSP(10) 85.31 -> 99.72,
TSP(20) 88.45 -> 99.78 with alpha = 0.1); Identity trains TSP(10) in 53.1
vs 84.6 minutes for Blackbox (ratio 0.63); under gradient noise or label
corruption Identity degrades less than Blackbox (Fig. 4a, b) and its cost
norm does not collapse when the margin is switched off (Fig. 4c).

    # Table 6 (paper settings: 100 epochs, 10k examples, lr 1e-4, batch 50)
    python examples/globe_tsp.py --k 10 --noise 0.1
    python examples/globe_tsp.py --k 10 --noise 0
    # Table 8: Identity vs Blackbox train time per epoch
    python examples/globe_tsp.py --k 10 --backward blackbox --lambda 20
    # Fig. 4: robustness on TSP(20)
    python examples/globe_tsp.py --k 20 --grad-noise 0.25 [--backward blackbox]
    python examples/globe_tsp.py --k 20 --label-noise 0.5 [--backward blackbox]
    # An affordable CPU setting (minutes)
    python examples/globe_tsp.py --k 5 --num-train 5000 --num-test 500 \
        --epochs 30 --lr 1e-3 --noise 0.1 --threads 1
"""
from pyg_identity.experiments.globe_tsp import main

if __name__ == '__main__':
    main()
