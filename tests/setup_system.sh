#!/usr/bin/env bash
# System services and packages the tests need, installed/started here so a clean machine passes.
set -euo pipefail

# PostgreSQL: warehouse tests run against the real server on 127.0.0.1:5432.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not running on 127.0.0.1:5432: the warehouse tests need it" >&2; exit 1; }

# Debian packages, one apt-get update for all that are missing:
# - Chromium for the rendering test (headless, no downloaded browser builds);
# - docker-compose (Debian's 1.29) for tests/test_compose.py: `docker-compose config` validates
#   and resolves docker-compose.yml without a Docker engine;
# - LibreOffice Calc for tests/test_office_files.py: partner files as real office software writes them.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc)
# - redis-server for tests/test_airflow_live.py's CeleryExecutor run (the broker, as in the
#   compose file's celery profile).
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# - mmdebstrap for tests/test_compose_live.py: the Debian root filesystem of the local stand-ins
#   for the upstream images (deploy/local-images/), as Docker Hub may not be reachable.
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if (( ${#missing[@]} )); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v chromium >/dev/null || { echo "chromium could not be installed: the rendering test needs it" >&2; exit 1; }
command -v docker-compose >/dev/null || { echo "docker-compose could not be installed: tests/test_compose.py needs it" >&2; exit 1; }
command -v soffice >/dev/null || { echo "libreoffice-calc could not be installed: tests/test_office_files.py needs it" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "mmdebstrap could not be installed: tests/test_compose_live.py needs it" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server could not be installed: tests/test_airflow_live.py needs it" >&2; exit 1; }

# Redis on 127.0.0.1:6379: the Celery broker of the live Airflow test (started here if it is not running).
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not running on 127.0.0.1:6379: the CeleryExecutor test needs it" >&2; exit 1; }

# axe-core (the accessibility engine) for tests/test_scorecard_layout.py, from the npm registry
# into a cache folder outside the repository; idempotent (npm does nothing when it is there).
AXE_DIR="${SCORECARD_AXE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/scorecard-axe}"
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  mkdir -p "$AXE_DIR"
  npm install --prefix "$AXE_DIR" --no-audit --no-fund --silent axe-core@4 >/dev/null
fi
[ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] || { echo "axe-core could not be installed from npm: tests/test_scorecard_layout.py needs it" >&2; exit 1; }
