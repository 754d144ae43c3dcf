"""Routers (global schedulers) of ``schedgym/LLMCluster-v0``."""
