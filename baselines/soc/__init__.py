"""SoC DAG scheduling baselines (``schedgym/SoCDAG-v0``): one module per algorithm; ``common``
holds the list-scheduling algorithms (ranks, HEFT, CPOP) and the env adapters they share."""
