"""Shared test settings."""

import warnings

import pytest


@pytest.fixture(autouse=True)
def _quiet_space_bound_warnings():
    # Graph features are unbounded by design (DESIGN.md); Gymnasium warns about every infinite bound.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Box observation space m.*")
        yield
