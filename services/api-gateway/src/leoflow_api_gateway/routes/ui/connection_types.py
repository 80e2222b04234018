"""The connection types the UI's connection form offers (/ui/connections/hook_meta).

Leoflow's control plane loads no provider hooks: a connection reaches a task as
AIRFLOW_CONN_<ID> and the task reads it with BaseHook.get_connection (or with a
provider installed in the DAG's own environment). So each type here names no hook
class (as Airflow's own "generic" and "email" entries do) and only says how the
form labels the standard fields for that kind of service; the conventional
default connection ids are the providers' own."""

from __future__ import annotations

from ...datamodels.ui.connections import ConnectionHookFieldBehavior as Field
from ...datamodels.ui.connections import ConnectionHookMetaData, StandardHookFields

HIDDEN = Field(hidden=True)


def _type(connection_type: str, name: str, default_conn: str | None, **fields: Field) -> ConnectionHookMetaData:
    return ConnectionHookMetaData(
        connection_type=connection_type,
        hook_class_name=None,
        default_conn_name=default_conn,
        hook_name=name,
        standard_fields=StandardHookFields(**fields) if fields else None,
        extra_fields=None,
    )


CONNECTION_TYPES: tuple[ConnectionHookMetaData, ...] = (
    _type("email", "Email", None),
    _type("fs", "File (path)", "fs_default", url_schema=HIDDEN, host=HIDDEN, port=HIDDEN, login=HIDDEN, password=HIDDEN),
    _type(
        "ftp", "FTP", "ftp_default", url_schema=HIDDEN, port=Field(placeholder="21"),
    ),
    _type("generic", "Generic", None),
    _type(
        "http", "HTTP", "http_default",
        url_schema=Field(title="Schema", placeholder="http or https"), host=Field(placeholder="api.example.com"),
    ),
    _type(
        "mysql", "MySQL", "mysql_default",
        url_schema=Field(title="Database"), port=Field(placeholder="3306"),
    ),
    _type(
        "postgres", "Postgres", "postgres_default",
        url_schema=Field(title="Database"), port=Field(placeholder="5432"),
    ),
    _type(
        "redis", "Redis", "redis_default",
        url_schema=HIDDEN, port=Field(placeholder="6379"), login=Field(placeholder="ACL user (Redis 6+), or empty"),
    ),
    _type("sftp", "SFTP", "sftp_default", url_schema=HIDDEN, port=Field(placeholder="22")),
    _type("smtp", "SMTP", "smtp_default", url_schema=HIDDEN, port=Field(placeholder="587")),
    _type(
        "sqlite", "Sqlite", "sqlite_default",
        url_schema=HIDDEN, host=Field(title="File path", placeholder="/path/to/database.db"),
        port=HIDDEN, login=HIDDEN, password=HIDDEN,
    ),
    _type("ssh", "SSH", "ssh_default", url_schema=HIDDEN, port=Field(placeholder="22")),
)  # fmt: skip
