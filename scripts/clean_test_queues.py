"""Delete queues and exchanges that test and bench runs left on the local RabbitMQ.

Test namespaces ("test.", "e2e.", "bench.") are deleted by the runs that create
them; a run that was killed leaves its quorum queues behind, and enough of those
exhaust the broker. scripts/test.sh runs this first. Never touches other names.

Usage: uv run python scripts/clean_test_queues.py [AMQP_URL]
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys

import aio_pika

PREFIXES = ("test.", "e2e.", "bench.")


def leftover(kind: str) -> list[str]:
    if not shutil.which("rabbitmqctl"):
        return []
    result = subprocess.run(["rabbitmqctl", "-q", f"list_{kind}", "name"], capture_output=True, text=True, timeout=60)
    return [n.strip() for n in result.stdout.splitlines() if n.strip().startswith(PREFIXES)]


async def main(url: str) -> None:
    queues, exchanges = leftover("queues"), leftover("exchanges")
    if not queues and not exchanges:
        return
    connection = await aio_pika.connect(url)
    try:
        for name, delete in [(q, "queue_delete") for q in queues] + [(e, "exchange_delete") for e in exchanges]:
            channel = await connection.channel()
            try:
                await getattr(channel, delete)(name)
            except aio_pika.exceptions.AMQPError:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
    finally:
        await connection.close()
    print(f"removed {len(queues)} leftover test queue(s) and {len(exchanges)} exchange(s) from RabbitMQ")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "amqp://guest:guest@127.0.0.1:5672/"))
