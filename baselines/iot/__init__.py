"""Baselines of ``schedgym/IoTPlacement-v0``."""
