"""The task graph (order, leaves, relatives, cycles) and schedule parsing."""

import pytest
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.dagspec.graph import build_graph, find_cycle
from leoflow_scheduler.dagspec.schedule import ScheduleError, parse_schedule


def test_graph(spec_builder):
    graph = build_graph(
        spec_builder("g", {"d": ["b", "c"], "a": [], "b": ["a"], "c": ["a"], "e": []})
    )
    assert graph.order.index("a") < graph.order.index("b") < graph.order.index("d")
    assert graph.order.index("c") < graph.order.index("d")
    assert graph.leaves == {"d", "e"}
    assert graph.ancestors("d") == {"a", "b", "c"}
    assert graph.descendants("a") == {"b", "c", "d"}
    assert graph.downstream["a"] == ("b", "c")


def test_cycles_are_named_in_execution_order():
    assert find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": [], "b": ["a"]}) is None
    deep = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(5000)}
    assert find_cycle(deep) is None  # no recursion limit


def test_build_graph_refuses_cycles(spec_builder):
    with pytest.raises(ValueError, match="cycle: a -> b -> a"):
        build_graph(spec_builder("g", {"a": ["b"], "b": ["a"]}))


@pytest.mark.parametrize(
    ("schedule", "summary", "description"),
    [
        (dag_pb2.Schedule(), "None", "Never, external triggers only"),
        # Airflow 3.2: the summary of a preset is its expanded cron expression.
        (dag_pb2.Schedule(expression="@daily"), "0 0 * * *", "At 00:00"),
        (
            dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression="0 5 * * *"),
            "0 5 * * *",
            "",
        ),
        (dag_pb2.Schedule(expression="@once"), "@once", "Once, as soon as possible"),
        (
            dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CONTINUOUS),
            "@continuous",
            "As frequently as possible, but only one run at a time.",
        ),
    ],
)
def test_schedule_summaries(schedule, summary, description):
    parsed = parse_schedule(schedule)
    assert (parsed.summary, parsed.description) == (summary, description)


def test_interval_schedule():
    schedule = dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_INTERVAL)
    schedule.interval.seconds = 86400
    assert parse_schedule(schedule).summary == "1 day, 0:00:00"
    assert parse_schedule(dag_pb2.Schedule(expression="@quarterly")).cron == "0 0 1 */3 *"
    with pytest.raises(ScheduleError):
        parse_schedule(dag_pb2.Schedule(expression="* * *"))
