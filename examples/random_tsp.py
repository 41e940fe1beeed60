r"""Learning edge costs for Euclidean TSP through a TSP solver (RandomTSP).

A small GNN (GIN(E) layers on the complete graph, a symmetric EdgeCost head)
predicts the edge costs of random uniform TSP instances; IdentityTSP
(projection P_std, LKH-3 with one run) returns the tour, and the Hamming
loss to the optimal tour trains the GNN through the Identity gradient
(paper Sec. 3.2; no extra solver call on the backward pass, unlike
Blackbox). It also shows the paper's claim 7 outside the Globe task: the
noise margin during the first half of training prevents the cost collapse
around ties and reaches (near-)optimal tours. Reported: the optimality gap
of the predicted tour (%) and the fraction of exactly optimal tours; tours
are drawn into the run folder (tours.png).

    python examples/random_tsp.py --nodes 20 --threads 1
    python examples/random_tsp.py --nodes 20 --noise 0            # no margin
    python examples/random_tsp.py --nodes 20 --backward blackbox  # BB
    python examples/random_tsp.py --nodes 50 --epochs 4 --num-train 1000 \
        --num-test 100 --noise 0.05
    python examples/random_tsp.py --nodes 20-50                   # ragged
    torchrun --nproc_per_node 2 examples/random_tsp.py --nodes 20   # DDP
"""
from pyg_identity.experiments.random_tsp import main

if __name__ == '__main__':
    main()
