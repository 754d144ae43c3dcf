"""Ray as a backend: the leaderboard's episodes and the LLM capacity search's runs on Ray actors,
with the same results as running them in this process.

:func:`connect` joins a Ray cluster (``ray start --head`` on one node, ``ray start --address
HEAD:6379`` on the others; ``address="auto"`` finds the cluster of this node, ``ray://HOST:10001``
goes through Ray Client) or starts a local Ray. :class:`RayEpisodes` keeps a pool of actors, each
holding the schedulers of the run, built once per actor by the harness's own
:func:`~schedgym.policies.evaluation.build_schedulers`; every episode is the harness's
:func:`~schedgym.policies.evaluation.run_episode` on one of them, so a row differs from the local
one only in its wall time. Results come back in the order of the jobs, whichever actor finishes
first, so rows are also appended in the local order. :func:`map_ordered` does the same for plain
functions (Ray tasks), and :class:`NamedScheduler` is a scheduler factory that can be sent to
them. Training rollouts on Ray actors are :mod:`policies.ray_vec_env`.

Every node needs SchedGym installed (the same version) and policy files at the same path.
Ray is the optional extra ``schedgym[ray]``; it is imported only when this module is used.
"""

from __future__ import annotations

import functools
import logging
import socket
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import gymnasium as gym

from schedgym.data.instance_sets import InstanceSet
from schedgym.envs.validation import argument_error, check_int
from schedgym.policies.evaluation import EpisodeResult, build_schedulers, run_episode

ADDRESS_FORMS = "auto, HOST:PORT or ray://HOST:PORT"
#: Seconds to wait for a TCP connection to ``--address`` before calling it unreachable (Ray itself
#: retries for minutes).
PROBE_TIMEOUT_S = 5.0
#: Jobs queued on each actor beyond the one it runs, so that it never waits for the driver.
QUEUED_PER_ACTOR = 1


def import_ray() -> Any:
    """The ``ray`` module, or a ``ValueError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ValueError("the ray backend needs Ray: pip install 'schedgym[ray]'") from None
    return ray


def connect(address: str | None = None) -> Any:
    """Makes sure this process is connected to Ray and returns the ``ray`` module.

    Args:
        address: ``None`` starts a local Ray on every CPU here (or joins ``RAY_ADDRESS``);
            ``"auto"`` joins the cluster started on this node; ``HOST:PORT`` joins the cluster
            whose head listens there (the GCS port, 6379 by default); ``ray://HOST:PORT``
            connects through Ray Client (port 10001 by default). If Ray is already initialised
            in this process, that Ray is kept (a bad address is refused all the same).

    Raises:
        ValueError: If Ray is not installed, ``address`` is malformed, nothing listens there or
            no cluster runs on this node; the message names the address.
    """
    ray = import_ray()
    if address is not None:
        _check_reachable(address)
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, ValueError) as error:
        where = f"--address {address!r}" if address else "a local Ray"
        raise ValueError(f"{where}: cannot connect to Ray ({error}); start a cluster with "
                         f"`ray start --head` and pass its address, {ADDRESS_FORMS}") from None
    return ray


def _check_reachable(address: str) -> None:
    """Fails fast on a malformed address or a closed port, where ``ray.init`` would retry for
    minutes; ``auto`` is left to Ray (it fails at once when no cluster runs here)."""
    if not isinstance(address, str):
        raise argument_error("--address", address, ADDRESS_FORMS, wrong_type=True)
    if address == "auto":
        return
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argument_error("--address", address, ADDRESS_FORMS)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as error:
        raise ValueError(f"--address {address!r}: nothing answers at {host}:{port} ({error}); "
                         "start a cluster with `ray start --head` and pass its address") from None


def cluster_cpus(ray: Any) -> int:
    """Whole CPUs of the connected cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class _EpisodeWorker:
    """A Ray actor's state: the run's schedulers, built once, and an env for the current set."""

    def __init__(self, env_id: str, policies: Sequence[str], best_of: int, temperature: float,
                 headless: bool, pilot: tuple[int, ...] | None = None) -> None:
        self.env_id, self.headless = env_id, headless
        self.schedulers: dict[str, Callable[[], Any]] = {}
        self.error = ""  # kept for the driver: an actor that fails to start gives only a traceback
        try:
            self.schedulers, _ = build_schedulers(env_id, policies, best_of, temperature, pilot)
        except ValueError as error:
            self.error = str(error)
        self.set_id: str | None = None
        self.instance_set: InstanceSet | None = None
        self.env: Any = None

    def labels(self) -> tuple[list[str], str]:
        """The scheduler labels, and why the policies could not be loaded ("" if they were)."""
        return list(self.schedulers), self.error

    def run(self, set_ref: list[Any], index: int, label: str, seed: int) -> EpisodeResult:
        """One episode; ``set_ref`` is ``[ObjectRef]`` of the instance set (in a list so that
        Ray passes the reference and the set is fetched once per actor, not per episode)."""
        import ray

        if self.set_id != set_ref[0].hex():
            if self.env is not None:
                self.env.close()
            self.set_id, self.instance_set = set_ref[0].hex(), ray.get(set_ref[0])
            self.env = gym.make(self.env_id, **self.instance_set.env_kwargs)
        instance = self.instance_set.instances[index]
        return run_episode(self.env, self.schedulers[label](), instance, seed, self.headless)


class RayEpisodes:
    """Runs leaderboard episodes on a pool of Ray actors (see the module docstring).

    Attributes:
        labels: The scheduler labels, as :func:`~schedgym.policies.evaluation.build_schedulers`
            gives them for the same arguments.
    """

    def __init__(self, env_id: str, policies: Sequence[str], best_of: int = 1,
                 temperature: float = 1.0, headless: bool = True, address: str | None = None,
                 workers: int | None = None, pilot: tuple[int, ...] | None = None) -> None:
        """Connects to Ray (:func:`connect`) and starts ``workers`` actors (default: one per CPU
        of the cluster), each loading the policies once.

        Raises:
            ValueError: On a bad ``address`` or ``workers``, or a policy an actor cannot load.
        """
        ray = connect(address)
        if workers is not None:
            workers = check_int("--workers", workers, low=1)
        remote = ray.remote(num_cpus=1)(_EpisodeWorker)
        self._ray = ray
        self._actors = [remote.remote(env_id, list(policies), best_of, temperature, headless, pilot)
                        for _ in range(workers or cluster_cpus(ray))]
        self.labels, error = ray.get(self._actors[0].labels.remote())
        if error:
            self.close()
            raise ValueError(f"a Ray worker cannot load the policies: {error}")

    def run(self, instance_set: InstanceSet,
            jobs: Sequence[tuple[int, str, int]]) -> Iterator[EpisodeResult]:
        """The results of the episodes ``jobs`` = (instance index, label, seed), in their order,
        each as soon as it and every earlier one have ended."""
        unknown = {label for _, label, _ in jobs} - set(self.labels)
        if unknown:
            raise ValueError(f"the Ray workers have no scheduler {sorted(unknown)}; "
                             f"they have {self.labels}")
        set_ref = [self._ray.put(instance_set)]
        yield from _dispatch(self._ray, self._actors, jobs,
                             lambda actor, job: actor.run.remote(set_ref, *job))

    def close(self) -> None:
        """Stops the actors (Ray itself stays up for other users in this process)."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    def __enter__(self) -> RayEpisodes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _dispatch(ray: Any, actors: Sequence[Any], jobs: Sequence[Any],
              submit: Callable[[Any, Any], Any]) -> Iterator[Any]:
    """Runs ``jobs`` on ``actors`` and yields the results in job order.

    Each actor holds up to ``1 + QUEUED_PER_ACTOR`` jobs; when one ends the actor gets the next
    job, so long and short episodes balance. A result that ends before an earlier one waits
    here until that one has ended.
    """
    pending = iter(enumerate(jobs))
    in_flight: dict[Any, tuple[int, Any]] = {}

    def feed(actor: Any) -> None:
        item = next(pending, None)
        if item is not None:
            in_flight[submit(actor, item[1])] = (item[0], actor)

    for actor in actors:
        for _ in range(1 + QUEUED_PER_ACTOR):
            feed(actor)
    finished: dict[int, Any] = {}
    next_index = 0
    while in_flight:
        (ready,), _ = ray.wait(list(in_flight), num_returns=1)
        index, actor = in_flight.pop(ready)
        finished[index] = ray.get(ready)
        feed(actor)
        while next_index in finished:
            yield finished.pop(next_index)
            next_index += 1


@dataclass(frozen=True)
class NamedScheduler:
    """A scheduler factory that pickles: it holds the scheduler's name (a baseline, a policy file
    or ``pretrained:NAME``) and builds the scheduler in whichever process calls it, a loaded
    policy (an onnxruntime session, which does not pickle) once per process."""

    env_id: str
    name: str

    def __call__(self) -> Any:
        return _schedulers(self.env_id, self.name)[self.name]()


@functools.cache
def _schedulers(env_id: str, name: str) -> dict[str, Callable[[], Any]]:
    return build_schedulers(env_id, [name])[0]


def map_ordered(function: Callable[..., Any], arguments: Iterable[tuple[Any, ...]],
                address: str | None = None) -> list[Any]:
    """``[function(*args) for args in arguments]``, each call a Ray task (one CPU)."""
    ray = connect(address)
    remote = _remote_function(function)
    return ray.get([remote.remote(*args) for args in arguments])


@functools.cache
def _remote_function(function: Callable[..., Any]) -> Any:
    """``function`` as a Ray task of one CPU, made once (each making ships the function)."""
    import ray

    return ray.remote(num_cpus=1)(function)
