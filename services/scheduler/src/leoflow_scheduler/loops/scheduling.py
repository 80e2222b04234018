"""The leader's scheduling loops, wired to their wake-ups: the schedule timer
(scheduled runs), admission (held task instances, when slots free) and backfill
completion."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from leoflow_common.runtime import PeriodicLoop

from ..domain.context import SchedulerContext
from ..domain.uow import WAKE_BACKFILLS, WAKE_SCHEDULE, WAKE_SLOTS
from .admission import Admission
from .backfill_completion import BackfillCompletion
from .schedule_timer import ScheduleTimer

BACKFILL_SWEEP_INTERVAL = 30.0


def scheduling_loops(
    ctx: SchedulerContext,
) -> tuple[list[Coroutine[Any, Any, None]], list[Callable[[], None]]]:
    """(the loops' run() coroutines, the functions that disconnect their wake-ups)."""
    timer = ScheduleTimer(ctx)
    admission = PeriodicLoop(
        "admission", Admission(ctx).run_once, interval=ctx.settings.admission_interval
    )
    backfills = PeriodicLoop(
        "backfill-completion", BackfillCompletion(ctx).run_once, interval=BACKFILL_SWEEP_INTERVAL
    )
    disconnect = [
        ctx.signals.connect(WAKE_SCHEDULE, timer.wake),
        ctx.signals.connect(WAKE_SLOTS, admission.wake),
        ctx.signals.connect(WAKE_BACKFILLS, backfills.wake),
    ]
    return [timer.run(), admission.run(), backfills.run()], disconnect
