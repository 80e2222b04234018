"""Service lifecycle, periodic loops and leader election."""

from .leader import LeaderElector
from .loops import PeriodicLoop
from .service import run_service

__all__ = ["LeaderElector", "PeriodicLoop", "run_service"]
