"""Provider shapes (Airflow 3.2.2: ProviderResponse, ProviderCollectionResponse)."""

from __future__ import annotations

from .common import BaseModel


class ProviderResponse(BaseModel):
    package_name: str
    description: str
    version: str
    documentation_url: str | None


class ProviderCollectionResponse(BaseModel):
    providers: list[ProviderResponse]
    total_entries: int
