"""The corpus of DAGs the registry must refuse, each with the field it names and
what it says (Airflow's wording where Airflow has one)."""

import pytest
from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.dagspec.validation import validate_dag_spec


def _set(spec, path, value):
    *parents, last = path.split(".")
    target = spec
    for part in parents:
        target = getattr(target, part)
    setattr(target, last, value)


def _mutations(spec_builder):
    def with_(base, fn):
        fn(base)
        return base

    def task(spec, task_id):
        return next(t for t in spec.tasks if t.task_id == task_id)

    chain = lambda: spec_builder("d", {"a": [], "b": ["a"]})  # noqa: E731
    return [
        (
            "schema_version",
            "schema_version is required",
            with_(chain(), lambda s: _set(s, "schema_version", "")),
        ),
        (
            "schema_version",
            "unsupported schema_version '2'",
            with_(chain(), lambda s: _set(s, "schema_version", "2")),
        ),
        ("dag_id", "dag_id is required", with_(chain(), lambda s: _set(s, "dag_id", ""))),
        (
            "dag_id",
            "has characters that are not allowed",
            with_(chain(), lambda s: _set(s, "dag_id", "my dag!")),
        ),
        (
            "dag_id",
            "longer than 250 characters",
            with_(chain(), lambda s: _set(s, "dag_id", "x" * 251)),
        ),
        ("tasks", "DAG 'empty' has no tasks", spec_builder("empty", {})),
        (
            "tasks[1].task_id",
            "duplicate task_id 'a'",
            with_(chain(), lambda s: _set(task(s, "b"), "task_id", "a")),
        ),
        (
            "tasks[0].task_id",
            "task_id 'a b' has characters",
            with_(
                chain(),
                lambda s: (
                    _set(task(s, "a"), "task_id", "a b"),
                    s.tasks[1].ClearField("upstream_task_ids"),
                ),
            ),
        ),
        (
            "tasks[1].upstream_task_ids",
            "task 'b' has unknown upstream task 'zz'",
            spec_builder("d", {"a": [], "b": ["zz"]}),
        ),
        ("tasks", "cycle: a -> b -> a", spec_builder("d", {"a": ["b"], "b": ["a"]})),
        ("tasks", "cycle: a -> a", spec_builder("d", {"a": ["a"]})),
        (
            "tasks",
            "cycle: b -> c -> d -> b",
            spec_builder("d", {"a": [], "b": ["a", "d"], "c": ["b"], "d": ["c"]}),
        ),
        (
            "schedule.expression",
            "invalid cron expression '61 * * * *'",
            with_(
                chain(),
                lambda s: s.schedule.CopyFrom(
                    dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression="61 * * * *")
                ),
            ),
        ),
        (
            "schedule.expression",
            "invalid cron expression 'every day'",
            with_(chain(), lambda s: s.schedule.CopyFrom(dag_pb2.Schedule(expression="every day"))),
        ),
        (
            "schedule.expression",
            "unknown schedule preset '@fortnightly'",
            with_(
                chain(), lambda s: s.schedule.CopyFrom(dag_pb2.Schedule(expression="@fortnightly"))
            ),
        ),
        (
            "schedule.interval",
            "needs a positive interval",
            with_(
                chain(),
                lambda s: s.schedule.CopyFrom(
                    dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_INTERVAL)
                ),
            ),
        ),
        (
            "tasks[0].python",
            "task 'p' needs a python callable",
            with_(
                spec_builder("d", {"p": []}, kinds={"p": dag_pb2.OPERATOR_KIND_PYTHON}),
                lambda s: s.tasks[0].ClearField("python"),
            ),
        ),
        (
            "tasks[0].python",
            "task 'br' needs a python callable",
            with_(
                spec_builder("d", {"br": []}, kinds={"br": dag_pb2.OPERATOR_KIND_BRANCH_PYTHON}),
                lambda s: _set(s.tasks[0], "python.qualname", ""),
            ),
        ),
        (
            "tasks[0].bash.bash_command",
            "task 'a' needs a bash_command",
            with_(chain(), lambda s: _set(task(s, "a"), "bash.bash_command", "  ")),
        ),
        (
            "tasks[0].kind",
            "task 'a' has no operator kind",
            with_(chain(), lambda s: _set(task(s, "a"), "kind", dag_pb2.OPERATOR_KIND_UNSPECIFIED)),
        ),
        (
            "tasks[1].retries",
            "retries must not be negative",
            with_(chain(), lambda s: _set(task(s, "b"), "retries", -1)),
        ),
        (
            "tasks[0].retry_delay",
            "retry_delay must not be negative",
            with_(chain(), lambda s: _set(task(s, "a"), "retry_delay.seconds", -5)),
        ),
        (
            "tasks[1].arguments[0]",
            "task 'b' reads the XCom of 'c', which is not one of its upstream tasks",
            _with_xcom_arg(spec_builder("d", {"a": [], "b": ["a"], "c": []}), "b", "c"),
        ),
        (
            "tasks[1].arguments[0]",
            "reads the XCom of 'c'",
            _with_xcom_list_arg(spec_builder("d", {"a": [], "b": ["a"], "c": []}), "b", ["a", "c"]),
        ),
        # Dynamic task mapping: Airflow refuses to expand over anything but a list
        # or a dict (or an XCom that will hold one), and an XComArg of a task that
        # is not upstream cannot exist.
        (
            "tasks[0].mapping.expand[x]",
            "a mapped input has no value",
            with_(
                chain(), lambda s: task(s, "a").mapping.expand["x"].literal.string_value.__len__()
            ),
        ),
        (
            "tasks[0].mapping.expand[x]",
            "cannot expand over a string_value",
            with_(chain(), lambda s: setattr(task(s, "a").mapping.expand["x"].literal, "string_value", "abc")),
        ),
        (
            "tasks[0].mapping.expand[x]",
            "expands over the XCom of 'c'",
            with_(chain(), lambda s: setattr(task(s, "a").mapping.expand["x"].xcom, "task_id", "c")),
        ),
        (
            "tasks[0].mapping",
            "uses both expand and expand_kwargs",
            with_(
                chain(),
                lambda s: (
                    task(s, "a").mapping.expand["x"].list.items.add().literal.__setattr__("number_value", 1),
                    task(s, "a").mapping.expand_kwargs.list.items.add().literal.__setattr__("number_value", 1),
                ),
            ),
        ),
        (
            "tasks[0].mapping",
            "expands over nothing",
            with_(chain(), lambda s: task(s, "a").mapping.SetInParent()),
        ),
        (
            "max_active_runs",
            "ContinuousTimetable requires max_active_runs <= 1",
            with_(chain(), lambda s: (s.schedule.__setattr__("kind", dag_pb2.SCHEDULE_KIND_CONTINUOUS), s.__setattr__("max_active_runs", 2))),
        ),
        (
            "timezone",
            "unknown time zone 'Mars/Olympus'",
            with_(chain(), lambda s: _set(s, "timezone", "Mars/Olympus")),
        ),
        (
            "max_active_runs",
            "max_active_runs must not be negative",
            with_(chain(), lambda s: _set(s, "max_active_runs", -1)),
        ),
        (
            "end_date",
            "end_date is before start_date",
            with_(
                chain(),
                lambda s: (
                    _set(s, "start_date.seconds", 2_000_000_000),
                    _set(s, "end_date.seconds", 1_000_000_000),
                ),
            ),
        ),
    ]


def _with_xcom_arg(spec, task_id, ref):
    task = next(t for t in spec.tasks if t.task_id == task_id)
    task.arguments.add(name="x").value.xcom.task_id = ref
    return spec


def _with_xcom_list_arg(spec, task_id, refs):
    task = next(t for t in spec.tasks if t.task_id == task_id)
    items = task.arguments.add(name="xs").value.list.items
    for ref in refs:
        items.add().xcom.task_id = ref
    return spec


def test_the_corpus_is_rejected_with_the_field_and_reason(spec_builder):
    for field, message, spec in _mutations(spec_builder):
        with pytest.raises(InvalidArgument) as exc:
            validate_dag_spec(spec)
        assert exc.value.field == field, (message, exc.value.field, exc.value.message)
        assert message in exc.value.message, (field, exc.value.message)


def test_valid_specs_pass(spec_builder):
    validate_dag_spec(spec_builder("d", {"a": [], "b": ["a"], "c": ["a", "b"]}))
    spec = spec_builder("d.with-dots_and-dashes", {"group.task": []})
    spec.schedule.expression = "@daily"
    spec.timezone = "Europe/Paris"
    validate_dag_spec(spec)
    for expression in (
        "0 5 * * *",
        "@hourly",
        "@weekly",
        "@monthly",
        "@quarterly",
        "@yearly",
        "@once",
        "@continuous",
        "None",
        "",
    ):
        spec.schedule.expression = expression
        validate_dag_spec(spec)
    xcom = _with_xcom_list_arg(
        spec_builder("d", {"a": [], "b": [], "c": ["a", "b"]}), "c", ["a", "b"]
    )
    validate_dag_spec(xcom)


def test_values_outside_the_contract_are_refused(spec_builder):
    def chain():
        return spec_builder("d", {"a": [], "b": ["a"]})

    def case(mutate):
        spec = chain()
        mutate(spec)
        return spec

    cases = [
        (
            "tasks[0].kind",
            "task 'a' has an unknown operator kind 42",
            case(lambda s: setattr(s.tasks[0], "kind", 42)),
        ),
        (
            "tasks[1].trigger_rule",
            "task 'b' has an unknown trigger rule 99",
            case(lambda s: setattr(s.tasks[1], "trigger_rule", 99)),
        ),
        (
            "tasks[0].retry_delay",
            "retry_delay is not a valid duration",
            case(lambda s: setattr(s.tasks[0].retry_delay, "seconds", 10**15)),
        ),
        (
            "start_date",
            "start_date is not a valid timestamp",
            case(lambda s: setattr(s.start_date, "seconds", 10**15)),
        ),
        (
            "schedule.kind",
            "unknown schedule kind 77",
            case(lambda s: setattr(s.schedule, "kind", 77)),
        ),
        (
            "schedule.interval",
            "the schedule interval is not a valid duration",
            case(
                lambda s: s.schedule.CopyFrom(
                    dag_pb2.Schedule(
                        kind=dag_pb2.SCHEDULE_KIND_INTERVAL, interval={"seconds": 10**15}
                    )
                )
            ),
        ),
    ]
    for field, message, spec in cases:
        with pytest.raises(InvalidArgument) as exc:
            validate_dag_spec(spec)
        assert (exc.value.field, exc.value.message) == (field, message)
