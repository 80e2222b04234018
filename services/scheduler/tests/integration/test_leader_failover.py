"""Two replicas on one database: both serve the API, one leads. When the
leader's lock connection dies, leadership is taken again at once (by whichever
replica polls first); when the leader goes away, the standby takes over and
finishes the run."""

import asyncio

import asyncpg
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2


async def _kill_lock_holder(dsn: str, key: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = $1 "
            # Advisory locks are per database: never touch another test's leader.
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            key,
        )
        assert pid is not None, "nobody holds the leader lock"
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def _holds(app) -> bool:
    return app.is_leader


async def _two_replicas(make_scheduler, spec_builder, dag_id):
    leader = await make_scheduler()
    standby = await make_scheduler(lead=False, listen=False)
    await asyncio.sleep(0.3)  # the standby campaigns a few times, in vain
    assert leader.app.is_leader and not standby.app.is_leader
    await standby.register(
        spec_builder(dag_id, {"a": [], "b": ["a"]})
    )  # any replica serves the API
    run = await standby.trigger(dag_id)
    a = await leader.dispatched("a")
    await leader.start_running(a)
    return leader, standby, run, a


async def test_losing_the_lock_connection_hands_the_lead_on(make_scheduler, spec_builder):
    leader, standby, run, a = await _two_replicas(make_scheduler, spec_builder, "lost_lock")
    settings = leader.app.settings
    await _kill_lock_holder(settings.database_url, settings.leader_lock_key)

    async def one_leader_again():
        return (leader.app.is_leader + standby.app.is_leader) == 1

    await assert_eventually(one_leader_again, timeout=5, message="a replica leads again")
    # Whoever leads now consumes the dispatcher's reports and drives the run on.
    await leader.report(a, states_pb2.TASK_INSTANCE_STATE_SUCCESS)
    await leader.run_to_success(await leader.dispatched("b"))
    await standby.wait_run_state("lost_lock", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)


async def test_the_standby_takes_over_and_finishes_the_run(make_scheduler, spec_builder):
    leader, standby, run, a = await _two_replicas(make_scheduler, spec_builder, "failover")
    await leader.app.stop()  # the leader goes away (its lock connection closes)
    await assert_eventually(lambda: _holds(standby.app), timeout=5, message="standby took over")

    standby.dispatches = leader.dispatches  # the fake dispatcher outlives the old leader
    await standby.report(a, states_pb2.TASK_INSTANCE_STATE_SUCCESS)
    await standby.run_to_success(await standby.dispatched("b"))
    await standby.wait_run_state("failover", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
