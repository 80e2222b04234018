"""LogShipper against an in-process logs-service double: records arrive once each,
in sequence, closed with final=True, and survive a failed stream."""

from __future__ import annotations

import socket

import grpc
from leoflow_agent.control_plane import open_channel
from leoflow_agent.log_shipper import LogShipper
from leoflow_agent.testing import LogsDouble, eventually
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.logs.v1 import logs_pb2_grpc

TOKEN = "log-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
KEY = keys_pb2.TaskInstanceTryKey(task_instance=keys_pb2.TaskInstanceKey(dag_id="d", run_id="r", task_id="t", map_index=-1), try_number=2)


class FlakyLogs(LogsDouble):
    """Aborts its first `failures` streams after taking one request (which it drops)."""

    def __init__(self, failures: int):
        super().__init__(token=TOKEN)
        self.failures = failures

    async def AppendLogs(self, request_iterator, context):
        if self.failures:
            self.failures -= 1
            async for _ in request_iterator:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "logs store restarting")
        return await super().AppendLogs(request_iterator, context)


async def _serve(servicer):
    server = grpc.aio.server()
    logs_pb2_grpc.add_LogServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    return server, channel, logs_pb2_grpc.LogServiceStub(channel)


async def test_records_arrive_in_sequence_and_the_log_is_closed_final():
    logs = LogsDouble(token=TOKEN)
    server, channel, stub = await _serve(logs)
    shipper = LogShipper(stub, KEY, METADATA)
    shipper.start()
    for i in range(250):  # more than one batch
        shipper.emit("stdout", "info", f"line {i}")
    await eventually(lambda: len(logs.records) == 250, message="records shipped before close")
    assert not logs.final_received
    shipper.emit("agent", "info", "done")
    assert await shipper.close(10)

    assert logs.final_received and logs.rejected == []
    assert [r.sequence for r in logs.ordered()] == list(range(1, 252))
    assert logs.lines()[-1] == "done" and logs.keys[0] == KEY
    await channel.close()
    await server.stop(None)


async def test_a_failed_stream_is_resent_and_nothing_is_lost_or_doubled():
    logs = FlakyLogs(failures=2)
    server, channel, stub = await _serve(logs)
    shipper = LogShipper(stub, KEY, METADATA, batch_size=4)
    shipper.start()
    for i in range(10):
        shipper.emit("stderr", "error", f"e{i}")
    assert await shipper.close(20)

    assert logs.lines() == [f"e{i}" for i in range(10)]
    assert logs.failures == 0  # both aborted streams happened: what they carried was resent
    assert logs.final_received
    await channel.close()
    await server.stop(None)


async def test_streams_rotate_so_confirmed_records_are_released():
    logs = LogsDouble(token=TOKEN)
    server, channel, stub = await _serve(logs)
    shipper = LogShipper(stub, KEY, METADATA, batch_size=2, rotate_after=3)
    shipper.start()
    for i in range(10):
        shipper.emit("stdout", "info", str(i))
        await eventually(lambda i=i: len(logs.records) == i + 1, message=f"record {i} shipped")
    assert await shipper.close(10)

    assert logs.lines() == [str(i) for i in range(10)]
    assert logs.streams_opened == 4  # 3 + 3 + 3 + (1 and final)
    assert shipper.confirmed_sequence == 10
    await channel.close()
    await server.stop(None)


async def test_unreachable_logs_service_does_not_block_close_and_overflow_is_counted():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    channel = open_channel(address)
    shipper = LogShipper(logs_pb2_grpc.LogServiceStub(channel), KEY, METADATA, max_buffered=5)
    shipper.start()
    for i in range(8):
        shipper.emit("stdout", "info", str(i))
    assert shipper.dropped == 3
    assert await shipper.close(0.5) is False
    await channel.close()


async def test_streams_rotate_even_while_output_never_pauses():
    import asyncio

    logs = LogsDouble(token=TOKEN)
    server, channel, stub = await _serve(logs)
    shipper = LogShipper(stub, KEY, METADATA, batch_size=1, rotate_after=3)
    shipper.start()
    for i in range(30):  # a producer that is always ahead of the writes
        shipper.emit("stdout", "info", str(i))
        await asyncio.sleep(0)
    await eventually(lambda: len(logs.records) == 30, message="all records shipped")

    assert logs.streams_opened >= 9  # rotated every 3 records, not one endless stream
    assert await shipper.close(10)
    assert logs.lines() == [str(i) for i in range(30)]
    await channel.close()
    await server.stop(None)
