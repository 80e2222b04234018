"""The disk store beyond the shared contract: the file is the truth, and no id
can put a file outside the log directory."""

from __future__ import annotations

import dataclasses

import pytest
from leoflow_common.errors import FailedPrecondition
from leoflow_logs.keys import TryId
from leoflow_logs.store import DiskLogStore
from leoflow_logs.store.disk_store import CHECKPOINT_EVERY
from leoflow_logs.store.paths import log_path, path_component
from leoflow_proto.logs.v1 import logs_pb2


def records(first: int, last: int) -> list[logs_pb2.LogRecord]:
    return [
        logs_pb2.LogRecord(sequence=s, event=f"line {s}\nwith a newline")
        for s in range(first, last + 1)
    ]


async def test_the_file_is_one_json_line_per_record_under_the_documented_path(tmp_path, try_key):
    store = DiskLogStore(tmp_path)
    await store.append(try_key, records(1, 2), final=True)
    path = (
        tmp_path
        / try_key.tenant_id
        / "etl"
        / "manual__2026-01-01^t00%3a00%3a00%2b00%3a00"
        / "extract"
        / "-1"
        / "1.ndjson"
    )
    lines = path.read_bytes().splitlines()
    assert (
        len(lines) == 3
        and lines[0].startswith(b'{"sequence":1,')
        and lines[2].startswith(b'{"end_of_log":true')
    )


async def test_a_new_store_rebuilds_its_state_from_the_file(tmp_path, try_key):
    await DiskLogStore(tmp_path).append(try_key, records(1, 3), final=False)
    restarted = DiskLogStore(tmp_path)
    result = await restarted.append(try_key, records(2, 4), final=True)
    assert (result.accepted, result.last_sequence) == (1, 4)
    again = DiskLogStore(tmp_path)
    chunk = await again.read(try_key, after_sequence=0, limit=10)
    assert [r.sequence for r in chunk.records] == [1, 2, 3, 4] and chunk.closed
    with pytest.raises(FailedPrecondition):
        await again.append(try_key, records(5, 5), final=False)


async def test_a_line_torn_by_a_crash_is_skipped_and_sealed(tmp_path, try_key):
    store = DiskLogStore(tmp_path)
    await store.append(try_key, records(1, 2), final=False)
    path = log_path(tmp_path.resolve(), try_key)
    with path.open("ab") as file:
        file.write(b'{"sequence":3,"ev')  # the process died mid-write
    restarted = DiskLogStore(tmp_path)
    assert (await restarted.read(try_key, after_sequence=0, limit=10)).last_sequence == 2
    result = await restarted.append(try_key, records(3, 4), final=False)
    assert result.accepted == 2
    chunk = await DiskLogStore(tmp_path).read(try_key, after_sequence=0, limit=10)
    assert [r.sequence for r in chunk.records] == [1, 2, 3, 4]


async def test_continuation_reads_use_the_sparse_index(tmp_path, try_key):
    store = DiskLogStore(tmp_path)
    total = CHECKPOINT_EVERY * 3 + 7
    for first in range(1, total + 1, 500):
        await store.append(try_key, records(first, min(first + 499, total)), final=False)
    for reader in (store, DiskLogStore(tmp_path)):  # the index built while appending, and by a scan
        chunk = await reader.read(try_key, after_sequence=CHECKPOINT_EVERY * 2 + 5, limit=3)
        assert [r.sequence for r in chunk.records] == [CHECKPOINT_EVERY * 2 + n for n in (6, 7, 8)]
        assert [
            r.sequence for r in (await reader.read(try_key, after_sequence=0, limit=2)).records
        ] == [1, 2]


async def test_evicted_state_is_rebuilt(tmp_path, try_key):
    store = DiskLogStore(tmp_path, max_cached_tries=1)
    other = dataclasses.replace(try_key, try_number=2)
    await store.append(try_key, records(1, 2), final=False)
    await store.append(other, records(1, 1), final=False)  # evicts the first try's state
    result = await store.append(try_key, records(1, 3), final=False)
    assert (result.accepted, result.last_sequence) == (1, 3)


HOSTILE_IDS = [
    "..",
    ".",
    "../../etc",
    "/etc/passwd",
    "a/../../b",
    "a\\..\\b",
    "~root",
    "%2e%2e",
    "ETL",
    "etl",
    "é/ü",
    "x" * 250,
    "x" * 249 + "y",
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_no_id_escapes_the_log_directory(tmp_path, hostile):
    root = (tmp_path / "logs").resolve()
    store = DiskLogStore(root)
    try_id = TryId(hostile, hostile, hostile, hostile, -1, 1)
    await store.append(try_id, records(1, 1), final=True)
    path = log_path(root, try_id)
    assert path.resolve().is_relative_to(root)
    assert path.relative_to(root).parts[:-1] == tuple(
        path_component(x) for x in (hostile, hostile, hostile, hostile, "-1")
    )
    written = [p for p in tmp_path.rglob("*.ndjson")]
    assert written == [path]
    assert [r.sequence for r in (await store.read(try_id, after_sequence=0, limit=5)).records] == [
        1
    ]


def test_path_components_are_safe_distinct_and_bounded():
    components = [path_component(x) for x in HOSTILE_IDS]
    assert len(set(components)) == len(HOSTILE_IDS)  # no two ids share a directory
    for component in components:
        assert set(component) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_.%^")
        assert not component.startswith(".")
        assert len(component) <= 200
