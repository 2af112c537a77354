#!/usr/bin/env bash
# Builds local stand-ins for the upstream images docker-compose.yml and deploy/Dockerfile use
# (apache/airflow, postgres, axllent/mailpit, redis), for a machine that cannot reach Docker Hub,
# and tags them with exactly the names the compose file and the Dockerfile ask for.
#   DOCKER_HOST=unix:///path/docker.sock bash deploy/local-images/build.sh
# Steps: a Debian bookworm root filesystem from the Debian mirror (build-rootfs.sh, cached),
# `docker import` of it, a base image that trusts the host's locally added CA certificates
# (/usr/local/share/ca-certificates: the package proxy's), then one small image per stand-in.
# deploy/local-images/README.md says what each one does and how it differs from upstream.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
label="org.lscp.local-standin=1"

# The names the project uses: the FROM line of deploy/Dockerfile, the compose file's defaults.
airflow_image="$(awk '/^FROM /{print $2; exit}' "${repo}/deploy/Dockerfile")"
default_of() { sed -n "s/.*\${$1:-\([^}]*\)}.*/\1/p" "${repo}/docker-compose.yml" | head -n1; }
postgres_image="${POSTGRES_IMAGE:-$(default_of POSTGRES_IMAGE)}"
mailpit_image="${MAILPIT_IMAGE:-$(default_of MAILPIT_IMAGE)}"
redis_image="${REDIS_IMAGE:-$(default_of REDIS_IMAGE)}"

tarball="$(bash "${here}/build-rootfs.sh" "${LSCP_IMAGE_CACHE:-/var/cache/lscp-test-images}")"
rootfs_tag="lscp-bookworm-rootfs:$(basename "${tarball}" .tar | sed 's/^bookworm-//')"
if ! docker image inspect "${rootfs_tag}" >/dev/null 2>&1; then
  echo "== importing ${tarball} as ${rootfs_tag}"
  docker import --change 'CMD ["bash"]' --change "LABEL ${label}" "${tarball}" "${rootfs_tag}" >/dev/null
fi

ctx="$(mktemp -d)"
trap 'rm -rf "${ctx}"' EXIT
build() {  # build TAG DIR [extra files to copy into the context...]
  local tag="$1" dir="$2"
  shift 2
  rm -rf "${ctx:?}"/* && cp -r "${here}/${dir}/." "${ctx}/"
  for extra in "$@"; do cp -r "${extra}" "${ctx}/"; done
  echo "== building ${tag} (deploy/local-images/${dir})"
  docker build --quiet --label "${label}" --build-arg "ROOTFS=${rootfs_tag}" \
    --build-arg BASE=lscp-local-base:local -t "${tag}" "${ctx}" >/dev/null
}

mkdir -p "${ctx}.certs/certs"
cp /usr/local/share/ca-certificates/*.crt "${ctx}.certs/certs/" 2>/dev/null || true
build lscp-local-base:local base "${ctx}.certs/certs"
rm -rf "${ctx}.certs"
build "${postgres_image}" postgres
build "${mailpit_image}" mailpit
build "${redis_image}" redis
# The project's lock file without its python-dateutil pin (see airflow/airflow-extra-constraints.txt).
grep -v '^python-dateutil==' "${repo}/constraints.txt" > "${ctx}.constraints.txt"
mkdir -p "${ctx}.c" && mv "${ctx}.constraints.txt" "${ctx}.c/constraints.txt"
build "${airflow_image}" airflow "${ctx}.c/constraints.txt"
rm -rf "${ctx}.c"
echo "== stand-ins: ${airflow_image} ${postgres_image} ${mailpit_image} ${redis_image}"
