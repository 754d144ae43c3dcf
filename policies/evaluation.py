"""The leaderboard: run schedulers (baselines and learned policies alike) on fixed instance sets
and summarise the env's metrics.

:func:`build_schedulers` turns policy names into scheduler factories and :func:`load_instance_sets`
checks set names; both raise ``ValueError`` with a message for the user, so ``evaluate.py``,
notebooks and sweeps share them. Every episode is recorded with its action sequence, so any row
can be replayed and checked (``replay``): the same instance, seed and actions must give the same
metrics. :class:`ResultsFile` is the results CSV: each row appended as its episode ends, safe
against kills and concurrent writers, and resumable.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import gymnasium as gym
import numpy as np
import pandas as pd
from tqdm import tqdm

from schedgym import baselines, envs
from schedgym.baselines.base import Scheduler
from schedgym.data.instance_sets import InstanceSet

KEY_COLUMNS = ("env_id", "instance_set", "instance", "policy", "seed")
"""The columns that identify an episode: a results file holds at most one row per key."""


MAX_FIELD_BYTES = 1 << 30  # the longest CSV field a results file may hold (the actions)

@dataclass
class EpisodeResult:
    """One episode of one scheduler on one instance.

    Attributes:
        metrics: The final ``info`` value of each of the env's ``leaderboard_metrics``.
        wall_s: Wall-clock seconds of the whole episode, the scheduler's planning included.
        actions: Every action taken, in order (for replay).
        solver_status: The scheduler's ``report.status`` if it reports one (exact solvers).
    """

    metrics: dict[str, float]
    wall_s: float
    actions: list[int] = field(default_factory=list)
    solver_status: str = ""


def build_schedulers(env_id: str, policies: Sequence[str], best_of: int = 1, temperature: float = 1.0,
                     pilot: tuple[int, ...] | None = None,
                     ) -> tuple[dict[str, Callable[[], Scheduler]], dict[str, Any]]:
    """Scheduler factories by label, and the learned policies among them (each loaded once).

    Args:
        env_id: The env the schedulers will run on.
        policies: Baseline names of ``env_id``, ``.onnx``/``.zip`` policy files,
            ``pretrained:NAME``, or (IoT) the hybrid ``rl_aco[:POLICY]`` (``policies.rl_aco``).
        best_of: With ``K > 1``, each learned policy also gets a ``NAME best-of-K`` entry: K
            rollouts, one greedy and the rest sampled, the best replayed (known dynamics only).
        temperature: Softmax temperature of the sampled best-of-K rollouts.
        pilot: ``(expand, width[, samples])``: each learned policy also gets a ``NAME
            pilot-ExW[xK]`` entry, the beam of policy pilots of :mod:`~schedgym.policies.pilot`
            (known dynamics only).

    Raises:
        ValueError: On an unknown name, a missing or corrupt file, a policy trained for another
            env, or a bad ``best_of``/``temperature``/``pilot``; the message says which.
    """
    from schedgym.policies.rl_aco import ENV_ID as HYBRID_ENV_ID
    from schedgym.policies.rl_aco import RLACOScheduler, is_hybrid, policy_source
    from schedgym.policies.pilot import PilotScheduler
    from schedgym.policies.sampling import BestOfKScheduler
    from schedgym.policies.scheduler import is_learned, load_policy

    if best_of < 1:
        raise ValueError(f"--best-of must be at least 1, got {best_of}")
    if not temperature > 0:
        raise ValueError(f"--temperature must be positive, got {temperature}")
    if best_of > 1 and not envs.env_class(env_id).known_dynamics:
        raise ValueError(f"--best-of needs an env the scheduler can simulate; {env_id} has hidden randomness")
    if pilot is not None:
        if len(pilot) not in (2, 3) or min(pilot) < 1:
            raise ValueError(f"--pilot needs an expand, a width and optionally samples, each at "
                             f"least 1, got {pilot}")
        if not envs.env_class(env_id).known_dynamics:
            raise ValueError(f"--pilot needs an env the scheduler can simulate; {env_id} has hidden randomness")
    if not policies:
        raise ValueError("no policy given")
    schedulers: dict[str, Callable[[], Scheduler]] = {}
    learned: dict[str, Any] = {}
    for name in policies:
        if is_hybrid(name):
            if env_id != HYBRID_ENV_ID:
                raise ValueError(f"{name!r} is a hybrid of {HYBRID_ENV_ID}, not of {env_id}")
            try:
                policy = load_policy(policy_source(name), env_id)
            except FileNotFoundError as error:
                raise ValueError(str(error)) from None
            schedulers[name], learned[name] = functools.partial(RLACOScheduler, policy), policy
        elif is_learned(name):
            try:
                policy = load_policy(name, env_id)  # loaded once; a fresh light scheduler per episode
            except FileNotFoundError as error:
                raise ValueError(str(error)) from None
            schedulers[name], learned[name] = policy.scheduler, policy
            if best_of > 1:
                entry = functools.partial(BestOfKScheduler, policy, best_of, temperature)
                schedulers[entry().name] = entry
            if pilot is not None:
                entry = functools.partial(PilotScheduler, policy, *pilot)
                schedulers[entry().name] = entry
        elif name in baselines.names(env_id):
            schedulers[name] = functools.partial(baselines.make, env_id, name)
        else:
            raise ValueError(f"unknown policy {name!r}; the baselines of {env_id}: "
                             f"{', '.join(baselines.names(env_id))} (or a .onnx/.zip file, pretrained:NAME)")
    return schedulers, learned


def load_instance_sets(env_id: str, names: Sequence[str]) -> list[InstanceSet]:
    """The fixed instance sets ``names`` of ``env_id``.

    Raises:
        ValueError: If no name is given or a set does not exist; the message lists the sets.
    """
    env_class = envs.env_class(env_id)
    if not names:
        raise ValueError("no instance set given")
    for name in names:
        if name not in env_class.instance_sets():
            raise ValueError(f"{env_id} has no instance set {name!r}; available: "
                             f"{', '.join(env_class.instance_sets())}")
    return [env_class.load_instance_set(name) for name in names]


def check_policies_fit(env_id: str, instance_sets: Sequence[InstanceSet], learned: dict[str, Any]) -> None:
    """Raises ``ValueError`` unless every learned policy fits every set's observation size (a
    policy fits one N_MAX): checked before any episode runs."""
    for instance_set in instance_sets:
        probe = gym.make(env_id, **instance_set.env_kwargs)
        try:
            for label, policy in learned.items():
                try:
                    policy.check(probe)
                except ValueError as error:
                    raise ValueError(f"{label} cannot run on {instance_set.name}: {error}") from None
        finally:
            probe.close()


def run_episode(env: gym.Env, scheduler: Scheduler, instance: Any, seed: int,
                headless: bool = True) -> EpisodeResult:
    """Runs ``scheduler`` on ``instance`` until the episode ends.

    With ``headless`` (the default), an env with ``finish_headless(scheduler)`` plays the rule
    baselines it supports after the reset without encoding an observation every step (e.g.
    :mod:`envs.iot.fastsim`); metrics, actions and the env's final state are bit-identical.
    """
    metric_names = env.unwrapped.leaderboard_metrics
    start = time.perf_counter()
    _, info = env.reset(seed=seed, options={"instance": instance})
    scheduler.reset(env, seed=seed)
    finish = getattr(env.unwrapped, "finish_headless", None) if headless else None
    played = finish(scheduler) if finish is not None else None
    if played is not None:
        info, actions = played
    else:
        actions, done = [], False
        while not done:
            action = int(scheduler.act(env))
            actions.append(action)
            _, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
    wall_s = time.perf_counter() - start
    report = getattr(scheduler, "report", None)
    return EpisodeResult(
        metrics={name: float(info[name]) for name in metric_names},
        wall_s=wall_s,
        actions=actions,
        solver_status=getattr(report, "status", ""),
    )


def replay(env: gym.Env, instance: Any, seed: int, actions: Sequence[int]) -> dict[str, float]:
    """Replays a recorded action sequence and returns the final metrics."""
    _, info = env.reset(seed=seed, options={"instance": instance})
    for action in actions:
        _, _, terminated, truncated, info = env.step(int(action))
        if terminated or truncated:
            break
    return {name: float(info[name]) for name in env.unwrapped.leaderboard_metrics}


def evaluate(
    env_id: str,
    instance_set: InstanceSet,
    schedulers: dict[str, Callable[[], Scheduler]],
    seeds: Iterable[int] = (0,),
    progress: bool = True,
    out: ResultsFile | None = None,
    headless: bool = True,
    runner: Any = None,
) -> pd.DataFrame:
    """Runs every scheduler on every instance with every seed.

    Args:
        env_id: Registered env id.
        instance_set: The instances and the env arguments they need.
        schedulers: Label -> factory of a fresh scheduler (one per episode: no state leaks).
        seeds: Seeds of the episodes (env and scheduler alike).
        progress: Show a progress bar.
        out: A results file: episodes whose key it already holds are skipped, and each new row
            is appended to it as soon as its episode ends.
        headless: Let envs run the rule baselines they support without observations
            (:func:`run_episode`; the same rows, faster).
        runner: Runs the episodes elsewhere instead of in this process, e.g. a
            :class:`~schedgym.policies.distributed.RayEpisodes` made for the same policies (and
            ``headless``): its ``run(instance_set, [(index, label, seed)])`` yields the
            :class:`EpisodeResult` of each in order. The rows are the same but for ``wall_s``.

    Returns:
        One row per episode this call ran, keyed by (env_id, instance_set, instance, policy,
        seed): the metrics, the instance's bounds (:func:`instance_bounds`), ``wall_s``,
        ``solver_status`` and the space-separated ``actions``.
    """
    seeds = list(seeds)
    jobs = [(i, inst, label, seed) for i, inst in enumerate(instance_set.instances)
            for label in schedulers for seed in seeds]
    if out is not None:
        jobs = [(i, inst, label, seed) for i, inst, label, seed in jobs
                if _key(env_id, instance_set, i, label, seed) not in out.keys]
    env = gym.make(env_id, **instance_set.env_kwargs)
    bounds = instance_bounds(env)
    if runner is None:
        results = (run_episode(env, schedulers[label](), instance, seed, headless)
                   for _, instance, label, seed in jobs)
    else:
        results = runner.run(instance_set, [(index, label, seed) for index, _, label, seed in jobs])
    rows = []
    episodes = zip(jobs, results, strict=True)
    bar = tqdm(episodes, total=len(jobs), desc=f"{env_id} {instance_set.name}",
               disable=not progress)
    for (index, instance, label, seed), result in bar:
        rows.append(
            {
                "env_id": env_id,
                "instance_set": instance_set.name,
                "instance": _instance_name(instance_set, index),
                "policy": label,
                "seed": seed,
                **result.metrics,
                **bounds(index, instance, seed),
                "wall_s": result.wall_s,
                "solver_status": result.solver_status,
                "actions": " ".join(map(str, result.actions)),
            }
        )
        if out is not None:
            out.append(rows[-1])
    env.close()
    return pd.DataFrame(rows)


def render_episodes(env_id: str, instance_set: InstanceSet,
                    schedulers: dict[str, Callable[[], Scheduler]], seed: int,
                    directory: str | Path, progress: bool = True) -> list[Path]:
    """Plays every scheduler on every instance once more with seed ``seed`` in an env made with
    ``render_mode="rgb_array"``, and saves its ``render()`` at the episode's end as
    ``directory/<set>/<instance>__<policy>.png`` (each written atomically).

    A separate pass, so that rendering (the LLM envs then log their iterations on the slower
    numpy path) never changes a leaderboard row's ``wall_s``. Headless baselines stay headless:
    the picture is drawn from the env's final state, which the headless path leaves as stepping
    would. The envs are deterministic given the seed, so the episode is the row's, except for
    solvers stopped by a wall-clock budget.

    Returns:
        The files written, in play order.
    """
    from schedgym.envs.render import save_png

    folder = Path(directory) / _file_part(instance_set.name)
    env = gym.make(env_id, render_mode="rgb_array", **instance_set.env_kwargs)
    jobs = [(i, instance, label) for i, instance in enumerate(instance_set.instances)
            for label in schedulers]
    written = []
    for index, instance, label in tqdm(jobs, desc=f"render {instance_set.name}",
                                       disable=not progress):
        run_episode(env, schedulers[label](), instance, seed)
        name = f"{_file_part(_instance_name(instance_set, index))}__{_file_part(label)}.png"
        path = folder / name
        save_png(path, env.render())
        written.append(path)
    env.close()
    return written


def _file_part(text: str) -> str:
    """``text`` as a file name part: runs of characters other than letters, digits and ``.+-``
    become ``_`` (policy labels hold paths, colons and spaces)."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"


def bound_columns(env_id: str) -> dict[str, str]:
    """Leaderboard metric -> the per-instance column that bounds it from below, for envs that
    declare them (``bound_columns`` of the env class, e.g. VM's ``fr_lower_bound``)."""
    return dict(getattr(envs.env_class(env_id), "bound_columns", {}))


def instance_bounds(env: gym.Env) -> Callable[[int, Any, int], dict[str, float]]:
    """``bounds(index, instance, seed)``: the env's ``instance_bounds(instance)`` (empty if it
    has none), computed once per instance index; envs whose bound depends on the episode seed
    (``bounds_depend_on_seed``, e.g. SoC with noise, whose bound knows the drawn noise) get
    ``instance_bounds(instance, seed=seed)``, once per (index, seed)."""
    compute = getattr(env.unwrapped, "instance_bounds", None)
    seeded = bool(getattr(env.unwrapped, "bounds_depend_on_seed", False))
    cache: dict[tuple[int, int | None], dict[str, float]] = {}

    def bounds(index: int, instance: Any, seed: int) -> dict[str, float]:
        if compute is None:
            return {}
        key = (index, seed if seeded else None)
        if key not in cache:
            values = compute(instance, seed=seed) if seeded else compute(instance)
            cache[key] = {name: float(value) for name, value in values.items()}
        return cache[key]

    return bounds


def select(results: pd.DataFrame, env_id: str, instance_set: InstanceSet, policies: Sequence[str],
           seeds: Iterable[int]) -> pd.DataFrame:
    """The rows of ``results`` (e.g. a :meth:`ResultsFile.read`) for every episode of
    ``policies`` on ``instance_set`` with ``seeds``, one per key, policies in the given order."""
    seeds = list(seeds)
    wanted = {_key(env_id, instance_set, i, label, seed) for i in range(len(instance_set.instances))
              for label in policies for seed in seeds}
    keys = results[list(KEY_COLUMNS)].astype(str).itertuples(index=False, name=None)
    chosen = results[[key in wanted for key in keys]].drop_duplicates(list(KEY_COLUMNS))
    order = {label: position for position, label in enumerate(policies)}
    return chosen.sort_values("policy", key=lambda column: column.map(order), kind="stable", ignore_index=True)


def _instance_name(instance_set: InstanceSet, index: int) -> str:
    return getattr(instance_set.instances[index], "name", "") or f"{instance_set.name}/{index}"


def _key(env_id: str, instance_set: InstanceSet, index: int, label: str, seed: int) -> tuple[str, ...]:
    """The :data:`KEY_COLUMNS` of an episode, as CSV text."""
    return env_id, instance_set.name, _instance_name(instance_set, index), label, str(seed)


def result_columns(metrics: Sequence[str], bounds: Iterable[str] = ()) -> list[str]:
    """The columns of a results file of an env whose leaderboard metrics are ``metrics`` and
    whose per-instance bound columns are ``bounds`` (:func:`bound_columns`)."""
    return [*KEY_COLUMNS, *metrics, *bounds, "wall_s", "solver_status", "actions"]


class ResultsFile:
    """An append-only results CSV that keeps every finished episode and never breaks.

    Rows go into one shared file, each as a single ``os.write`` of a complete line (the file is
    opened with ``O_APPEND``) made while holding an exclusive advisory lock (``fcntl.flock``) on
    the file. Under that lock a writer first reads what other writers appended since it last
    looked, so the header is written only into an empty file and a key already present is never
    written again; and it cuts a trailing incomplete line, which only a writer killed inside a
    write can leave, with a warning. A row reaches the operating system when its episode ends,
    so a run killed at any moment keeps every row it measured and ``resume=True`` completes it.
    One locked file was chosen over one file per run merged afterwards because then the file
    alone is the whole record: readers, resumed and concurrent runs need no merge step. POSIX
    only (``flock``, ``pread``).

    This is the one file SchedGym appends to in place instead of replacing it atomically
    (``schedgym.data.files``): a rewrite per row would cost the whole file each episode and would
    lose the rows of a concurrent writer.

    Attributes:
        path: The CSV file.
        columns: Its header, :func:`result_columns`.
        keys: The :data:`KEY_COLUMNS` (as text) of every row seen in the file so far.
        written: How many rows this object appended.
    """

    def __init__(self, path: str | os.PathLike[str], columns: Sequence[str], resume: bool = False) -> None:
        """Opens (or creates) ``path``.

        Args:
            path: The CSV file.
            columns: The header; an existing file must have exactly these columns.
            resume: Accept a file that already holds rows (their episodes are then skipped).

        Raises:
            ValueError: If the file holds rows and ``resume`` is false, has other columns, or
                has a line that is not a row of this header.
        """
        self.path, self.columns = Path(path), list(columns)
        self.keys: set[tuple[str, ...]] = set()
        self.written = 0
        self._key_index = [self.columns.index(column) for column in KEY_COLUMNS]
        self._parsed_bytes = self._parsed_lines = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            with self._locked():
                self._parse_new_lines()
                if self.keys and not resume:
                    raise ValueError(f"{self.path} already holds {len(self.keys)} rows: pass --resume to "
                                     "keep them and run only the missing episodes, or write to another file")
                self._cut_partial_line()
                if self._parsed_bytes == 0:
                    self._write(self.columns)
        except BaseException:
            self.close()
            raise

    def append(self, row: dict[str, Any]) -> bool:
        """Appends ``row`` (a value for every column) unless its key is in the file already.

        Returns:
            Whether the row was written.
        """
        fields = [str(row[column]) for column in self.columns]
        key = tuple(fields[i] for i in self._key_index)
        with self._locked():
            self._parse_new_lines()
            self._cut_partial_line()
            if key in self.keys:
                return False
            self._write(fields)
        self.keys.add(key)
        self.written += 1
        return True

    def read(self) -> pd.DataFrame:
        """Every complete row in the file, concurrent writers' included."""
        with self._locked():
            data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        text = io.BytesIO(data[: data.rfind(b"\n") + 1])
        text_columns = {column: str for column in (*KEY_COLUMNS, "solver_status", "actions")}
        rows = pd.read_csv(text, dtype={**text_columns, "seed": int})
        return rows.fillna({"solver_status": "", "actions": ""})  # empty cells are read as NaN

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl  # POSIX only; imported here so that the leaderboard without a file runs anywhere

        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _parse_new_lines(self) -> None:
        """Reads the complete lines appended since the last call (the lock is held)."""
        data = os.pread(self._fd, os.fstat(self._fd).st_size - self._parsed_bytes, self._parsed_bytes)
        complete = data[: data.rfind(b"\n") + 1]
        try:
            lines = complete.decode("utf-8").split("\n")[:-1]
        except UnicodeDecodeError:
            raise ValueError(f"{self.path} is not a results CSV (not UTF-8 text)") from None
        for line in lines:
            self._parse_line(line)
        self._parsed_bytes += len(complete)

    def _parse_line(self, line: str) -> None:
        self._parsed_lines += 1
        # An LLM episode's action sequence is one field of hundreds of kB, above csv's 128 kB default.
        csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_BYTES))
        fields = next(csv.reader([line]), [])
        if self._parsed_lines == 1:
            if fields != self.columns:
                raise ValueError(f"{self.path} has the columns {','.join(fields)!r:.300}, this run writes "
                                 f"{','.join(self.columns)!r}: write to another file")
        elif len(fields) != len(self.columns):
            raise ValueError(f"{self.path} line {self._parsed_lines} has {len(fields)} fields, its header "
                             f"{len(self.columns)}: the file is damaged, write to another file")
        else:
            self.keys.add(tuple(fields[i] for i in self._key_index))

    def _cut_partial_line(self) -> None:
        """Drops bytes after the last complete line (the lock is held, so their writer is dead)."""
        extra = os.fstat(self._fd).st_size - self._parsed_bytes
        if extra:
            warnings.warn(f"{self.path}: dropped an incomplete last line ({extra} bytes), left by a "
                          "writer killed in mid-row")
            os.ftruncate(self._fd, self._parsed_bytes)

    def _write(self, fields: Sequence[str]) -> None:
        """Appends one CSV line (the lock is held)."""
        if any("\n" in field or "\r" in field for field in fields):
            raise ValueError(f"a results row may not contain a line break: {fields}")
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(fields)
        data = buffer.getvalue().encode("utf-8")
        length = len(data)
        while data:  # one write in practice; a short write continues under the same lock
            data = data[os.write(self._fd, data):]
        self._parsed_bytes += length
        self._parsed_lines += 1


def leaderboard(results: pd.DataFrame, metrics: Sequence[str],
                bounds: dict[str, str] | None = None) -> str:
    """A Markdown table: per policy, mean ± std over instances and seeds of each metric and of
    the wall time per episode, in the order the policies first appear.

    Args:
        bounds: Metric -> the column of ``results`` holding a lower bound on it
            (:func:`bound_columns`): the table then shows the bound and ``METRIC gap``, the
            metric minus the bound per episode (an upper bound on the gap to the optimum).
    """
    gaps = {f"{metric} gap": (metric, column) for metric, column in (bounds or {}).items()
            if column in results}
    columns = [*metrics, *(column for _, column in gaps.values()), *gaps, "wall_s"]
    header = "| policy | episodes | " + " | ".join(columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 2)]
    for policy, group in results.groupby("policy", sort=False):
        group = group.assign(**{gap: group[metric] - group[bound]
                                for gap, (metric, bound) in gaps.items()})
        cells = [_mean_std(group[column].to_numpy(float)) for column in columns]
        lines.append(f"| {policy} | {len(group)} | " + " | ".join(cells) + " |")
    statuses = results[results["solver_status"] != ""]
    if len(statuses):
        counts = statuses.groupby(["policy", "solver_status"]).size()
        lines.append("")
        lines.append("Solver status: " + ", ".join(f"{p} {s} × {n}" for (p, s), n in counts.items()))
    return "\n".join(lines)


def plot_leaderboard(results: pd.DataFrame, metrics: Sequence[str], path: str) -> None:
    """Saves bar charts, one row per instance set and one column per metric (mean per policy,
    std as error bar), as an image."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt

    sets = list(results["instance_set"].unique())
    figure, axes = plt.subplots(
        len(sets), len(metrics), figsize=(3.2 * len(metrics), 3.0 * len(sets)), squeeze=False
    )
    for row, set_name in zip(axes, sets):
        grouped = results[results["instance_set"] == set_name].groupby("policy", sort=False)
        for axis, metric in zip(row, metrics):
            means, stds = grouped[metric].mean(), grouped[metric].std(ddof=0)
            axis.bar(means.index, means.to_numpy(), yerr=stds.to_numpy(), capsize=3, color="#4c72b0")
            axis.set_title(f"{set_name}: {metric}", fontsize=9)
            axis.tick_params(axis="x", rotation=45, labelsize=8)
    figure.suptitle(f"{results['env_id'].iloc[0]} (mean ± std over instances and seeds)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _mean_std(values: np.ndarray) -> str:
    """``mean ± std`` with decimals by magnitude: 4 below 1, 2 below 100, 1 above."""
    mean, std = values.mean(), values.std()
    decimals = 4 if abs(mean) < 1 else 2 if abs(mean) < 100 else 1
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"
