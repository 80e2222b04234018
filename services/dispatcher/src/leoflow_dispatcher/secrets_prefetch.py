"""Variables and connections asked for when a try is dispatched, for its agent.

The agent's first question after its spec is GetTaskSecrets, which this replica
answers by asking the scheduler. Asked at dispatch instead, the scheduler's round
trip runs while the agent starts (a warm hand-over, a process, a pod), and the
agent's call finds the answer ready or on its way.

Invariants:
- an answer is used at most once, by the agent of the execution it was asked for
  (the servicer takes it after authorizing that agent's token);
- it is used only while fresh: still on its way, or arrived at most `max_age`
  seconds ago; older (a pod that took long to start) it is dropped and the agent's
  call asks the scheduler again, so a task never reads values much older than its
  own start (Airflow reads them when the task runs);
- a failed prefetch is never reported: the agent's call asks again and gets the
  error (or the answer) itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from leoflow_proto.dispatcher.v1.agent_pb2 import GetTaskSecretsResponse

# How old a prefetched answer may be when the agent asks for it (seconds).
MAX_AGE = 2.0


class SecretsPrefetch:
    """One execution's prefetched answer."""

    def __init__(self, tenant_id: str, fetch: Awaitable[GetTaskSecretsResponse], clock: Callable[[], float] = time.monotonic):
        self.tenant_id = tenant_id
        self._clock = clock
        self._arrived_at: float | None = None
        self._future = asyncio.ensure_future(fetch)
        self._future.add_done_callback(self._arrived)

    @property
    def arrived(self) -> bool:
        """The answer (or the failure) is here."""
        return self._future.done()

    def _arrived(self, future: asyncio.Future) -> None:
        self._arrived_at = self._clock()
        if not future.cancelled():
            future.exception()  # retrieved: a failed prefetch is not news (see module docstring)

    async def take(self, max_age: float | None = None) -> GetTaskSecretsResponse | None:
        """The answer, awaited if it is on its way; None when it failed or is stale
        (older than `max_age`, default MAX_AGE)."""
        max_age = MAX_AGE if max_age is None else max_age
        future = self._future
        if future.done():
            if self._arrived_at is not None and self._clock() - self._arrived_at > max_age:
                return None
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.cancelled():
                return None
            raise
        except Exception:  # noqa: BLE001 - the caller asks again and reports that error
            return None

    def cancel(self) -> None:
        self._future.cancel()
