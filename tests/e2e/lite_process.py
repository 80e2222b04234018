"""`leoflow lite` as a user runs it: a subprocess with its own LEOFLOW_HOME and
workspace, on a free port; ready when the gateway answers and the examples are
registered."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from leoflow_common.testing import free_port

LEOFLOW_CLI = Path(sys.executable).parent / "leoflow"
PASSWORD_LINE = re.compile(r"admin password: (\S+)")


@dataclass
class LiteProcess:
    process: subprocess.Popen
    url: str
    admin_password: str
    home: Path
    workspace: Path
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


async def start_lite(
    home: Path, workspace: Path, *, timeout: float = 240, extra_args: tuple[str, ...] = (), extra_env: dict[str, str] | None = None,
    password: str | None = None,
) -> LiteProcess:
    """Start `leoflow lite`; `password`: the admin's, known from an earlier start
    (a later start prints none)."""
    port = free_port()
    log_path = home.parent / "lite.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LEOFLOW_HOME": str(home), "LEOFLOW_LOG_JSON": "false", **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(LEOFLOW_CLI), "lite", str(workspace), "--port", str(port), *extra_args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            text = log_path.read_text(errors="replace")
            if password is None and (m := PASSWORD_LINE.search(text)):
                password = m.group(1)
            if "Leoflow Lite is ready" in text and password:
                try:
                    if (await http.get(f"{url}/api/v2/version", timeout=2)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if process.poll() is not None:
                raise RuntimeError(f"leoflow lite exited with {process.returncode}:\n{text[-4000:]}")
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"leoflow lite not ready after {timeout}s:\n{text[-4000:]}")
            await asyncio.sleep(0.1)
    return LiteProcess(process, url, password, home, workspace, log_path)
