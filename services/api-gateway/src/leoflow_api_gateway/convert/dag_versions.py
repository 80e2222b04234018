"""DagVersion -> DagVersionResponse."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import models_pb2

from ..datamodels.dag_versions import DagVersionResponse
from .common import required_ts, text


def dag_version_response(version: models_pb2.DagVersion, dag_display_name: str) -> DagVersionResponse:
    return DagVersionResponse(
        id=version.id,
        version_number=version.version_number,
        dag_id=version.dag_id,
        bundle_name=text(version.bundle_name),
        bundle_version=text(version.bundle_version),
        created_at=required_ts(version, "created_at"),
        dag_display_name=dag_display_name,
        # Leoflow bundles live in images or local folders: there is no browsable URL.
        bundle_url=None,
    )
