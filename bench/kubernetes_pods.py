"""Figures of the kubernetes execution backend (prints them; asserts nothing).

1. Pod specs built per second: build_pod() for distinct task tries, and the same
   plus serialisation to the JSON the API receives.
2. Dispatcher memory with 10,000 tracked pods: a dispatcher (DispatcherApp with the
   kubernetes backend, the real `kubernetes` client, the in-process bus) dispatches
   10,000 tries to the pods-API stand-in, which runs in a child process so that
   only the dispatcher's memory is measured; then the figure is the growth of its
   resident set, per pod.

    uv run python bench/kubernetes_pods.py [--pods 10000] [--specs 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubernetes import client  # noqa: E402
from leoflow_common.settings import BusSettings, SecuritySettings  # noqa: E402
from leoflow_dispatcher import DispatcherApp, DispatcherSettings  # noqa: E402
from leoflow_dispatcher.backends.kubernetes.pod_spec import build_pod  # noqa: E402
from leoflow_dispatcher.backends.kubernetes.settings import KubernetesSettings  # noqa: E402

from services.dispatcher.tests.kube_helpers import (  # noqa: E402
    launch_request,
    platform,
    task_execution,
)

STANDIN = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from services.dispatcher.tests.kube_standin import KubeStandIn
async def main():
    server = KubeStandIn(history=1000)
    print(await server.start(), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_specs(count: int) -> None:
    requests = [launch_request(map_index=i) for i in range(count)]
    plat = platform()
    for request in requests[:200]:  # warm-up: pydantic builds its validators lazily
        build_pod(request, plat)
    started = time.perf_counter()
    for request in requests:
        build_pod(request, plat)
    built = time.perf_counter() - started
    serializer = client.ApiClient()
    started = time.perf_counter()
    for request in requests:
        json.dumps(serializer.sanitize_for_serialization(build_pod(request, plat)))
    serialized = time.perf_counter() - started
    print(
        f"pod specs built:               {count / built:10,.0f} /s  ({built / count * 1e6:.0f} µs each)"
    )
    print(
        f"pod specs built + JSON:        {count / serialized:10,.0f} /s  ({serialized / count * 1e6:.0f} µs each)"
    )


async def bench_memory(pods: int) -> None:
    server = subprocess.Popen(  # noqa: ASYNC220 - once, before anything is measured
        [sys.executable, "-c", STANDIN.format(repo=str(REPO))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        host = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory(prefix="leoflow-bench-") as scratch:
            await _measure(host, Path(scratch), pods)
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _measure(host: str, scratch: Path, pods: int) -> None:
    kubeconfig = scratch / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "s", "cluster": {"server": host}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "s", "context": {"cluster": "s", "user": "u"}}],
                "current-context": "s",
            }
        )
    )
    settings = DispatcherSettings(
        backend="kubernetes",
        grpc_bind="127.0.0.1:0",
        advertise_address="127.0.0.1:1",
        work_dir=scratch / "work",
        concurrency=pods + 1,
        # Leave the pods be at the end (the stand-in goes with them).
        stop_executions_on_shutdown=False,
        security=SecuritySettings(
            jwt_secret=secrets.token_urlsafe(32), agent_token_secret=secrets.token_urlsafe(32)
        ),
        bus=BusSettings(url="memory://"),
        kubernetes=KubernetesSettings(kubeconfig=kubeconfig, replica_id="bench-0"),
    )
    executions = [task_execution(map_index=i) for i in range(pods)]
    gc.collect()
    before = rss_mib()
    app = DispatcherApp(settings)
    await app.start()
    try:
        started = time.perf_counter()
        batch = 64
        for first in range(0, pods, batch):
            await asyncio.gather(
                *(app.supervisor.dispatch(e) for e in executions[first : first + batch])
            )
        dispatched = time.perf_counter() - started
        while len(app.backend.tracked()) < pods:  # noqa: ASYNC110 - the watch catching up
            await asyncio.sleep(0.1)
        gc.collect()
        after = rss_mib()
        print(
            f"pods launched through the stand-in: {pods:,} in {dispatched:.1f}s ({pods / dispatched:,.0f} /s)"
        )
        print(
            f"dispatcher RSS: {before:.0f} MiB before, {after:.0f} MiB with {pods:,} tracked pods"
        )
        print(
            f"  growth {after - before:.0f} MiB = {(after - before) * 1024 * 1024 / pods / 1024:.1f} KiB per tracked pod "
            "(supervisor execution + journal state + backend's slim pod copy)"
        )
    finally:
        await app.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--specs", type=int, default=20_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one line per pod would drown the figures
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    bench_specs(args.specs)
    asyncio.run(bench_memory(args.pods))


if __name__ == "__main__":
    main()
