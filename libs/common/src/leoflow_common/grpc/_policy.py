"""Who may call each RPC. Every method of every served service must have an entry:
a server refuses to start with a method left out (fail closed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..auth import Capability, Principal, require
from ..errors import PermissionDenied, Unauthenticated


@dataclass(frozen=True, slots=True)
class Access:
    """Users/services need `capability`; agents are admitted only if `agent`."""

    capability: Capability | None = Capability.READ
    agent: bool = False

    def check(self, principal: Principal | None) -> None:
        if principal is None:
            raise Unauthenticated("Not authenticated")
        if principal.kind == "agent":
            if not self.agent:
                raise PermissionDenied("agent tokens may not call this method")
            return
        if self.capability is None:
            raise PermissionDenied("only a task's agent may call this method")
        require(principal, self.capability)


AGENT_ONLY = Access(capability=None, agent=True)


@dataclass(slots=True)
class ServiceRegistration:
    """One servicer to serve: its generated add_*_to_server function, its full
    proto name ("leoflow.xcom.v1.XComService") and the access rule of each method."""

    add_to_server: Callable[[Any, Any], None]
    servicer: Any
    full_name: str
    policy: dict[str, Access] = field(default_factory=dict)
