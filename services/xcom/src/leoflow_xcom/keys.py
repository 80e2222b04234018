"""Identity of one XCom value, and validation of the ids that make it up.

Invariant: every XComId is tenant-scoped and holds ids that are non-empty, at
most MAX_ID_LENGTH characters and free of control characters, so every store can
keep them verbatim (Postgres text) or escaped (Redis keys) without surprises.
"""

from __future__ import annotations

from dataclasses import dataclass

from leoflow_common.errors import InvalidArgument
from leoflow_proto.common.v1 import keys_pb2

RETURN_VALUE_KEY = "return_value"
UNMAPPED = -1
# Airflow's ID_LEN for dag/task/run ids; XCom keys are allowed the same.
MAX_ID_LENGTH = 250
# "~" is Airflow's REST wildcard; an empty filter means the same.
WILDCARD = "~"


@dataclass(frozen=True, slots=True, order=True)
class TaskInstanceId:
    """One task instance within a tenant."""

    tenant_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = UNMAPPED


@dataclass(frozen=True, slots=True, order=True)
class XComId:
    """One stored value: a task instance plus the XCom key."""

    tenant_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    key: str

    @property
    def task_instance(self) -> TaskInstanceId:
        return TaskInstanceId(
            self.tenant_id, self.dag_id, self.run_id, self.task_id, self.map_index
        )


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


def check_map_index(value: int, field: str = "map_index") -> int:
    if value < UNMAPPED:
        raise InvalidArgument(
            f"{field} must be -1 (unmapped) or a non-negative index, not {value}", field=field
        )
    return value


def task_instance_id(tenant_id: str, key: keys_pb2.TaskInstanceKey) -> TaskInstanceId:
    """The validated task instance `key` names within `tenant_id`."""
    return TaskInstanceId(
        tenant_id=tenant_id,
        dag_id=check_id(key.dag_id, "key.dag_id"),
        run_id=check_id(key.run_id, "key.run_id"),
        task_id=check_id(key.task_id, "key.task_id"),
        map_index=check_map_index(key.map_index, "key.map_index"),
    )


def xcom_id(tenant_id: str, key: keys_pb2.TaskInstanceKey, xcom_key: str) -> XComId:
    """The validated XCom id of (`key`, `xcom_key`) within `tenant_id`."""
    ti = task_instance_id(tenant_id, key)
    return XComId(
        ti.tenant_id, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, check_id(xcom_key, "xcom_key")
    )


def optional_filter(value: str, field: str) -> str | None:
    """None for a wildcard ("" or "~"), else the validated id."""
    if value in ("", WILDCARD):
        return None
    return check_id(value, field)
