#!/usr/bin/env bash
# Builds the Debian bookworm root filesystem the local stand-in images start from (no Docker Hub
# needed: only the Debian package mirror), as a tarball for `docker import`, and prints its path.
#   bash deploy/local-images/build-rootfs.sh [CACHE_DIR]    (default /var/cache/lscp-test-images)
# The tarball is cached under a name keyed by a hash of this recipe (the package list and the
# mirror), so a rerun is instant and any change to the recipe builds a new one. Needs root and
# mmdebstrap (apt-get install mmdebstrap).
set -euo pipefail

cache="${1:-/var/cache/lscp-test-images}"
suite=bookworm
mirror="${LSCP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Everything the four stand-ins need, so their builds need no apt: PostgreSQL 15 (postgres),
# Redis (redis), Python 3.11 with venv (the Airflow stand-in), aiosmtpd (the mail catcher),
# curl (the compose file's health checks), dumb-init (the official Airflow image's init).
packages=(
  ca-certificates curl procps dumb-init tzdata locales
  python3 python3-venv python3-pip python3-aiosmtpd
  postgresql-15 postgresql-client-15
  redis-server
  libpq5 git
)
recipe="${suite} ${mirror} minbase ${packages[*]} v1"
key="$(printf '%s' "${recipe}" | sha256sum | cut -c1-16)"
tarball="${cache}/bookworm-${key}.tar"
if [[ -s "${tarball}" ]]; then
  echo "${tarball}"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
mkdir -p "${cache}"
partial="${tarball}.partial.$$"
trap 'rm -f "${partial}"' EXIT
mmdebstrap --variant=minbase --mode=root --format=tar \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --components=main \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --customize-hook='chroot "$1" apt-get clean' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
  "${suite}" "${partial}" "${mirror}" "${mirror%/debian}/debian-security ${suite}-security main" >&2
mv "${partial}" "${tarball}"
trap - EXIT
echo "${tarball}"
