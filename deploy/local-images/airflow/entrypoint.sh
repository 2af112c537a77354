#!/usr/bin/env bash
# A subset of the official Airflow image's entrypoint: wait for the metadata database (unless
# CONNECTION_CHECK_MAX_COUNT=0), then run `bash ...` and `python ...` as given and everything
# else as `airflow ...` (api-server, scheduler, celery worker, ...).
set -euo pipefail

wait_for_db() {
  local max="${CONNECTION_CHECK_MAX_COUNT:-20}" sleep="${CONNECTION_CHECK_SLEEP_TIME:-3}" n=1
  [[ "${max}" -gt 0 ]] || return 0
  while ! airflow db check >/tmp/db-check.log 2>&1; do
    if [[ "${n}" -ge "${max}" ]]; then
      echo "ERROR: the metadata database did not answer after ${n} tries:" >&2
      tail -5 /tmp/db-check.log >&2
      exit 1
    fi
    echo "waiting for the metadata database (${n}/${max})" >&2
    n=$((n + 1))
    sleep "${sleep}"
  done
}

if [[ $# -eq 0 ]]; then
  exec bash
fi
case "$1" in
  bash | python | python3)
    wait_for_db
    exec "$@"
    ;;
  version)
    exec airflow "$@"
    ;;
  *)
    wait_for_db
    exec airflow "$@"
    ;;
esac
