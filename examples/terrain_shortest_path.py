r"""Shortest paths on Warcraft-style terrain maps (paper Sec. 5.6, Suppl. B.5,
Table 7; claim 10: "Warcraft parity").

A small ResNet (:class:`pyg_identity.models.terrain_net.TerrainNet`) reads
the RGB image of a procedurally generated :math:`k \times k` terrain map
(:class:`pyg_identity.datasets.TerrainShortestPath`) and predicts one
non-negative (softplus) cost per cell; Dijkstra
(:class:`pyg_identity.nn.IdentityShortestPath`, vertex costs on the
8-neighbourhood grid) returns the cheapest top-left to bottom-right path;
the L1 loss to the true path trains the network through the Identity or
the Blackbox backward. The metric is the cost ratio
:math:`100 \cdot \langle c^*, \hat{y}\rangle / \langle c^*, y^*\rangle`
under the true costs (100 = optimal, lower is better).

Paper claim: the Identity backward is on par with Blackbox (cost ratio
101.0 vs 100.9 on 32x32 maps), and neither :math:`P_{\text{norm}}` nor a
noise margin of 0.2 makes a significant difference.

Reproduce Table 7 (paper setting; hours on a CPU)::

    python examples/terrain_shortest_path.py --backward identity
    python examples/terrain_shortest_path.py --backward blackbox
    python examples/terrain_shortest_path.py --backward identity \
        --projection norm
    python examples/terrain_shortest_path.py --backward blackbox \
        --projection norm
    python examples/terrain_shortest_path.py --backward identity --noise 0.2
    python examples/terrain_shortest_path.py --backward blackbox --noise 0.2

An affordable CPU setting (a few minutes per run; the ``terrain12``
checkpoint)::

    python examples/terrain_shortest_path.py --num-train 1000 --num-val 100 \
        --num-test 200 --epochs 5 --batch-size 32 --save models/terrain12.pt

Smoke test (seconds)::

    python examples/terrain_shortest_path.py --tiny
"""
from pyg_identity.experiments.terrain_shortest_path import main

if __name__ == '__main__':
    main()
