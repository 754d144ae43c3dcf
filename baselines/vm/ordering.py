"""Ordering the moves of a final placement into a legal migration sequence (every intermediate
placement within capacity and anti-affinity), with temporary detours where a swap cycle needs one.
"""

from __future__ import annotations

import numpy as np

from schedgym.baselines.vm.models import Move, dest_pm, footprint, static_destinations
from schedgym.envs.vm.sim import destination_of, fragment_rate
from schedgym.envs.vm.types import VMState

#: Search nodes the move-ordering backtracking may expand before it gives up on a move set.
ORDER_EXPANSIONS = 5_000

# ---------------------------------------------------------------------------- move ordering


class Ledger:
    """Free capacity and job counts under a sequence of moves, with cheap undo (for ordering)."""

    def __init__(self, state: VMState) -> None:
        self.state = state
        self.free_cpu = state.free_cpu.reshape(-1).astype(np.int64)
        self.free_mem = state.free_mem.reshape(-1).astype(np.int64)
        self.job_pm_count = state.job_pm_count.copy()
        self.where: dict[int, int] = {}  # destination of each VM moved so far

    def location(self, vm: int) -> int:
        return self.where.get(vm, destination_of(self.state, vm))

    def fits(self, vm: int, dest: int) -> bool:
        """The env's legality rule for migrating ``vm`` to ``dest`` now."""
        num_pms = self.state.instance.num_pms
        for numa, cpu, mem in footprint(self.state, vm, dest):
            if self.free_cpu[numa] < cpu or self.free_mem[numa] < mem:
                return False
        pm, row = dest_pm(dest, num_pms), self.state.job_row[vm]
        same_pm = dest_pm(self.location(vm), num_pms) == pm
        # The count includes the VM itself on its own PM; unrestricted VMs read an all-zero row.
        return self.job_pm_count[row, pm] - same_pm <= 0

    def move(self, vm: int, dest: int) -> int:
        """Moves ``vm`` (unchecked) and returns where it was, so that moving back undoes it."""
        src = self.location(vm)
        for numa, cpu, mem in footprint(self.state, vm, src):
            self.free_cpu[numa] += cpu
            self.free_mem[numa] += mem
        for numa, cpu, mem in footprint(self.state, vm, dest):
            self.free_cpu[numa] -= cpu
            self.free_mem[numa] -= mem
        row, num_pms = self.state.job_row[vm], self.state.instance.num_pms
        if row < self.job_pm_count.shape[0] - 1:  # the last row is the unrestricted dummy
            self.job_pm_count[row, dest_pm(src, num_pms)] -= 1
            self.job_pm_count[row, dest_pm(dest, num_pms)] += 1
        self.where[vm] = dest
        return src

    def residual(self) -> int:
        """Σ (free mod g) over the whole cluster."""
        return int((self.free_cpu % self.state.granularity).sum())


def order_moves(
    state: VMState, moves: list[Move], max_expansions: int = ORDER_EXPANSIONS
) -> tuple[list[Move], list[Move]]:
    """Orders ``moves`` so that every intermediate placement is legal.

    Depth-first search over the set of moves done so far (the placement depends only on that
    set), trying first the moves that free room on a PM that pending moves go to. A greedy order
    can dead-end where another one succeeds (filling a node that a later move needed before the
    move out of it), hence the backtracking; failed sets are memoised.

    Returns:
        The ordered moves and the moves left over: none if the whole set was ordered, else the
        longest legal sequence found and the moves it could not add (a deadlock, e.g. a swap).
    """
    ledger, n = Ledger(state), len(moves)
    num_pms = state.instance.num_pms
    path: list[int] = []
    deepest: list[int] = []
    failed: set[int] = set()
    expansions = 0

    def candidates(done: int) -> list[int]:
        pending = [i for i in range(n) if not done >> i & 1]
        wanted = np.bincount([dest_pm(moves[i][1], num_pms) for i in pending], minlength=num_pms)
        legal = [i for i in pending if ledger.fits(*moves[i])]
        return sorted(legal, key=lambda i: -wanted[dest_pm(ledger.location(moves[i][0]), num_pms)])

    def search(done: int) -> bool:
        nonlocal deepest, expansions
        if len(path) == n:
            return True
        if len(path) > len(deepest):
            deepest = list(path)
        if done in failed or expansions >= max_expansions:
            return False
        expansions += 1
        for i in candidates(done):
            back = ledger.move(*moves[i])
            path.append(i)
            if search(done | 1 << i):
                return True
            path.pop()
            ledger.move(moves[i][0], back)
        failed.add(done)
        return False

    if search(0):
        return [moves[i] for i in path], []
    taken = set(deepest)
    return [moves[i] for i in deepest], [m for i, m in enumerate(moves) if i not in taken]


def order_with_detours(
    state: VMState, moves: list[Move], spare: int, max_expansions: int = ORDER_EXPANSIONS
) -> list[Move] | None:
    """A legal sequence to the placement ``moves`` lead to, using at most ``spare`` detours.

    A detour sends a VM of ``moves`` that sits where a blocked move wants to go to a temporary
    place first (one extra migration), which breaks swap cycles that :func:`order_moves` cannot
    order. Detours are tried by iterative deepening (fewest first); within a depth, the search is
    :func:`order_moves`' backtracking with direct moves first, memoised on the VMs' places.

    Returns:
        The sequence (len(moves) + detours long), or None if none was found.
    """
    target = dict(moves)
    num_pms = state.instance.num_pms
    all_pms = np.arange(num_pms)
    places = {v: static_destinations(state, v, all_pms, destination_of(state, v)) for v in target}
    for depth in range(spare + 1):
        ledger = Ledger(state)
        path: list[Move] = []
        parked: set[int] = set()
        failed: set[tuple] = set()
        expansions = 0

        def search(detours_left: int) -> bool:
            nonlocal expansions
            pending = [v for v in target if ledger.location(v) != target[v]]
            if not pending:
                return True
            key = (tuple(ledger.location(v) for v in target), detours_left)
            if key in failed or expansions >= max_expansions:
                return False
            expansions += 1
            wanted = np.bincount([dest_pm(target[v], num_pms) for v in pending], minlength=num_pms)
            direct = [v for v in pending if ledger.fits(v, target[v])]
            direct.sort(key=lambda v: -wanted[dest_pm(ledger.location(v), num_pms)])
            tries = [(v, target[v], False) for v in direct]
            if detours_left > 0:
                blocked = {dest_pm(target[v], num_pms) for v in pending if v not in direct}
                for v in pending:
                    if v in parked or dest_pm(ledger.location(v), num_pms) not in blocked:
                        continue
                    spots = [d for d in places[v]
                             if d not in (ledger.location(v), target[v]) and ledger.fits(v, d)]
                    spots.sort(key=lambda d: wanted[dest_pm(d, num_pms)])
                    tries += [(v, d, True) for d in spots]
            for v, dest, detour in tries:
                back = ledger.move(v, dest)
                path.append((v, dest))
                if detour:
                    parked.add(v)
                if search(detours_left - detour):
                    return True
                if detour:
                    parked.discard(v)
                path.pop()
                ledger.move(v, back)
            failed.add(key)
            return False

        if search(depth):
            return path
    return None


def best_prefix(state: VMState, sequence: list[Move]) -> list[Move]:
    """The prefix of a legal sequence with the lowest fragmentation (the shortest among ties)."""
    ledger = Ledger(state)
    best_len, best_res = 0, ledger.residual()
    for k, (vm, dest) in enumerate(sequence, start=1):
        ledger.move(vm, dest)
        if ledger.residual() < best_res:
            best_len, best_res = k, ledger.residual()
    return sequence[:best_len]


def final_fragment_rate(state: VMState, sequence: list[Move]) -> float:
    """The fragment rate after applying ``sequence`` to ``state`` (which is left untouched)."""
    return fragment_rate(applied(state, sequence).free_cpu, state.granularity)


def applied(state: VMState, sequence: list[Move]) -> Ledger:
    ledger = Ledger(state)
    for vm, dest in sequence:
        ledger.move(vm, dest)
    return ledger
