"""Structured logging: one JSON object per line (or a readable console line when
log_json is false) for structlog and stdlib loggers alike.

Every line carries timestamp, level, service, logger and event, plus trace_id and
span_id while a span is active, so logs and traces join on the trace id.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog
from opentelemetry import trace

from ..settings import TelemetrySettings

# Marks the root handler configure_logging installed, so calling it again (tests,
# Lite starting several services) replaces that handler instead of adding one.
_HANDLER_NAME = "leoflow-telemetry"


def _add_service(service_name: str):
    def add_service(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service_name)
        return event_dict

    return add_service


def add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The active span's ids, in the hex form trace back-ends display."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def _drop_formatted_message(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # logging.Formatter stores the rendered message on the record, so ExtraAdder
    # sees it as an extra; it duplicates "event". (stdlib forbids passing
    # "message" in extra=, so nothing real is lost.)
    event_dict.pop("message", None)
    return event_dict


def configure_logging(service_name: str, settings: TelemetrySettings, *, stream: IO[str] | None = None) -> None:
    """Route structlog and the stdlib `logging` module to one handler on `stream`
    (default stdout) at `settings.log_level`."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _add_service(service_name),
        add_trace_ids,
    ]
    if settings.log_json:
        renderer: list[Any] = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=False)]

    structlog.configure(
        processors=[*shared, structlog.stdlib.PositionalArgumentsFormatter(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: configure_logging may run again (tests, Lite) and loggers
        # created before must follow the new configuration.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Records from stdlib loggers get the same fields as structlog's own.
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_formatted_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.captureWarnings(True)
