"""SchedGym: Gymnasium environments, baselines and GNN policies for learned scheduling.

Importing ``schedgym`` registers every env id, so ``gym.make("schedgym/VMReschedule-v2")`` works
after it and ``gym.make("schedgym:schedgym/VMReschedule-v2")`` works without any prior import.
The installed packages are ``schedgym.envs``, ``schedgym.baselines``, ``schedgym.policies`` and
``schedgym.data``; in the repository they are the top-level folders of the same names.
"""

from schedgym import envs  # noqa: F401  (registers the env ids)

__version__ = "0.1.0"
