"""Leoflow agent: runs one task-instance try inside its own process or pod.

`python -m leoflow_agent` is the agent (a gRPC client of the dispatcher, xcom and
logs services); `python -m leoflow_agent.runner` is the child process that runs the
user's Python callable. This package imports only the standard library at its top
level: the child runner imports it too, and every import here delays task start.
"""

__version__ = "0.1.0"

# Agent-to-control-plane protocol announced on Register (DESIGN §3: additive within v1).
PROTOCOL_VERSION = 1
