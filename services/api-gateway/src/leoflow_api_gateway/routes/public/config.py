"""/api/v2/config (Airflow's routes/public/config.py).

Airflow answers 403 unless [api] expose_config is on; Leoflow does the same with
LEOFLOW_GATEWAY_EXPOSE_CONFIG. When exposed, the answer is the gateway's own
effective settings in Airflow's Config shape — one section per settings group,
options by field name — with every secret shown as "< hidden >" (as Airflow shows
sensitive options), never its value. Other services' settings are not known to
the gateway and are not shown.
"""

from __future__ import annotations

from leoflow_common.auth import Capability
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ...datamodels.config import Config, ConfigOption, ConfigSection
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError
from ...http.params import parse_query
from ...http.responses import json_response

NOT_EXPOSED = "Your Airflow administrator chose not to expose the configuration, most likely for security reasons."
HIDDEN = "< hidden >"
GATEWAY_SECTION = "api_gateway"


def _text(value: object) -> str:
    if isinstance(value, SecretStr):
        return HIDDEN
    return "" if value is None else str(value)


def effective_config(settings: BaseSettings) -> Config:
    """The settings as Airflow's Config: nested settings groups become sections."""
    own: list[ConfigOption] = []
    nested: list[ConfigSection] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseSettings):
            options = [ConfigOption(key=k, value=_text(getattr(value, k))) for k in type(value).model_fields]
            nested.append(ConfigSection(name=name, options=options))
        else:
            own.append(ConfigOption(key=name, value=_text(value)))
    return Config(sections=[ConfigSection(name=GATEWAY_SECTION, options=own), *nested])


def _wants_text(request: Request) -> bool:
    """Airflow's Accept handling: */* and application/json get JSON, text/plain
    gets text; anything else is 406."""
    accept = request.headers.get("accept", "*/*")
    if accept.startswith("*/*") or accept.startswith("application/json"):
        return False
    if accept.startswith("text/plain"):
        return True
    raise HTTPError(406, "Only application/json or text/plain is supported")


def _as_text(config: Config) -> str:
    blocks = []
    for section in config.sections:
        lines = [f"[{section.name}]"] + [f"{option.key} = {option.value}" for option in section.options]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _answer(config: Config, as_text: bool) -> Response:
    return PlainTextResponse(_as_text(config)) if as_text else json_response(config)


def _check_exposed(request: Request) -> None:
    if not gateway(request).settings.expose_config:
        raise HTTPError(403, NOT_EXPOSED)


class GetConfigQuery(BaseModel):
    section: str | None = None


@endpoint(Capability.READ)
async def get_config(request: Request) -> Response:
    as_text = _wants_text(request)
    query = parse_query(request, GetConfigQuery)
    _check_exposed(request)
    config = effective_config(gateway(request).settings)
    if query.section is not None:
        sections = [s for s in config.sections if s.name == query.section]
        if not sections:
            raise HTTPError(404, f"Section {query.section} not found.")
        config = Config(sections=sections)
    return _answer(config, as_text)


@endpoint(Capability.READ)
async def get_config_value(request: Request) -> Response:
    as_text = _wants_text(request)
    _check_exposed(request)
    section, option = request.path_params["section"], request.path_params["option"]
    for candidate in effective_config(gateway(request).settings).sections:
        if candidate.name == section:
            for found in candidate.options:
                if found.key == option:
                    return _answer(Config(sections=[ConfigSection(name=section, options=[found])]), as_text)
    raise HTTPError(404, f"Option [{section}/{option}] not found.")


routes = [
    Route("/config", get_config, methods=["GET"]),
    Route("/config/section/{section}/option/{option}", get_config_value, methods=["GET"]),
]
