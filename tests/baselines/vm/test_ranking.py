"""On the fixed small test set the baselines rank as they must: CP-SAT ≤ greedy ≤ random (per
instance where CP-SAT proves its plan optimal, on average everywhere)."""

from __future__ import annotations

import functools

from schedgym import baselines
from schedgym.policies.evaluation import evaluate
from schedgym.envs.vm.env import VMRescheduleEnv


def test_cpsat_beats_greedy_beats_random_on_small_test() -> None:
    instance_set = VMRescheduleEnv.load_instance_set("small-test")
    schedulers = {name: functools.partial(baselines.make, "schedgym/VMReschedule-v2", name) for name in ("random", "greedy", "cpsat")}
    results = evaluate("schedgym/VMReschedule-v2", instance_set, schedulers, seeds=[0], progress=False)
    final = results.pivot(index="instance", columns="policy", values="fragment_rate")
    status = results[results["policy"] == "cpsat"].set_index("instance")["solver_status"]
    # An optimal plan within MNL moves is never worse than greedy's sequence of at most MNL moves.
    # A plan cut off by the budget may be: on v2's small-test/7 CP-SAT finds no move in 10
    # deterministic seconds where greedy makes one (on v1's sets every instance was proven).
    proven = status[status == "optimal"].index
    assert len(proven) >= 5  # measured: 10 of 20 (budget 10 deterministic s)
    assert (final.loc[proven, "cpsat"] <= final.loc[proven, "greedy"] + 1e-12).all()
    assert final["greedy"].mean() < final["random"].mean()
    assert final["cpsat"].mean() < final["greedy"].mean()
