"""Trace loaders, calibrated generators' data and fixed test instance sets."""
