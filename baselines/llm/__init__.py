"""Batching and scheduling baselines of ``schedgym/LLMServe-v0``."""
