#!/bin/bash
# PostgreSQL's image runs this once, when its data volume is first created (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml). One server, two databases, two users:
#   airflow   owns the database "airflow"    (Airflow's metadata)
#   scorecard owns the database "warehouse"  (the scorecard warehouse; the tables are created by
#             the pipeline itself on first use)
# The passwords come from the environment (.env), never from this file. Changing them later needs
# ALTER ROLE ... PASSWORD (docs/operator-guide.md): this script does not run again.
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD is not set}"
: "${WAREHOUSE_DB_PASSWORD:?WAREHOUSE_DB_PASSWORD is not set}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v airflow_password="$AIRFLOW_DB_PASSWORD" \
  -v warehouse_password="$WAREHOUSE_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8';
REVOKE ALL ON DATABASE airflow FROM PUBLIC;

CREATE ROLE scorecard LOGIN PASSWORD :'warehouse_password';
CREATE DATABASE warehouse OWNER scorecard ENCODING 'UTF8';
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
SQL
