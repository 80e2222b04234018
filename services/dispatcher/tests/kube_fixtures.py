"""Helpers of the kubernetes backend's I/O tests: hand-moved clocks, a recorder of
exits, and pods-API clients whose official `kubernetes` client talks to the
stand-in over HTTP."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kubernetes import client
from leoflow_dispatcher.backends.base import ExecutionExit
from leoflow_dispatcher.backends.kubernetes.api import PodsApi

NAMESPACE = "leoflow-tasks"


@dataclass
class Clocks:
    """Wall and monotonic time the tests move by hand (grace periods, retention)."""

    wall: datetime = field(default_factory=lambda: datetime.now(UTC))
    mono: float = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


@dataclass
class Exits:
    """What the backend reported through on_exit, in order."""

    seen: list[ExecutionExit] = field(default_factory=list)

    async def __call__(self, exit: ExecutionExit) -> None:
        self.seen.append(exit)

    def of(self, name: str) -> list[ExecutionExit]:
        return [e for e in self.seen if e.name == name]


def pods_api(host: str) -> PodsApi:
    configuration = client.Configuration()
    configuration.host = host
    return PodsApi(client.ApiClient(configuration), NAMESPACE, request_timeout=5.0)


def status_of(fixture: dict) -> dict:
    return copy.deepcopy(fixture["status"])
