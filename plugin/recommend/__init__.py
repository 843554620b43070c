"""Course recommendations without a database: ``data`` (Interactions, TrustEdges), ``engine`` (fit, recommend,
explain, also_took), ``offline`` (CSV contract and evaluation), ``synthetic`` (generator), ``cli`` (commands).

Import the submodules directly; this package imports nothing, so ``plugin.recommend.cli`` stays cheap to load.
"""
