#!/usr/bin/env bash
# Writes .env from .env.example with every CHANGE-ME placeholder replaced by a new random secret:
# a Fernet key for AIRFLOW_FERNET_KEY, 64 hex digits for everything else (URL-safe, so they can
# sit inside connection URLs). Run from anywhere:  bash deploy/new-env.sh [TARGET]
# Refuses to overwrite an existing file: secrets already in use (above all the pseudonym key and
# the database passwords) must not change by accident.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-${repo}/.env}"
if [[ -e "${target}" ]]; then
  echo "${target} already exists; not overwriting it (edit it, or move it away first)" >&2
  exit 1
fi

umask 077
python3 - "${repo}/.env.example" "${target}" <<'PY'
import base64, os, re, secrets, sys

source, target = sys.argv[1], sys.argv[2]
placeholder = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=CHANGE-ME[^\s]*$")
lines = []
for line in open(source, encoding="utf-8"):
    match = placeholder.match(line.rstrip("\n"))
    if match:
        name = match.group(1)
        if name == "AIRFLOW_FERNET_KEY":
            value = base64.urlsafe_b64encode(os.urandom(32)).decode()
        else:
            value = secrets.token_hex(32)
        line = f"{name}={value}\n"
    lines.append(line)
with open(target, "x", encoding="utf-8") as out:
    out.writelines(lines)
PY
chmod 600 "${target}"
echo "wrote ${target} (mode 600): new secrets for every CHANGE-ME."
echo "Now set the folders, the mail relay and the email addresses in it (docs/operator-guide.md)."
echo "Keep a copy of SCORECARD_PSEUDONYM_KEY somewhere safe: losing it breaks the linking of children."
