"""The state machine: states are Airflow's (leoflow_common.states), transitions
are named rules with FROM/TO sets (`task_rules`, `run_rules`), and `propose` is
the only code that writes task_instances.state or dag_runs.state, always as a
compare-and-set on the state the caller saw."""

from .propose import RUN_WRITABLE_COLUMNS, TI_WRITABLE_COLUMNS, propose_run_state, propose_ti_state
from .rules import RunRule, TaskRule

__all__ = [
    "RUN_WRITABLE_COLUMNS",
    "RunRule",
    "TaskRule",
    "TI_WRITABLE_COLUMNS",
    "propose_run_state",
    "propose_ti_state",
]
