"""On the fixed small test set the baselines rank as they must: CP-SAT ≤ greedy ≤ random."""

from __future__ import annotations

import functools

from schedgym import baselines
from schedgym.policies.evaluation import evaluate
from schedgym.envs.vm.env import VMRescheduleEnv


def test_cpsat_beats_greedy_beats_random_on_small_test() -> None:
    instance_set = VMRescheduleEnv.load_instance_set("small-test")
    schedulers = {name: functools.partial(baselines.make, "schedgym/VMReschedule-v1", name) for name in ("random", "greedy", "cpsat")}
    results = evaluate("schedgym/VMReschedule-v1", instance_set, schedulers, seeds=[0], progress=False)
    final = results.pivot(index="instance", columns="policy", values="fragment_rate")
    # An optimal plan within MNL moves is never worse than greedy's sequence of at most MNL moves;
    # CP-SAT is hinted with the start and finds far better plans than greedy well within its time
    # limit, so even a plan cut off by the limit keeps this order.
    assert (final["cpsat"] <= final["greedy"] + 1e-12).all()
    assert final["greedy"].mean() < final["random"].mean()
    assert final["cpsat"].mean() < final["greedy"].mean()
