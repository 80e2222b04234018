"""The journal keeps what a restarted dispatcher needs to know about its executions."""

from __future__ import annotations

import time

from leoflow_common.states import TaskInstanceState
from leoflow_dispatcher.execution import Execution
from leoflow_dispatcher.journal import Journal
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.events.v1.envelope_pb2 import Envelope

TI = TaskInstanceState


def make(name: str) -> Execution:
    spec = TaskExecution(
        tenant_id="t", key=TaskInstanceKey(dag_id="d", run_id="r", task_id=name), try_number=2
    )
    return Execution(name=name, spec=spec, launched_at=1.0)


def test_progress_survives_a_restart(tmp_path):
    journal = Journal(tmp_path)
    journal.open()
    running = make("running")
    running.reported.append(TI.RUNNING)
    running.running_since_epoch = time.time() - 30  # user code started 30 s ago
    running.outbox.append(
        Envelope(id="running/running", type="task_instance.state_changed.v1", payload=b"\x00\x01")
    )
    journal.save(running)
    ended = make("ended")
    ended.reported += [TI.RUNNING, TI.FAILED]
    ended.end(TI.FAILED, 5.0)
    journal.save(ended)
    cancelled = make("cancelled")
    cancelled.cancel(3.0)
    journal.save(cancelled)

    loaded = {e.name: e for e in Journal(tmp_path).load_all(now=100.0)}

    assert set(loaded) == {"running", "ended", "cancelled"}
    assert loaded["running"].spec == running.spec
    assert loaded["running"].reported == [TI.RUNNING] and loaded["running"].outcome is None
    # The execution_timeout clock keeps counting across the restart.
    assert 10.0 <= loaded["running"].running_since <= 70.0
    assert [e.id for e in loaded["running"].outbox] == ["running/running"]
    assert loaded["running"].outbox[0].payload == b"\x00\x01"
    assert loaded["ended"].outcome is TI.FAILED and loaded["ended"].ended_at == 100.0
    assert loaded["cancelled"].cancelled and loaded["cancelled"].ended
    assert all(e.launched_at == 100.0 for e in loaded.values())


def test_unreadable_records_are_skipped_and_others_load(tmp_path):
    journal = Journal(tmp_path)
    journal.open()
    journal.save(make("good"))
    (tmp_path / "no-spec").mkdir()
    broken = tmp_path / "broken-state"
    broken.mkdir()
    (broken / "execution.pb").write_bytes(make("x").spec.SerializeToString())
    (broken / "state.json").write_text("{not json")
    garbage = tmp_path / "garbage-spec"
    garbage.mkdir()
    (garbage / "execution.pb").write_bytes(b"\xff\xff\xff")

    assert [e.name for e in journal.load_all(now=0.0)] == ["good"]


def test_removed_records_are_gone(tmp_path):
    journal = Journal(tmp_path)
    journal.open()
    journal.save(make("a"))
    journal.remove("a")
    assert journal.load_all(now=0.0) == []
    assert Journal(tmp_path / "never-opened").load_all(now=0.0) == []
