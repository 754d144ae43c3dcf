"""On the fixed small test set the baselines rank as they must: CP-SAT ≤ greedy on every
instance (greedy's plan is CP-SAT's incumbent), greedy ≤ random on average."""

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
    # CP-SAT starts from greedy's plan, so even a plan cut off by the budget is no worse (before
    # the incumbent, small-test/7 ended at 0.789 against greedy's 0.684).
    proven = status[status == "optimal"].index
    assert len(proven) >= 5  # measured: 10 of 20 (budget 10 deterministic s)
    assert (final["cpsat"] <= final["greedy"] + 1e-12).all()
    assert final["greedy"].mean() < final["random"].mean()
    assert final["cpsat"].mean() < final["greedy"].mean()
