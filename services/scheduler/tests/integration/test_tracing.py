"""One run is one trace: events continue the trace of the change they announce,
and the leader's loops continue the trace of the run's trigger."""

from leoflow_scheduler.domain.runs import TriggerRequest, trigger_dag_run
from opentelemetry.sdk.trace import TracerProvider

TRACER = TracerProvider().get_tracer("scheduler-tests")


async def test_dispatches_continue_the_trace_of_the_trigger(scheduler, spec_builder):
    await scheduler.register(spec_builder("traced", {"a": []}))
    with TRACER.start_as_current_span("POST /dagRuns") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        run = await trigger_dag_run(
            scheduler.app.ctx, "default", TriggerRequest(dag_id="traced"), "ann"
        )
    # The run starter (a leader loop, outside any request) queued the task.
    await scheduler.dispatched("a", run_id=run["run_id"])
    envelope = scheduler.dispatch_envelopes[-1]
    assert envelope.trace_context["traceparent"].split("-")[1] == trace_id
    async with scheduler.app.ctx.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT trace_context FROM dag_runs WHERE id = $1", run["id"])
    assert stored["traceparent"].split("-")[1] == trace_id


async def test_untraced_changes_never_inherit_another_trace(scheduler, spec_builder):
    """A trigger made without a caller's trace publishes either no trace (no tracer
    provider installed) or a fresh trace of its own (the gRPC server span, when
    another test of this process installed a provider) -- never a leaked one."""
    await scheduler.register(spec_builder("untraced", {"a": []}))
    trace_ids = []
    for _ in range(2):
        run = await scheduler.trigger("untraced")
        await scheduler.dispatched("a", run_id=run.run_id)
        traceparent = scheduler.dispatch_envelopes[-1].trace_context.get("traceparent")
        trace_ids.append(traceparent.split("-")[1] if traceparent else None)
    assert trace_ids[0] is None or trace_ids[0] != trace_ids[1]
