"""Heterogeneous SoC DAG scheduling (DS3 / DeepSoCS): ``schedgym/SoCDAG-v0``.

Modules: ``env`` (the Gymnasium env), ``types``, ``platform`` (DS3 profiles), ``dag`` (ranks,
bandwidths), ``generator`` (workloads and instance-set recipes), ``fastsim`` (headless core).
Importing the package imports none of them.
"""
