"""LLM request batching: ``schedgym/LLMServe-v0``."""
