"""What this replica remembers about its executions across restarts.

One directory per execution under <work_dir>/executions/<name>/: the TaskExecution
(execution.pb, written once) and its progress (state.json: accepted reports,
outcome, cancellation and the envelopes not yet published), replaced atomically
on every change. A restarted dispatcher reloads them, so it knows what it started,
what the agents said and what it still owes the bus.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import time
from pathlib import Path

from google.protobuf.message import DecodeError
from leoflow_common.states import TaskInstanceState
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from .execution import Execution

log = logging.getLogger(__name__)

_SPEC = "execution.pb"
_STATE = "state.json"


class Journal:
    def __init__(self, directory: Path):
        self._directory = directory
        # Executions whose folder and spec are on disk (saves after the first only
        # replace state.json: no mkdir or stat on the hot path).
        self._written: set[str] = set()

    def open(self) -> None:
        """Create the journal's directory."""
        self._directory.mkdir(parents=True, exist_ok=True)

    def save(self, execution: Execution) -> None:
        """Persist `execution`'s spec (first time) and progress."""
        folder = self._directory / execution.name
        if execution.name not in self._written:
            folder.mkdir(exist_ok=True)
            spec_path = folder / _SPEC
            if not spec_path.exists():
                _write_atomically(spec_path, execution.spec.SerializeToString())
            self._written.add(execution.name)
        state = {
            "reported": [s.value for s in execution.reported],
            "outcome": execution.outcome.value if execution.outcome else None,
            "cancelled": execution.cancelled,
            "running_since_epoch": execution.running_since_epoch,
            "outbox": [base64.b64encode(e.SerializeToString()).decode() for e in execution.outbox],
        }
        _write_atomically(folder / _STATE, json.dumps(state).encode())

    def load_all(self, now: float) -> list[Execution]:
        """Every execution remembered, launched (as far as this process knows) `now`.
        An unreadable entry is logged and left for an operator."""
        executions = []
        if not self._directory.is_dir():
            return executions
        for folder in sorted(p for p in self._directory.iterdir() if p.is_dir()):
            try:
                executions.append(_load(folder, now))
            except (OSError, ValueError, KeyError, TypeError, DecodeError) as exc:
                log.error("ignoring unreadable execution record %s: %s", folder, exc)
        return executions

    def remove(self, name: str) -> None:
        """Forget `name`."""
        self._written.discard(name)
        shutil.rmtree(self._directory / name, ignore_errors=True)


def _load(folder: Path, now: float) -> Execution:
    spec = TaskExecution.FromString((folder / _SPEC).read_bytes())
    state_path = folder / _STATE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    outcome = state.get("outcome")
    running_since_epoch = state.get("running_since_epoch")
    running_since = None
    if running_since_epoch is not None:
        # Monotonic clocks do not survive a restart; the wall clock does.
        running_since = now - max(0.0, time.time() - float(running_since_epoch))
    return Execution(
        name=folder.name,
        spec=spec,
        launched_at=now,
        reported=[TaskInstanceState(s) for s in state.get("reported", [])],
        outcome=TaskInstanceState(outcome) if outcome else None,
        cancelled=bool(state.get("cancelled", False)),
        outbox=[Envelope.FromString(base64.b64decode(e)) for e in state.get("outbox", [])],
        ended_at=now if outcome or state.get("cancelled") else None,
        running_since=running_since,
        running_since_epoch=running_since_epoch,
    )


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
