"""Identity of one try's log, and validation of the ids that make it up.

Invariant: every TryId is tenant-scoped and its ids are non-empty, at most
MAX_ID_LENGTH characters and free of control characters, so each store can keep
them verbatim (Postgres), escaped (Redis keys) or as safe path components (disk).
"""

from __future__ import annotations

from dataclasses import dataclass

from leoflow_common.errors import InvalidArgument
from leoflow_proto.common.v1 import keys_pb2

UNMAPPED = -1
MAX_ID_LENGTH = 250  # Airflow's ID_LEN


@dataclass(frozen=True, slots=True, order=True)
class TryId:
    """One attempt of one task instance, within a tenant."""

    tenant_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int

    def describe(self) -> str:
        mapped = f"[{self.map_index}]" if self.map_index != UNMAPPED else ""
        return f"try {self.try_number} of task {self.task_id!r}{mapped} in run {self.run_id!r} of DAG {self.dag_id!r}"


def check_id(value: str, field: str) -> str:
    """`value` if it is a usable id, else InvalidArgument naming `field`."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgument(
            f"{field} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}", field=field
        )
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidArgument(f"{field} must not contain control characters", field=field)
    return value


def try_id(tenant_id: str, key: keys_pb2.TaskInstanceTryKey) -> TryId:
    """The validated try `key` names within `tenant_id`."""
    ti = key.task_instance
    if ti.map_index < UNMAPPED:
        raise InvalidArgument(
            f"key.task_instance.map_index must be -1 (unmapped) or a non-negative index, not {ti.map_index}",
            field="key.task_instance.map_index",
        )
    if key.try_number < 1:
        raise InvalidArgument(
            f"key.try_number must be 1 or more, not {key.try_number}", field="key.try_number"
        )
    return TryId(
        tenant_id=check_id(tenant_id, "tenant"),
        dag_id=check_id(ti.dag_id, "key.task_instance.dag_id"),
        run_id=check_id(ti.run_id, "key.task_instance.run_id"),
        task_id=check_id(ti.task_id, "key.task_instance.task_id"),
        map_index=ti.map_index,
        try_number=key.try_number,
    )
