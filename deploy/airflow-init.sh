#!/usr/bin/env bash
# One-shot set-up run by the compose service airflow-init before any other Airflow service starts
# (as root, through the official image's entrypoint, which first waits for the metadata database).
# Every step is safe to repeat: `docker compose up` runs it each time.
#   1. refuse to start while any setting still holds a CHANGE-ME placeholder from .env.example
#   2. check the pseudonym key is set (stops if not) and the warehouse answers (warns if not)
#   3. create the scorecard folders on the mounted volumes, owned by the Airflow user
#   4. airflow db migrate (Airflow's tables and the FAB auth manager's)
#   5. create the admin user (left alone if it already exists)
set -euo pipefail

echo "== scorecard: checking settings"
placeholders=$(env | grep -E '^[A-Za-z_][A-Za-z0-9_]*=.*CHANGE-ME' | cut -d= -f1 | sort -u || true)
if [[ -n "${placeholders}" ]]; then
  echo "ERROR: these settings still hold a CHANGE-ME placeholder from .env.example:" >&2
  echo "${placeholders}" | sed 's/^/  - /' >&2
  echo "Edit .env (docs/operator-guide.md, 'First deployment' says how to generate each secret)," >&2
  echo "then run: docker compose up -d" >&2
  exit 1
fi

echo "== scorecard: checking the scorecard connections"
python - <<'PY'
import json, os, sys
from urllib.parse import unquote, urlsplit


def parts(name):
    """The connection NAME as Airflow reads it from AIRFLOW_CONN_NAME: URI or JSON form."""
    raw = os.environ.get(f"AIRFLOW_CONN_{name.upper()}", "").strip()
    if raw.startswith("{"):
        c = json.loads(raw)
        return dict(host=c.get("host"), port=c.get("port"), user=c.get("login"),
                    password=c.get("password"), dbname=c.get("schema"))
    u = urlsplit(raw)
    return dict(host=u.hostname, port=u.port, user=unquote(u.username or ""),
                password=unquote(u.password or ""), dbname=unquote(u.path.lstrip("/")))


key = parts("scorecard_pseudonym_key")["password"] or ""
if not key:
    sys.exit("ERROR: the scorecard_pseudonym_key connection has no password: set SCORECARD_PSEUDONYM_KEY in .env")
if len(key) < 16:  # pipelines/config.py MIN_KEY_LENGTH: every task would refuse it
    sys.exit("ERROR: the pseudonym key is shorter than 16 characters: set a longer SCORECARD_PSEUDONYM_KEY in .env "
             "(docs/operator-guide.md, \"Rotating the pseudonym key\")")
if len(key) < 32:
    print("  WARNING: the pseudonym key is short (under 32 characters); see docs/operator-guide.md", file=sys.stderr)
print("  scorecard_pseudonym_key: set")

# A warning only: the warehouse may be another server, down for a moment; intake retries.
try:
    import psycopg

    w = parts("scorecard_warehouse")
    with psycopg.connect(host=w["host"], port=w["port"] or 5432, user=w["user"], password=w["password"],
                         dbname=w["dbname"], connect_timeout=10) as conn:
        conn.execute("select 1")
    print(f"  scorecard_warehouse: database {w['dbname']!r} on {w['host']} accepts the connection")
except Exception as exc:
    first = (str(exc).strip().splitlines() or [""])[0]
    print(f"  WARNING: the scorecard_warehouse connection could not log in: {type(exc).__name__}: {first}",
          file=sys.stderr)
PY

home="${AIRFLOW_VAR_SCORECARD_HOME:-/opt/scorecard}"
uid="${AIRFLOW_UID:-50000}"
echo "== scorecard: preparing the folders under ${home} for user ${uid}"
for folder in "" inbox archive rejected receipts out out/outbox processing; do
  mkdir -p "${home}/${folder}"
  # Only the folders themselves (what is inside is already the service's). A network share
  # mounted as the inbox may not allow chown; the folder is still usable then.
  chown "${uid}:0" "${home}/${folder}" 2>/dev/null \
    || echo "  note: could not change the owner of ${home}/${folder} (a share?); leaving it as it is"
done
mkdir -p "${AIRFLOW_HOME:-/opt/airflow}/logs"
chown "${uid}:0" "${AIRFLOW_HOME:-/opt/airflow}/logs" 2>/dev/null || true

echo "== scorecard: migrating Airflow's metadata database"
airflow db migrate

echo "== scorecard: admin user '${AIRFLOW_ADMIN_USERNAME:-admin}'"
# Prints "... already exist in the db" and leaves the user (and its password) alone on a re-run;
# change the password with: docker compose exec api-server airflow users reset-password -u NAME
airflow users create \
  --username "${AIRFLOW_ADMIN_USERNAME:-admin}" \
  --password "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set}" \
  --firstname Scorecard --lastname Administrator \
  --email "${AIRFLOW_ADMIN_EMAIL:-admin@lscp.invalid}" \
  --role Admin

echo "== scorecard: set-up done"
