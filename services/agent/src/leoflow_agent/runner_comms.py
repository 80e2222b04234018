"""The runner's side of the request channel to its agent (frames.py).

While user code runs it may need the control plane: `ti.xcom_pull`,
`ti.xcom_push`, an XComArg in a template field. The runner holds no token and no
gRPC client; it asks its agent, which does. One request at a time (user code is
synchronous), each answered before the next is sent:

    runner -> agent  {"type": "request", "id": n, "op": "...", ...}
    agent -> runner  {"type": "response", "id": n, "ok": true, "value": ...}
                  or {"type": "response", "id": n, "ok": false, "error": "Type: message"}

A broken channel or a response that does not match its request raises
AgentChannelError: the task fails with that, never with a guessed value.
"""

from __future__ import annotations

import threading
from typing import Any, BinaryIO

from .frames import FrameError, encode_frame, read_frame
from .jsonvalues import NotJSONSerializable, to_plain


class AgentChannelError(RuntimeError):
    """The request channel to the agent broke or answered nonsense."""


class AgentRequestError(Exception):
    """The agent refused or failed a request; the message says why."""


class AgentComms:
    """Synchronous request/response over the runner's control pipes."""

    def __init__(self, control_in: BinaryIO, control_out: BinaryIO):
        self._in = control_in
        self._out = control_out
        self._next_id = 0
        self._lock = threading.Lock()  # user code may pull from several threads

    def request(self, op: str, **fields: Any) -> Any:
        """Send one request and return its value; AgentRequestError if refused."""
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            try:
                self._out.write(encode_frame({"type": "request", "id": request_id, "op": op, **fields}))
                self._out.flush()
                response = read_frame(self._in)
            except (OSError, FrameError) as exc:
                raise AgentChannelError(f"the request channel to the agent broke during {op}: {exc}") from None
        if response is None or response.get("type") != "response" or response.get("id") != request_id:
            raise AgentChannelError(f"the agent did not answer request {request_id} ({op}) properly: {response!r}")
        if not response.get("ok"):
            raise AgentRequestError(str(response.get("error") or "the agent refused the request"))
        return response.get("value")

    def send(self, frame: dict[str, Any]) -> None:
        """Write a frame that expects no answer (the final reply)."""
        with self._lock:
            self._out.write(encode_frame(frame))
            self._out.flush()


class FrameXComTransport:
    """The shim's XComTransport, through the agent (which holds the task's token)."""

    def __init__(self, comms: AgentComms):
        self._comms = comms

    def get_one(self, task_id: str, key: str, map_index: int | None) -> tuple[bool, Any]:
        answer = self._request("xcom_get", task_id=task_id, key=key, map_index=map_index)
        return bool(answer["found"]), answer.get("value")

    def get_all(self, task_id: str, key: str) -> list[Any]:
        return list(self._request("xcom_get_all", task_id=task_id, key=key))

    def push(self, key: str, value: Any) -> None:
        try:
            plain = to_plain(value, what=f"XCom {key!r}")
        except NotJSONSerializable as exc:
            raise TypeError(str(exc)) from None
        self._request("xcom_push", key=key, value=plain)

    def _request(self, op: str, **fields: Any) -> Any:
        from airflow._shim.exceptions import AirflowException

        try:
            return self._comms.request(op, **fields)
        except AgentRequestError as exc:
            raise AirflowException(str(exc)) from None
