"""The dispatcher: turns dispatch requests into executions (one OS process or pod
per task try), serves the agents' AgentService, supervises executions (exits,
heartbeats, timeouts, cancels) and publishes their state changes."""

from .app import DispatcherApp
from .settings import DispatcherSettings

__all__ = ["DispatcherApp", "DispatcherSettings"]
