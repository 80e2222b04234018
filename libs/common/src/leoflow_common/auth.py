"""Who is calling, and what they may do.

Three kinds of principals carry signed JWTs (HS256):

- users: minted by the gateway after the scheduler checked the password; the gateway
  forwards the same token to services in gRPC metadata, so every service enforces
  roles itself;
- services: one control-plane service calling another (dispatcher -> scheduler);
- agents: minted by the dispatcher for exactly one task-instance try, signed with a
  separate secret and verified by the dispatcher, xcom and logs services.

Roles are Airflow's: Viewer < User < Op < Admin. A capability is the least role
that may do a thing; `require()` is the one check every route and RPC calls.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import IntEnum

import jwt

from .errors import PermissionDenied, Unauthenticated

USER_AUDIENCE = "leoflow-user"
SERVICE_AUDIENCE = "leoflow-service"
AGENT_AUDIENCE = "leoflow-agent"
ISSUER = "leoflow"
ALGORITHM = "HS256"
# Verified tokens remembered per set of secrets (a few KB each at most).
VERIFIED_CACHE_SIZE = 4096
_VERIFIED: dict[bytes, OrderedDict] = {}


class Capability(IntEnum):
    """What a call needs. Ordered: a role holding one holds all lower ones."""

    READ = 1  # Viewer: see DAGs, runs, logs, XComs
    EXECUTE = 2  # User: trigger, pause, clear, mark state, write XComs
    OPERATE = 3  # Op: variables, connections, pools
    ADMIN = 4  # Admin: users, roles


ROLE_CAPABILITY: dict[str, Capability] = {
    "Viewer": Capability.READ,
    "User": Capability.EXECUTE,
    "Op": Capability.OPERATE,
    "Admin": Capability.ADMIN,
}
ROLES = tuple(ROLE_CAPABILITY)


def normalize_role(role: str) -> str:
    """Airflow accepts roles case-insensitively ("admin", "ADMIN")."""
    for name in ROLES:
        if name.lower() == role.strip().lower():
            return name
    raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


# In TaskScope.upstream_task_ids: the agent may read the XComs of every task of its
# own run (Airflow lets ti.xcom_pull read any task of the DAG run). Task ids never
# contain "*", so the marker cannot collide with a real id.
ANY_TASK_OF_RUN = "*"


@dataclass(frozen=True, slots=True)
class TaskScope:
    """The one task-instance try an agent token is good for."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    execution_name: str
    # Upstream task ids whose XComs the task may read (ANY_TASK_OF_RUN: all of its run).
    upstream_task_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "user" | "service" | "agent"
    subject: str
    tenant_id: str
    roles: tuple[str, ...] = ()
    task: TaskScope | None = None
    # The raw token, forwarded to downstream services on behalf of a user.
    token: str = ""

    @property
    def capability(self) -> int:
        if self.kind == "service":
            return max(Capability)
        if self.kind == "agent":
            return 0
        return max((ROLE_CAPABILITY.get(r, 0) for r in self.roles), default=0)

    def can(self, needed: Capability) -> bool:
        return self.capability >= needed


def require(principal: Principal | None, needed: Capability) -> Principal:
    """Raise unless `principal` may do something needing `needed`."""
    if principal is None:
        raise Unauthenticated("Not authenticated")
    if not principal.can(needed):
        raise PermissionDenied("Forbidden")
    return principal


def require_task(principal: Principal | None) -> TaskScope:
    """Raise unless the caller is an agent; return the try its token is scoped to."""
    if principal is None:
        raise Unauthenticated("Not authenticated")
    if principal.kind != "agent" or principal.task is None:
        raise PermissionDenied("only a task's agent may call this")
    return principal.task


class TokenCodec:
    """Mints and verifies the three kinds of tokens.

    `secret` signs user and service tokens; `agent_secret` signs agent tokens, so a
    leaked agent secret (it lives next to task pods' control plane) cannot forge a
    user. A codec built without a secret refuses to mint or verify that kind.
    """

    def __init__(self, secret: str, agent_secret: str | None = None, *, leeway: float = 10.0):
        if not secret:
            raise ValueError("a JWT secret is required")
        self._secret = secret
        self._agent_secret = agent_secret
        self._leeway = leeway
        # token -> (principal, expiry): tokens verified already (see verify()),
        # shared by every codec of this process holding the same secrets (Lite's
        # services each have one): one verification serves them all.
        fingerprint = hashlib.sha256(f"{secret}\0{agent_secret or ''}".encode()).digest()
        self._verified = _VERIFIED.setdefault(fingerprint, OrderedDict())

    # -- minting -------------------------------------------------------------------

    def mint_user(self, username: str, tenant_id: str, roles: list[str] | tuple[str, ...], ttl: float = 86400) -> str:
        return self._encode(
            {"kind": "user", "sub": username, "tenant": tenant_id, "roles": list(roles)},
            USER_AUDIENCE,
            self._secret,
            ttl,
        )

    def mint_service(self, service: str, ttl: float = 3600) -> str:
        return self._encode({"kind": "service", "sub": service, "tenant": "*"}, SERVICE_AUDIENCE, self._secret, ttl)

    def mint_agent(self, tenant_id: str, scope: TaskScope, ttl: float = 86400) -> str:
        if not self._agent_secret:
            raise ValueError("this codec has no agent secret")
        claims = {
            "kind": "agent",
            "sub": scope.execution_name,
            "tenant": tenant_id,
            "ti": {
                "dag_id": scope.dag_id,
                "run_id": scope.run_id,
                "task_id": scope.task_id,
                "map_index": scope.map_index,
                "try_number": scope.try_number,
            },
            "upstreams": sorted(scope.upstream_task_ids),
        }
        token = self._encode(claims, AGENT_AUDIENCE, self._agent_secret, ttl)
        # Minted here, so known good: its first use is not decoded again.
        expires = time.time() + int(ttl)
        self._remember(token, Principal("agent", scope.execution_name, tenant_id, task=scope, token=token), expires)
        return token

    def _encode(self, claims: dict, audience: str, secret: str, ttl: float) -> str:
        now = int(time.time())
        payload = {
            **claims,
            "iss": ISSUER,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, secret, algorithm=ALGORITHM)

    # -- verifying -----------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        """The principal a token stands for, or Unauthenticated / PermissionDenied.

        An expired token is Unauthenticated ("Token Expired"); a token that does not
        verify is PermissionDenied ("Invalid JWT token"), as Airflow answers.

        A token that verified is remembered until it expires (the exact string: the
        same string carries the same signature), so the many calls one agent or one
        service makes with it do not decode and check it again each time; an
        expired one is decoded again and refused as such.
        """
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() <= expires + self._leeway:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires = self._verify(token)
        self._remember(token, principal, expires)
        return principal

    def _remember(self, token: str, principal: Principal, expires: float) -> None:
        self._verified[token] = (principal, expires)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)

    def _verify(self, token: str) -> tuple[Principal, float]:
        """verify() without the memory: the principal and when the token expires."""
        try:
            header_claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise PermissionDenied("Invalid JWT token") from exc
        kind = header_claims.get("kind")
        if kind == "agent":
            if not self._agent_secret:
                raise PermissionDenied("Invalid JWT token")
            claims = self._decode(token, AGENT_AUDIENCE, self._agent_secret)
            ti = claims.get("ti") or {}
            try:
                scope = TaskScope(
                    dag_id=str(ti["dag_id"]),
                    run_id=str(ti["run_id"]),
                    task_id=str(ti["task_id"]),
                    map_index=int(ti["map_index"]),
                    try_number=int(ti["try_number"]),
                    execution_name=str(claims["sub"]),
                    upstream_task_ids=frozenset(map(str, claims.get("upstreams", ()))),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise PermissionDenied("Invalid JWT token") from exc
            principal = Principal("agent", scope.execution_name, str(claims["tenant"]), task=scope, token=token)
        elif kind == "service":
            claims = self._decode(token, SERVICE_AUDIENCE, self._secret)
            principal = Principal("service", str(claims["sub"]), "*", token=token)
        elif kind == "user":
            claims = self._decode(token, USER_AUDIENCE, self._secret)
            roles = tuple(str(r) for r in claims.get("roles", ()))
            principal = Principal("user", str(claims["sub"]), str(claims["tenant"]), roles=roles, token=token)
        else:
            raise PermissionDenied("Invalid JWT token")
        return principal, float(claims["exp"])

    def _decode(self, token: str, audience: str, secret: str) -> dict:
        try:
            return jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "nbf", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("Token Expired") from exc
        except jwt.PyJWTError as exc:
            raise PermissionDenied("Invalid JWT token") from exc


def bearer_token(value: str | None) -> str | None:
    """The token of an "Authorization: Bearer <token>" value, if that is what it is."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
