#!/usr/bin/env bash
# The test command (CI runs it through .ci/run): installs what is missing, builds into
# build/ (or $GAZE_BUILD_DIR), starts a throwaway PostgreSQL and RabbitMQ for the tests, runs
# ctest, and stops and deletes everything it started on exit, whether the tests pass, fail
# or are interrupted. Exits with ctest's status. Extra arguments go to ctest:
#   deploy/dev/test.sh -L unit        deploy/dev/test.sh -R e2e_glanceclient
#
# Ports: GAZE_PG_PORT (default 25442), GAZE_AMQP_PORT (default 5702) and GAZE_KEYSTONE_PORT
# (default 5010), distinct from the dev stack's so both can run at once. The tests get
# GAZE_TEST_PG_DSN (role gaze may CREATE DATABASE), GAZE_TEST_AMQP_URL, GAZE_BUILD_DIR, and a
# private Keystone: GAZE_TEST_KEYSTONE_URL plus GAZE_TEST_KEYSTONE_ACCOUNTS, the file with its
# users' passwords (see deploy/dev/keystone.sh for the accounts).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_TEST_PORT=${GAZE_PG_PORT:-25442}
MQ_TEST_PORT=${GAZE_AMQP_PORT:-5702}
KS_TEST_PORT=${GAZE_KEYSTONE_PORT:-5010}
BUILD_DIR=${GAZE_BUILD_DIR:-$GAZE_ROOT/build}
mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)

check_ports "$MQ_TEST_PORT" "GAZE_PG_PORT=$PG_TEST_PORT" "GAZE_AMQP_PORT=$MQ_TEST_PORT" \
  "GAZE_KEYSTONE_PORT=$KS_TEST_PORT"
"$GAZE_ROOT/deploy/dev/install-deps.sh"

# A fresh home for this run only; 711 so that PostgreSQL (user postgres) can traverse it.
GAZE_HOME=$(mktemp -d "${TMPDIR:-/tmp}/gaze-test.XXXXXX")
chmod 711 "$GAZE_HOME"
gaze_home_init
pg_paths "$PG_TEST_PORT"
mq_paths "$MQ_TEST_PORT"
ks_paths "$KS_TEST_PORT"
stack_record

starters=()
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  set +e
  # Let a start still in progress finish, so that what it started gets stopped below.
  [ ${#starters[@]} -gt 0 ] && wait "${starters[@]}" 2>/dev/null
  stack_stop_backends
  rm -rf "$GAZE_HOME" "$PG_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL and RabbitMQ start in the background while the build runs. Busy ports are
# reported now rather than after the build.
require_free_port GAZE_PG_PORT "$PG_PORT"
require_free_port GAZE_AMQP_PORT "$MQ_PORT"
require_free_port GAZE_KEYSTONE_PORT "$KS_PORT"
# Keystone keeps its database in the same PostgreSQL. The image service's catalog entry
# points nowhere yet: the tests that need it register their own stack's URL.
(pg_start test && ks_start http://127.0.0.1:1) >"$GAZE_HOME/pg-start.log" 2>&1 &
starters+=($!)
(mq_start) >"$GAZE_HOME/mq-start.log" 2>&1 &
starters+=($!)

log "building into $BUILD_DIR"
cmake -S "$GAZE_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD_DIR"

wait_started() { # wait_started PID WHAT LOG
  wait "$1" || {
    cat "$3" >&2
    die "could not start the test $2"
  }
}
wait_started "${starters[0]}" "PostgreSQL and Keystone" "$GAZE_HOME/pg-start.log"
wait_started "${starters[1]}" RabbitMQ "$GAZE_HOME/mq-start.log"
starters=()
log "PostgreSQL on 127.0.0.1:$PG_PORT, Keystone on 127.0.0.1:$KS_PORT and RabbitMQ on 127.0.0.1:$MQ_PORT are up"

GAZE_TEST_PG_DSN=$(pg_dsn)
GAZE_TEST_AMQP_URL=$(mq_url)
GAZE_TEST_KEYSTONE_URL=$KS_URL
GAZE_TEST_KEYSTONE_ACCOUNTS=$KS_ROOT/accounts.env
export GAZE_TEST_PG_DSN GAZE_TEST_AMQP_URL GAZE_TEST_KEYSTONE_URL GAZE_TEST_KEYSTONE_ACCOUNTS
export GAZE_BUILD_DIR=$BUILD_DIR

status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j2 "$@" || status=$?
exit "$status"
