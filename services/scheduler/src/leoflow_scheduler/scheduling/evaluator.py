"""Deciding what happens next in one DagRun.

`evaluate_run` runs inside a transaction that holds the run's row lock (taken by
`lock_run`, first thing in every transaction that changes the run's task
instances). Holding it, the task-instance states it reads cannot change under
it, so two tasks finishing at once are decided one after the other and their
common downstream task is never missed. It walks the tasks in topological
order, so a decision (skip, upstream_failed, an empty task's success, a mapped
task's expansion) is seen by the downstream tasks in the same pass. Trigger
rules count the states of every task instance of each upstream task (all map
indexes of a mapped one, so a fan-in waits for every mapped instance).

A pass reads the run's task instances as counts per (task, state) (one
aggregate query) and loads whole rows only for the task instances that have
not started (the ones it may decide): its cost in Python does not grow with
the number of finished or running instances, so the thousand reports of a
thousand-wide mapped task cost linear time, not quadratic. Ready
task instances are queued with their dispatch request as far as pools and
concurrency limits allow (`domain.admission`), the rest wait in `scheduled`;
and when nothing is left unfinished the run ends (and the DAG's callback, if
any, is requested). A ready task that depends on past also needs its previous
run's instances done (`past_deps`); while one waits so, the run is not deadlocked.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict

from leoflow_common.states import TI_UNFINISHED, DagRunState, TriggerRule
from leoflow_common.states import TaskInstanceState as TI
from leoflow_proto.dag.v1 import dag_pb2

from ..domain import admission
from ..domain.auto_pause import pause_after_consecutive_failures
from ..domain.context import SchedulerContext
from ..domain.dag_callbacks import request_dag_callback
from ..domain.run_transitions import transition_run
from ..domain.uow import UnitOfWork, utcnow
from ..metrics import DECISION_SECONDS
from ..repository import dag_runs, dags, task_instances, task_maps
from ..state_machine import propose_ti_state, run_rules, task_rules
from .mapping import (
    MAX_MAP_LENGTH,
    MappingError,
    OutputRef,
    is_mapped,
    mapped_count,
    output_refs,
)
from .past_deps import past_depends_met
from .run_outcome import run_outcome
from .trigger_rules import Decision, UpstreamCounts, decide

log = logging.getLogger(__name__)

_WAITING = frozenset({TI.NONE, TI.SCHEDULED})
_ACTIVE = frozenset({TI.QUEUED, TI.RUNNING})
_DECISION_RULES = {
    Decision.SKIP: task_rules.SkipOnUpstreamSkipped,
    Decision.UPSTREAM_FAILED: task_rules.FailOnUpstreamFailed,
}


class _StaleView(Exception):
    """A task instance changed under the run lock: never act on a stale view."""


async def evaluate_run(ctx: SchedulerContext, uow: UnitOfWork, run_row) -> DagRunState | None:
    """Decide the run's waiting tasks and finish the run if it is done.

    `run_row` must be the row returned by `lock_run` in this transaction. Runs that
    are not running, and runs of paused DAGs, are left alone (as Airflow's
    scheduler leaves them). Returns the run's new final state, if it ended."""
    if run_row is None or run_row["state"] != DagRunState.RUNNING:
        return None
    dag_row = await dags.get_dag(conn=uow.conn, tenant_id=run_row["tenant_id"], dag_id=run_row["dag_id"])
    if dag_row is None or dag_row["is_paused"]:
        return None
    started = time.perf_counter()
    try:
        return await _RunPass(ctx, uow, run_row, dag_row).decide()
    except _StaleView as exc:  # cannot happen while we hold the run lock
        log.error("%s; skipping the rest of this pass", exc)
        return None
    finally:
        DECISION_SECONDS.observe(time.perf_counter() - started)


class _RunPass:
    """One pass over one locked run."""

    def __init__(self, ctx: SchedulerContext, uow: UnitOfWork, run_row, dag_row):
        self.ctx, self.uow, self.run_row, self.dag_row = ctx, uow, run_row, dag_row
        self.now = utcnow()
        # task id -> how many of its task instances are in each state (this pass's view)
        self.counts: dict[str, Counter] = defaultdict(Counter)
        # task id -> its waiting task instances (none, scheduled), whole rows
        self.waiting: dict[str, list] = defaultdict(list)
        # task instance id -> its state and its task id, for the rows this pass loaded
        self.state: dict = {}
        self.task_of: dict = {}
        self._lengths: dict[tuple[str, str], int] | None = None

    async def decide(self) -> DagRunState | None:
        uow, run_row = self.uow, self.run_row
        self.version = version = await self.ctx.specs.get(uow.conn, run_row["dag_version_id"])
        for row in await task_instances.state_counts_for_run(conn=uow.conn, run_pk=run_row["id"]):
            self.counts[row["task_id"]][TI.from_db(row["state"])] += row["n"]
        for row in await task_instances.waiting_for_run(conn=uow.conn, run_pk=run_row["id"]):
            self._load(row)
            self.waiting[row["task_id"]].append(row)
        ready: list = []
        blocked = False  # some waiting task instance's rule says wait
        for task_id in version.graph.order:
            # A task's instances only move when the pass reaches the task (and after
            # the walk, when queued): the rows loaded as waiting still are.
            waiting = [r for r in self.waiting.get(task_id, ()) if self.state[r["id"]] in _WAITING]
            if not waiting:
                continue
            task = version.graph.tasks[task_id]
            decision = decide(TriggerRule.from_proto(task.trigger_rule), self._upstream(task_id))
            if decision == Decision.WAIT:
                blocked = True
                continue
            if decision == Decision.READY and not await self._past_allows(task):
                # depends_on_past: it waits in state none for the previous run.
                blocked = True
                continue
            if decision == Decision.READY and is_mapped(task) and any(r["map_index"] < 0 for r in waiting):
                waiting = await self._expand(task, waiting)
            for row in waiting:
                await self._apply(task, row, decision, ready)
        if ready:
            active = sum(c[s] for c in self.counts.values() for s in _ACTIVE)
            changed = await admission.queue_ready(
                uow, run_row=run_row, version=version, ready_rows=ready, run_active=active,
                max_active_tasks=self.dag_row["max_active_tasks"],
            )  # fmt: skip
            for ti_id, state in changed.items():
                self._set(ti_id, state)
        await dag_runs.touch_scheduling_decision(conn=uow.conn, run_pk=run_row["id"], when=self.now)
        return await self._finish(blocked)

    async def _past_allows(self, task) -> bool:
        if not task.depends_on_past:
            return True
        return await past_depends_met(
            self.uow.conn, self.run_row, self.version.spec, task, self.version.graph.downstream[task.task_id]
        )

    def _load(self, row) -> None:
        self.task_of[row["id"]] = row["task_id"]
        self.state.setdefault(row["id"], TI.from_db(row["state"]))

    def _set(self, ti_id, state: TI) -> None:
        counts = self.counts[self.task_of[ti_id]]
        counts[self.state[ti_id]] -= 1
        counts[state] += 1
        self.state[ti_id] = state

    def _upstream(self, task_id: str) -> UpstreamCounts:
        counts: Counter = Counter()
        for up in self.version.graph.upstream[task_id]:
            counts.update(self.counts.get(up, {}))
        return UpstreamCounts(
            total=sum(counts.values()), success=counts[TI.SUCCESS], skipped=counts[TI.SKIPPED],
            failed=counts[TI.FAILED], upstream_failed=counts[TI.UPSTREAM_FAILED], removed=counts[TI.REMOVED],
        )  # fmt: skip

    async def _move(self, row, rule, **changes) -> None:
        expected = self.state[row["id"]]
        if not await propose_ti_state(self.uow.conn, row["id"], rule, expected, **changes):
            raise _StaleView(f"task instance {row['id']} changed under the run lock")
        self._set(row["id"], rule.to_state)

    async def _apply(self, task, row, decision: Decision, ready: list) -> None:
        now = self.now
        if decision == Decision.READY and task.kind == dag_pb2.OPERATOR_KIND_EMPTY:
            # EmptyOperator is never dispatched: it succeeds as soon as it may run.
            await self._move(
                row, task_rules.SucceedEmptyTask, try_number=row["try_number"] + 1,
                start_date=now, end_date=now, queued_at=now,
            )  # fmt: skip
        elif decision == Decision.READY:
            ready.append(row)
        else:
            await self._move(row, _DECISION_RULES[decision], start_date=now, end_date=now)

    # -- dynamic task mapping ----------------------------------------------------------

    async def _length_of(self, ref: OutputRef) -> int | None:
        upstream = self.version.graph.tasks.get(ref.task_id)
        if upstream is not None and is_mapped(upstream):
            # Mapping over a mapped task's output: one item per instance that
            # succeeded, once every instance finished (Airflow counts their XComs).
            counts = self.counts.get(ref.task_id, {})
            if any(n > 0 for s, n in counts.items() if s in TI_UNFINISHED):
                return None
            return counts.get(TI.SUCCESS, 0)
        if self._lengths is None:
            self._lengths = await task_maps.for_run(conn=self.uow.conn, run_pk=self.run_row["id"])
        return self._lengths.get((ref.task_id, ref.key))

    async def _count(self, task) -> int | None:
        lengths: dict[OutputRef, int | None] = {}
        for ref in output_refs(task.mapping):
            lengths[ref] = await self._length_of(ref)
        return mapped_count(task, lambda ref: lengths.get(ref))

    async def _expand(self, task, waiting: list) -> list:
        """Expand a mapped task whose upstreams allow it to run (Airflow's
        expand_mapped_task): no length -> upstream_failed; zero items -> skipped;
        n items -> map indexes 0..n-1 (the placeholder becomes index 0)."""
        placeholder = next(r for r in waiting if r["map_index"] < 0)
        now = self.now
        try:
            count = await self._count(task)
            problem = None if count is not None else "its upstream reported no length to expand over"
        except MappingError as exc:
            count, problem = None, str(exc)
        if count is not None and count > MAX_MAP_LENGTH:
            problem = f"it would expand to {count} instances, more than max_map_length {MAX_MAP_LENGTH}"
            count = None
        if count is None:
            log.warning("cannot expand %s in run %s: %s", task.task_id, self.run_row["run_id"], problem)
            await self._move(
                placeholder, task_rules.FailOnUpstreamFailed, start_date=now, end_date=now,
                error=f"Cannot expand the mapped task: {problem}",
            )  # fmt: skip
            return []
        if count == 0:
            await self._move(placeholder, task_rules.SkipEmptyMapping, start_date=now, end_date=now)
            return []
        conn, run_row = self.uow.conn, self.run_row
        known = {
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM task_instances WHERE dag_run_id = $1 AND task_id = $2 AND id <> $3",
                run_row["id"], task.task_id, placeholder["id"],
            )
        }  # fmt: skip
        await task_instances.expand_unmapped(conn=conn, ti_id=placeholder["id"])
        base = {
            "task_id": task.task_id, "max_tries": placeholder["max_tries"], "operator": placeholder["operator"],
            "display_name": placeholder["task_display_name"], "pool": placeholder["pool"],
            "pool_slots": placeholder["pool_slots"], "queue": placeholder["queue"],
            "priority_weight": placeholder["priority_weight"],
        }  # fmt: skip
        await task_instances.insert_for_run(
            conn=conn, tenant_id=run_row["tenant_id"], run_pk=run_row["id"], dag_id=run_row["dag_id"],
            run_id=run_row["run_id"], dag_version_id=placeholder["dag_version_id"],
            tasks=[{**base, "map_index": i} for i in range(1, count)],
        )  # fmt: skip
        rows = await conn.fetch(
            "SELECT * FROM task_instances WHERE dag_run_id = $1 AND task_id = $2 ORDER BY map_index",
            run_row["id"], task.task_id,
        )  # fmt: skip
        # Nothing of this task moved yet in this pass: its rows' states are the
        # database's, but for the rows loaded (and tracked) already.
        for row in rows:
            self._load(row)
        self.counts[task.task_id] = Counter(self.state[r["id"]] for r in rows)
        return [r for r in rows if r["id"] not in known and self.state[r["id"]] in (TI.NONE, TI.SCHEDULED)]

    # -- the end of the run --------------------------------------------------------------

    async def _finish(self, blocked: bool) -> DagRunState | None:
        # One (task id, state) pair per state a task has instances in: the outcome
        # and the deadlock check only ask whether some instance is in a state.
        pairs = [(task_id, s) for task_id, counts in self.counts.items() for s, n in counts.items() if n > 0]
        outcome = run_outcome(pairs, self.version.graph.leaves)
        reason = "success" if outcome == DagRunState.SUCCESS else "task_failure"
        tasks = self.version.graph.tasks
        if (
            outcome is None and blocked and all(s == TI.NONE for _, s in pairs if s in TI_UNFINISHED)
            and not any(tasks[t].depends_on_past for t, s in pairs if s in TI_UNFINISHED and t in tasks)
        ):  # fmt: skip
            # Nothing runs, nothing waits for a slot or a retry, and every task left
            # waits on upstreams that are done: no event can ever move it (Airflow's
            # "all_tasks_deadlocked"). Airflow does not check while an unfinished
            # task instance's task depends on past: the previous run may move it.
            outcome, reason = DagRunState.FAILED, "all_tasks_deadlocked"
            log.warning("run %s of %s is deadlocked; failing it", self.run_row["run_id"], self.run_row["dag_id"])
        if outcome is None:
            return None
        rule = run_rules.SucceedRun if outcome == DagRunState.SUCCESS else run_rules.FailRun
        if not await transition_run(self.uow, self.run_row, rule):
            return None
        await request_dag_callback(self.uow, self.run_row, self.version, outcome, reason)
        if outcome == DagRunState.FAILED:
            await pause_after_consecutive_failures(self.uow, self.run_row)
        return outcome
