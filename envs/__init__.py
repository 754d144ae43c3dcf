"""SchedGym's environment registry: every env id, one comment each with its default configuration.

Importing ``envs`` registers the ids with Gymnasium, so ``gym.make("schedgym/<Name>-v0")`` works.
"""

from __future__ import annotations

from gymnasium.envs.registration import load_env_creator, register, registry, spec

ENV_IDS: tuple[str, ...] = (
    # VM rescheduling (VMR2L): size="medium" (280 PMs, about 1,800 VMs), MNL 50, FR granularity 16,
    # instances from the Google-2011-calibrated generator (trace_dir= for real traces).
    "schedgym/VMReschedule-v1",
    # SoC DAG scheduling (DS3/DeepSoCS): 16-PE DS3 SoC, streaming 40 jobs of the 6 DS3 apps at
    # 20 jobs/ms, no noise, 128 task slots, two-step (task, PE) pointer decisions.
    "schedgym/SoCDAG-v0",
)

_ENTRY_POINTS = {
    "schedgym/VMReschedule-v1": "schedgym.envs.vm.env:VMRescheduleEnv",
    "schedgym/SoCDAG-v0": "schedgym.envs.soc.env:SoCDAGEnv",
}

for _env_id in ENV_IDS:
    if _env_id not in registry:
        register(id=_env_id, entry_point=_ENTRY_POINTS[_env_id])


def env_class(env_id: str) -> type:
    """The env class registered as ``env_id`` (for its class-level data: instance sets, metrics)."""
    return load_env_creator(spec(env_id).entry_point)
