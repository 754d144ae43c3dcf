"""Heterogeneous SoC DAG scheduling (DS3 / DeepSoCS): ``schedgym/SoCDAG-v0``."""

from schedgym.envs.soc.env import SoCDAGEnv
from schedgym.envs.soc.generator import RandomDagParams, random_dag
from schedgym.envs.soc.platform import ds3_app, ds3_app_names, get_platform, topcuoglu_instance
from schedgym.envs.soc.types import Job, Platform, SoCInstance, SoCState

__all__ = [
    "SoCDAGEnv", "RandomDagParams", "random_dag", "ds3_app", "ds3_app_names", "get_platform",
    "topcuoglu_instance", "Job", "Platform", "SoCInstance", "SoCState",
]
