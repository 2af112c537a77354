"""Settings for the DAGs from Airflow connections and variables (production), falling back to
the ``SCORECARD_*`` environment variables the command line uses.

| what | Airflow | overrides |
| --- | --- | --- |
| warehouse | connection ``scorecard_warehouse`` (postgres or sqlite) | SCORECARD_WAREHOUSE_URL |
| pseudonym key | connection ``scorecard_pseudonym_key`` (its password) | SCORECARD_PSEUDONYM_KEY |
| mail | connection ``smtp_default`` (host, port, login, password; extras disable_ssl, disable_tls, from_email) | SCORECARD_SMTP_* |
| folders | variable ``scorecard_home`` | SCORECARD_HOME |
| PMSG list, analyst | variables ``scorecard_pmsg_to``, ``scorecard_analyst_email`` | SCORECARD_PMSG_TO, SCORECARD_ANALYST_EMAIL |
| data officers | variable ``scorecard_data_officers`` (JSON: source -> address) | SCORECARD_DATA_OFFICER_<SOURCE> |

Secrets are read at run time inside tasks, never at parse time, and never logged.
"""

from __future__ import annotations

import json
import os

WAREHOUSE_CONN = "scorecard_warehouse"
KEY_CONN = "scorecard_pseudonym_key"
SMTP_CONN = "smtp_default"


def _connection(conn_id: str):
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return str(value) if value not in (None, "") else None


def _truthy(value) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def warehouse_url(conn) -> str:
    """A SQLAlchemy URL for a warehouse connection (PostgreSQL through psycopg 3)."""
    from sqlalchemy.engine import URL

    if conn.conn_type in ("postgres", "postgresql"):
        return URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.host or conn.schema}"
    raise ValueError(f"connection {WAREHOUSE_CONN} has type {conn.conn_type!r}: use postgres (or sqlite)")


def smtp_environment(conn) -> dict[str, str]:
    """Airflow's SMTP connection in the product's terms (SSL unless disabled, else STARTTLS unless disabled)."""
    extra = conn.extra_dejson or {}
    if not _truthy(extra.get("disable_ssl", False)):
        security = "ssl"
    elif not _truthy(extra.get("disable_tls", False)):
        security = "starttls"
    else:
        security = "none"
    env = {"SCORECARD_SMTP_HOST": conn.host or "", "SCORECARD_SMTP_SECURITY": security}
    if conn.port:
        env["SCORECARD_SMTP_PORT"] = str(conn.port)
    if conn.login:
        env["SCORECARD_SMTP_USER"] = conn.login
    if conn.password:
        env["SCORECARD_SMTP_PASSWORD"] = conn.password
    if extra.get("from_email"):
        env["SCORECARD_MAIL_FROM"] = extra["from_email"]
    return env


def scorecard_settings():
    from pipelines.config import load_settings

    env = dict(os.environ)
    if conn := _connection(WAREHOUSE_CONN):
        env["SCORECARD_WAREHOUSE_URL"] = warehouse_url(conn)
    if (conn := _connection(KEY_CONN)) and conn.password:
        env["SCORECARD_PSEUDONYM_KEY"] = conn.password
    if (conn := _connection(SMTP_CONN)) and conn.host:
        env.update(smtp_environment(conn))
    for variable, name in (
        ("scorecard_home", "SCORECARD_HOME"),
        ("scorecard_pmsg_to", "SCORECARD_PMSG_TO"),
        ("scorecard_analyst_email", "SCORECARD_ANALYST_EMAIL"),
    ):
        if value := _variable(variable):
            env[name] = value
    if officers := _variable("scorecard_data_officers"):
        for source, address in json.loads(officers).items():
            env[f"SCORECARD_DATA_OFFICER_{source.upper()}"] = address
    return load_settings(env)
