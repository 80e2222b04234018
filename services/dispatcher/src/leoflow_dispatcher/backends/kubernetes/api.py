"""The pods API of one namespace, through the official `kubernetes` client: the only
module that talks to the cluster. Every call blocks (the client is synchronous);
the backend runs them in threads.

Pods travel as plain JSON dicts (the API's own camelCase shape), not client
models: the outcome assessor reads JSON, and 10,000 tracked pods cost far less
memory that way. A watch is read line by line from the streamed response, so a
410 Gone (the resourceVersion is too old) is seen as such and the caller re-lists.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger(__name__)

# Errors of the connection itself (refused, reset, timed out): worth a retry.
CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, OSError)


class ResourceExpired(Exception):
    """410 Gone: the resourceVersion a watch started from is no longer kept."""


class PodApiError(Exception):
    """The API refused a request; `status` is its HTTP status (0: no answer)."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class PodList:
    items: list[dict[str, Any]]
    resource_version: str


def api_client_from(kubeconfig: Path | None, context: str = "") -> client.ApiClient:
    """An ApiClient for a kubeconfig file, or for the in-cluster service account."""
    configuration = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(
            config_file=str(kubeconfig),
            context=context or None,
            client_configuration=configuration,
        )
    else:
        config.load_incluster_config(client_configuration=configuration)
    return client.ApiClient(configuration)


class PodsApi:
    """create / get / list / watch / delete of the pods of one namespace."""

    def __init__(self, api_client: client.ApiClient, namespace: str, *, request_timeout: float):
        self._api_client = api_client
        self._core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self._timeout = request_timeout

    def close(self) -> None:
        self._api_client.close()

    def create(self, pod: client.V1Pod) -> dict[str, Any]:
        """Create `pod`; PodApiError (status 409 when its name is taken)."""
        response = self._call(
            self._core.create_namespaced_pod, self.namespace, pod, _preload_content=False
        )
        return _json(response)

    def get(self, name: str) -> dict[str, Any] | None:
        """The pod called `name`, None when there is none."""
        try:
            response = self._call(
                self._core.read_namespaced_pod, name, self.namespace, _preload_content=False
            )
        except PodApiError as exc:
            if exc.status == 404:
                return None
            raise
        return _json(response)

    def list(self, selector: str, *, page_size: int) -> PodList:
        """Every pod matching `selector`, page by page, and the list's resourceVersion
        (where a watch continues)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"label_selector": selector, "limit": page_size}
            if token:
                kwargs["_continue"] = token
            response = self._call(
                self._core.list_namespaced_pod, self.namespace, _preload_content=False, **kwargs
            )
            page = _json(response)
            items.extend(page.get("items") or [])
            metadata = page.get("metadata") or {}
            token = metadata.get("continue")
            if not token:
                return PodList(items, str(metadata.get("resourceVersion") or ""))

    def delete(self, name: str, *, grace_seconds: int) -> bool:
        """Delete `name` with a grace period; False when it did not exist."""
        body = client.V1DeleteOptions(
            grace_period_seconds=grace_seconds, propagation_policy="Background"
        )
        try:
            response = self._call(
                self._core.delete_namespaced_pod,
                name,
                self.namespace,
                body=body,
                _preload_content=False,
            )
        except PodApiError as exc:
            if exc.status == 404:
                return False
            raise
        response.release_conn()
        return True

    def watch(self, selector: str, resource_version: str, *, timeout_seconds: int) -> PodWatch:
        """Watch the pods matching `selector` from `resource_version` on, for at most
        `timeout_seconds` (the server then ends the stream; watch again)."""
        response = self._call(
            self._core.list_namespaced_pod,
            self.namespace,
            label_selector=selector,
            watch=True,
            resource_version=resource_version or None,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds,
            _preload_content=False,
            # The read timeout only guards against a server that went silent.
            _request_timeout=(self._timeout, timeout_seconds + self._timeout),
        )
        return PodWatch(response)

    def _call(self, method, *args, **kwargs):
        kwargs.setdefault("_request_timeout", self._timeout)
        try:
            return method(*args, **kwargs)
        except ApiException as exc:
            raise _api_error(exc) from exc


class PodWatch:
    """One streamed watch response: iterate for events {"type", "object"}; close()
    from any thread to end it."""

    def __init__(self, response):
        self._response = response
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for line in iter_resp_lines(self._response):
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise ResourceExpired(status.get("message") or "resourceVersion expired")
                    raise PodApiError(
                        int(status.get("code") or 0),
                        str(status.get("reason") or "Error"),
                        str(status.get("message") or ""),
                    )
                yield event
        except CONNECTION_ERRORS:
            if not self._closed:
                raise
        finally:
            self.close()

    def close(self) -> None:
        """End the stream; a thread blocked reading it returns."""
        if self._closed:
            return
        self._closed = True
        # Shutting the socket down wakes a reader blocked in recv(); close() alone does not.
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self._response.close()
            self._response.release_conn()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


def _json(response) -> dict[str, Any]:
    try:
        return json.loads(response.data or b"{}")
    finally:
        response.release_conn()


def _api_error(exc: ApiException) -> PodApiError:
    message = ""
    reason = exc.reason or ""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if body:
        try:
            status = json.loads(body)
            message = str(status.get("message") or "")
            reason = str(status.get("reason") or reason)
        except (ValueError, AttributeError):
            message = str(body)[:500]
    return PodApiError(int(exc.status or 0), reason, message)
