"""Config shapes (Airflow 3.2.2: Config, ConfigSection, ConfigOption)."""

from __future__ import annotations

from .common import StrictBaseModel


class ConfigOption(StrictBaseModel):
    key: str
    # A pair is (value, source) when a source is shown; Leoflow shows values only.
    value: str | tuple[str, str]


class ConfigSection(StrictBaseModel):
    name: str
    options: list[ConfigOption]


class Config(StrictBaseModel):
    sections: list[ConfigSection]
