"""Structured logs: JSON lines with the agreed fields, stdlib logging routed
through the same pipeline, and the active span's ids on every line inside it."""

import io
import json
import logging

import pytest
import structlog
from leoflow_common.settings import TelemetrySettings
from leoflow_common.telemetry import configure_logging
from opentelemetry.sdk.trace import TracerProvider


@pytest.fixture
def log_output():
    """Logging configured into a buffer; restored to the defaults afterwards."""
    stream = io.StringIO()

    def configure(**settings) -> io.StringIO:
        configure_logging("scheduler", TelemetrySettings(**settings), stream=stream)
        return stream

    yield configure
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "leoflow-telemetry"]:
        root.removeHandler(handler)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_stdlib_and_structlog_lines_are_json_with_the_agreed_fields(log_output):
    stream = log_output(log_json=True, log_level="INFO")

    logging.getLogger("leoflow_scheduler.loops").info("created %d runs", 3, extra={"dag_id": "etl"})
    structlog.get_logger("leoflow_scheduler.api").warning("run refused", dag_id="etl")

    stdlib_line, structlog_line = lines(stream)
    for line in (stdlib_line, structlog_line):
        assert {"timestamp", "level", "service", "logger", "event"} <= line.keys()
        assert line["service"] == "scheduler"
        assert line["timestamp"].endswith("Z")
        assert "trace_id" not in line  # no span active
    assert stdlib_line | {"timestamp": None} == {
        "timestamp": None,
        "level": "info",
        "service": "scheduler",
        "logger": "leoflow_scheduler.loops",
        "event": "created 3 runs",
        "dag_id": "etl",
    }
    assert (structlog_line["level"], structlog_line["logger"], structlog_line["event"], structlog_line["dag_id"]) == (
        "warning",
        "leoflow_scheduler.api",
        "run refused",
        "etl",
    )


def test_lines_inside_a_span_carry_its_trace_and_span_ids(log_output):
    stream = log_output(log_json=True)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("decide") as span:
        logging.getLogger("leoflow.test").info("inside")
        structlog.get_logger("leoflow.test").info("inside too")
    logging.getLogger("leoflow.test").info("outside")

    inside, inside_too, outside = lines(stream)
    context = span.get_span_context()
    for line in (inside, inside_too):
        assert line["trace_id"] == format(context.trace_id, "032x")
        assert line["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside


def test_level_filters_and_exceptions_are_rendered(log_output):
    stream = log_output(log_json=True, log_level="WARNING")
    log = logging.getLogger("leoflow.test")

    log.info("dropped")
    try:
        raise ValueError("bad input")
    except ValueError:
        log.exception("handler failed")

    (line,) = lines(stream)
    assert line["event"] == "handler failed" and line["level"] == "error"
    assert "ValueError: bad input" in line["exception"]


def test_human_readable_lines_when_json_is_off(log_output):
    stream = log_output(log_json=False)

    logging.getLogger("leoflow.test").info("hello %s", "operator")

    text = stream.getvalue()
    assert "hello operator" in text and "info" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_configuring_again_replaces_the_handler_instead_of_duplicating_lines(log_output):
    log_output(log_json=True)
    stream = log_output(log_json=True)

    logging.getLogger("leoflow.test").info("once")

    assert [line["event"] for line in lines(stream)] == ["once"]
