"""Write docs/configuration.md: every environment variable every service reads,
generated from the services' typed settings classes (so it cannot drift; a test
regenerates it and fails on a difference).

Usage: uv run python scripts/gen_config_docs.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "configuration.md"

HEADER = """# Configuration

Every Leoflow service reads its configuration from environment variables, once, at
start (typed settings, `pydantic-settings`). This page is generated from those
settings classes by `scripts/gen_config_docs.py`; a test fails when it is stale.

Variables without a service prefix are shared: every service that embeds the
group reads them. Default gRPC ports: scheduler 50051, dispatcher 50052, xcom
50054, logs 50055; the gateway serves HTTP on 8080 (Lite: 8088).
"""


def services() -> list[tuple[str, type[BaseSettings]]]:
    from leoflow_api_gateway.settings import GatewaySettings
    from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings
    from leoflow_dispatcher.settings import DispatcherSettings
    from leoflow_logs.settings import LogsSettings
    from leoflow_scheduler.settings import SchedulerSettings
    from leoflow_xcom.settings import XComSettings

    return [
        ("Shared: security (every service)", SecuritySettings),
        ("Shared: bus (scheduler, dispatcher, xcom)", BusSettings),
        ("Shared: telemetry (every service)", TelemetrySettings),
        ("scheduler", SchedulerSettings),
        ("dispatcher", DispatcherSettings),
        ("xcom", XComSettings),
        ("logs", LogsSettings),
        ("api-gateway", GatewaySettings),
    ]


def _default(field) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        return "(computed)"
    value = field.default
    if value is None or value == "":
        return "(empty)"
    text = str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)
    # Defaults derived from where Leoflow is installed differ per machine.
    text = text.replace(str(ROOT), "<repo>").replace(sys.prefix, "<venv>").replace(str(Path.home()), "~")
    return f"`{text}`"


def rows(settings: type[BaseSettings]) -> list[str]:
    prefix = settings.model_config.get("env_prefix", "")
    out = []
    for name, field in settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            if annotation.__module__.startswith("leoflow_common"):
                continue  # shared groups are documented once, above
            out += rows(annotation)
            continue
        type_name = getattr(annotation, "__name__", str(annotation)).replace("typing.", "").replace("pydantic.types.", "")
        type_name = type_name.replace("|", "or")
        description = (field.description or "").replace("|", "\\|")
        out.append(f"| `{(prefix + name).upper()}` | {type_name} | {_default(field)} | {description} |")
    return out


def render() -> str:
    parts = [HEADER]
    for title, settings in services():
        parts.append(f"\n## {title}\n\n| variable | type | default | meaning |\n|---|---|---|---|")
        parts.extend(rows(settings))
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/configuration.md is stale")
    text = render()
    if parser.parse_args().check:
        sys.exit(0 if OUT.exists() and OUT.read_text() == text else 1)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
