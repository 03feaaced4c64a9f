#!/usr/bin/env bash
# Installs the Debian 12 packages Gaze needs to build, test and run locally.
# Idempotent: when every package is already installed it does nothing (no apt-get update).
# Needs root (or passwordless sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libpqxx-dev libpq-dev librabbitmq-dev libssl-dev libcurl4-openssl-dev
  libboost1.81-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # services the dev stack and the tests start privately
  postgresql-15 postgresql-client-15 rabbitmq-server
  # a private Keystone (deploy/dev/keystone.sh) for GAZE_AUTH=keystone and the tests
  keystone uwsgi uwsgi-plugin-python3 python3-psycopg2
  # clients the end-to-end suite drives Gaze with (they run on /usr/bin/python3)
  python3-glanceclient python3-openstacksdk python3-openstackclient
  # tools; qemu-img (qemu-utils) also builds the image-format test corpus
  curl procps psmisc qemu-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=(env)
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo env)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep apt from starting the system-wide postgres/rabbitmq: the dev stack runs private ones.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
# The keystone package must not set up a database or endpoints of its own: we configure a
# private instance ourselves.
printf '%s\n' "keystone keystone/configure_db boolean false" \
  "keystone keystone/register-endpoint boolean false" \
  "keystone keystone/create-admin-tenant boolean false" |
  "${SUDO[@]}" debconf-set-selections
while command -v fuser >/dev/null && fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; do sleep 2; done
"${SUDO[@]}" apt-get update -qq
# --no-upgrade: do not touch packages that are already there (e.g. a newer postgresql build).
"${SUDO[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade "${missing[@]}" >&2
