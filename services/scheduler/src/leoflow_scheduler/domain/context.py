"""What the scheduler's operations share: the pool, settings, the spec cache and
the wake-up signals. Built once by the app and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from ..settings import SchedulerSettings
from .specs import SpecCache
from .uow import Signals, UnitOfWork, transaction


@dataclass
class SchedulerContext:
    """Shared by every operation; built once by the app."""

    pool: asyncpg.Pool
    settings: SchedulerSettings
    specs: SpecCache = field(default_factory=SpecCache)
    signals: Signals = field(default_factory=Signals)

    def transaction(self):
        """A UnitOfWork on this context's pool whose wake-ups fire these signals."""
        return transaction(self.pool, self.signals)

    @property
    def default_tenant(self) -> str:
        return self.settings.security.default_tenant


__all__ = ["SchedulerContext", "UnitOfWork"]
