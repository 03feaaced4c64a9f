#!/usr/bin/env bash
# Builds Gaze and starts the local dev stack: PostgreSQL, RabbitMQ, metadata-svc,
# task-worker and api-gateway, all in the background with their state under $GAZE_HOME
# (default: .gaze in the repository). Running it again rebuilds and restarts cleanly;
# deploy/dev/down.sh stops the stack. GAZE_RESET=1 wipes the state first.
#
# Standard output is only the stack's coordinates, as shell assignments (also written to
# $GAZE_HOME/env), so both `eval "$(deploy/dev/up.sh)"` and `. .gaze/env` work:
#   GAZE_URL=http://127.0.0.1:9292
#   GAZE_ADMIN_TOKEN=...  GAZE_DEMO_TOKEN=...  GAZE_ALT_TOKEN=...
# Everything else goes to standard error.
#
# Ports: GAZE_API_PORT (9292), GAZE_GRPC_PORT (9191), GAZE_PG_PORT (55432),
# GAZE_AMQP_PORT (5682; RabbitMQ also uses -1000, +20000 and +30000..+30010 of it),
# GAZE_KEYSTONE_PORT (5000, only with GAZE_AUTH=keystone).
#
# GAZE_WORKERS=N (default 1) starts N task-workers side by side. Their scratch space for
# imports is $GAZE_HOME/work (one directory per worker inside it).
#
# Import (optional, comma-separated lists, passed to every task-worker only when set):
# GAZE_WEB_DOWNLOAD_ALLOWED_HOSTS, GAZE_WEB_DOWNLOAD_ALLOWED_PORTS and
# GAZE_WEB_DOWNLOAD_ALLOWED_SCHEMES, web-download's allow lists (an allowed host is the only way
# to reach a loopback or private source, e.g. a local HTTP server:
# GAZE_WEB_DOWNLOAD_ALLOWED_HOSTS=127.0.0.1 GAZE_WEB_DOWNLOAD_ALLOWED_PORTS=8000).
# GAZE_DELAYED_DELETE_SECONDS=N (metadata-svc): deleted images wait N seconds in pending_delete,
# restorable with `metadata-svc restore IMAGE_ID --grpc_port $GAZE_GRPC_PORT`.
#
# Authentication: GAZE_AUTH=static (default) creates a static token file with three tokens.
# GAZE_AUTH=keystone authenticates through Keystone instead: up.sh starts a private Keystone
# (deploy/dev/keystone.sh), or, when GAZE_KEYSTONE_URL is set, uses that Keystone with the
# service credentials GAZE_KEYSTONE_USER, GAZE_KEYSTONE_PASSWORD, GAZE_KEYSTONE_PROJECT and
# optionally GAZE_KEYSTONE_USER_DOMAIN / GAZE_KEYSTONE_PROJECT_DOMAIN (default "Default").
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

API_PORT=${GAZE_API_PORT:-9292}
GRPC_PORT=${GAZE_GRPC_PORT:-9191}
PG_PORT=${GAZE_PG_PORT:-55432}
MQ_PORT=${GAZE_AMQP_PORT:-5682}
KS_PORT=${GAZE_KEYSTONE_PORT:-5000}
AUTH=${GAZE_AUTH:-static}
WORKERS=${GAZE_WORKERS:-1}
BUILD_DIR=${GAZE_BUILD_DIR:-$GAZE_ROOT/build}
BIN=$BUILD_DIR/bin
READY_TIMEOUT=60 # seconds each process gets to become ready

# start_instance NAME PROGRAM ARGS...: runs $BIN/PROGRAM as instance NAME (its pid file and
# log are NAME.pid and NAME.log) in its own session, so that neither the end of this script
# nor a ^C in its terminal reaches it. The previous log is kept as NAME.log.1.
start_instance() {
  local name=$1 program=$2 logf=$GAZE_HOME/logs/$1.log
  shift 2
  [ ! -f "$logf" ] || mv -f "$logf" "$logf.1"
  log "starting $name"
  setsid nohup "$BIN/$program" "$@" >"$logf" 2>&1 </dev/null &
  echo $! >"$GAZE_HOME/run/$name.pid"
}

start_service() { start_instance "$1" "$@"; }

# wait_ready NAME COMMAND...: polls COMMAND until it succeeds; fails with the tail of the
# log if the process exits or READY_TIMEOUT passes first.
wait_ready() {
  local name=$1 pid deadline=$((SECONDS + READY_TIMEOUT))
  shift
  pid=$(<"$GAZE_HOME/run/$name.pid")
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$pid"; then
      log "$name exited; the end of $GAZE_HOME/logs/$name.log:"
    elif ((SECONDS >= deadline)); then
      log "$name is not ready after ${READY_TIMEOUT}s; the end of $GAZE_HOME/logs/$name.log:"
    else
      sleep 0.2
      continue
    fi
    tail -n 40 "$GAZE_HOME/logs/$name.log" >&2
    exit 1
  done
  log "$name is ready"
}

logged_ready() { grep -qE '"msg" *: *"ready"' "$GAZE_HOME/logs/$1.log"; }

# Tokens for the static token file: an admin, and a member in each of two projects.
create_tokens() {
  (umask 077 && /usr/bin/python3 - "$1" <<'EOF'
import json, secrets, sys
def entry(name, roles):
    return {"token": "gaze-" + secrets.token_hex(16), "user_id": secrets.token_hex(16),
            "user_name": name, "project_id": secrets.token_hex(16), "project_name": name,
            "roles": roles}
with open(sys.argv[1], "w") as f:
    json.dump({"tokens": [entry("admin", ["admin", "member", "reader"]),
                          entry("demo", ["member", "reader"]),
                          entry("alt", ["member", "reader"])]}, f, indent=2)
    f.write("\n")
EOF
  )
}

# A Keystone token for user $1 in project $1 (the accounts ks_accounts creates).
keystone_token() {
  local password=$2
  curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"},\"password\":\"$password\"}}},\"scope\":{\"project\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"}}}}}" \
    "$KS_URL/auth/tokens" | tr -d '\r' | awk 'tolower($1) == "x-subject-token:" {print $2}'
}

# The coordinates with Keystone: its URL, and for our own Keystone the users' passwords and
# a fresh token each (valid an hour), so the static-token examples work unchanged.
write_keystone_env() {
  {
    echo "GAZE_URL=http://127.0.0.1:$API_PORT"
    echo "GAZE_AUTH=keystone"
    echo "OS_AUTH_URL=$GAZE_KEYSTONE_URL"
    if [ -n "${KS_ADMIN_PASSWORD:-}" ]; then
      echo "GAZE_ADMIN_PASSWORD=$KS_ADMIN_PASSWORD"
      echo "GAZE_DEMO_PASSWORD=$KS_DEMO_PASSWORD"
      echo "GAZE_ALT_PASSWORD=$KS_ALT_PASSWORD"
      echo "GAZE_ADMIN_TOKEN=$(keystone_token admin "$KS_ADMIN_PASSWORD")"
      echo "GAZE_DEMO_TOKEN=$(keystone_token demo "$KS_DEMO_PASSWORD")"
      echo "GAZE_ALT_TOKEN=$(keystone_token alt "$KS_ALT_PASSWORD")"
    fi
  } >"$1"
  chmod 600 "$1"
}

# The coordinates: the URL and the first token of each project in the token file.
write_env() {
  (umask 077 && /usr/bin/python3 - "$1" "http://127.0.0.1:$API_PORT" >"$2" <<'EOF'
import json, sys
tokens = json.load(open(sys.argv[1]))["tokens"]
print(f"GAZE_URL={sys.argv[2]}")
for project in ("admin", "demo", "alt"):
    token = next(t["token"] for t in tokens if t.get("project_name") == project)
    print(f"GAZE_{project.upper()}_TOKEN={token}")
EOF
  )
}

stop_on_failure() {
  local status=$?
  if [ "$status" != 0 ]; then
    log "start-up failed; stopping the stack"
    "$GAZE_ROOT/deploy/dev/down.sh"
  fi
}

main() {
  check_ports "$MQ_PORT" "GAZE_API_PORT=$API_PORT" "GAZE_GRPC_PORT=$GRPC_PORT" \
    "GAZE_PG_PORT=$PG_PORT" "GAZE_AMQP_PORT=$MQ_PORT" "GAZE_KEYSTONE_PORT=$KS_PORT"
  case "$AUTH" in
    static | keystone) ;;
    *) die "GAZE_AUTH=$AUTH: must be static or keystone" ;;
  esac
  [[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "GAZE_WORKERS=$WORKERS: must be a number of workers (1 or more)"
  "$GAZE_ROOT/deploy/dev/install-deps.sh"

  # Build before stopping the running stack: a build error leaves it untouched.
  log "building into $BUILD_DIR"
  cmake -S "$GAZE_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$BUILD_DIR" metadata-svc task-worker api-gateway

  if [ "${GAZE_RESET:-0}" = 1 ]; then
    "$GAZE_ROOT/deploy/dev/down.sh" --purge
  else
    "$GAZE_ROOT/deploy/dev/down.sh"
  fi

  gaze_home_init
  mkdir -p "$GAZE_HOME/logs" "$GAZE_HOME/run" "$GAZE_HOME/images"
  trap stop_on_failure EXIT # from here on a failure stops what this run started

  pg_paths "$PG_PORT"
  mq_paths "$MQ_PORT"
  stack_record
  pg_start dev
  mq_start
  local dsn amqp tokens=$GAZE_HOME/tokens.json gateway_auth=()
  dsn=$(pg_dsn)
  amqp=$(mq_url)
  if [ "$AUTH" = keystone ]; then
    if [ -z "${GAZE_KEYSTONE_URL:-}" ]; then
      ks_paths "$KS_PORT"
      ks_start "http://127.0.0.1:$API_PORT"
      GAZE_KEYSTONE_URL=$KS_URL GAZE_KEYSTONE_USER=gaze GAZE_KEYSTONE_PASSWORD=$KS_GAZE_PASSWORD
      GAZE_KEYSTONE_PROJECT=service
    fi
    : "${GAZE_KEYSTONE_USER:?GAZE_KEYSTONE_USER is required with GAZE_KEYSTONE_URL}"
    : "${GAZE_KEYSTONE_PASSWORD:?GAZE_KEYSTONE_PASSWORD is required with GAZE_KEYSTONE_URL}"
    : "${GAZE_KEYSTONE_PROJECT:?GAZE_KEYSTONE_PROJECT is required with GAZE_KEYSTONE_URL}"
    # The gateway reads them as flag overrides (--keystone_url etc.): not on its command
    # line, where every user of the machine could read the password.
    export GAZE_KEYSTONE_URL GAZE_KEYSTONE_USER GAZE_KEYSTONE_PASSWORD GAZE_KEYSTONE_PROJECT
    gateway_auth=(--auth keystone)
  else
    gateway_auth=(--auth static --token_file "$tokens")
  fi

  log "applying database migrations"
  "$BIN/metadata-svc" migrate --pg_dsn "$dsn"
  if [ ! -f "$tokens" ]; then
    log "creating $tokens"
    create_tokens "$tokens"
  fi

  local metadata_flags=()
  [ -z "${GAZE_DELAYED_DELETE_SECONDS:-}" ] ||
    metadata_flags+=(--delayed_delete_seconds "$GAZE_DELAYED_DELETE_SECONDS")
  start_service metadata-svc serve --grpc_port "$GRPC_PORT" --pg_dsn "$dsn" \
    --amqp_url "$amqp" "${metadata_flags[@]}"
  wait_ready metadata-svc "$BIN/metadata-svc" probe --grpc_port "$GRPC_PORT"

  # GAZE_WORKERS task-workers compete for the same queue; the first is "task-worker", the
  # others "task-worker-2", "task-worker-3", ...
  # web-download's allow lists reach every worker as flags, only when set.
  local i name worker_flags=(--work_dir "$GAZE_HOME/work")
  [ -z "${GAZE_WEB_DOWNLOAD_ALLOWED_HOSTS:-}" ] ||
    worker_flags+=(--web_download_allowed_hosts "$GAZE_WEB_DOWNLOAD_ALLOWED_HOSTS")
  [ -z "${GAZE_WEB_DOWNLOAD_ALLOWED_PORTS:-}" ] ||
    worker_flags+=(--web_download_allowed_ports "$GAZE_WEB_DOWNLOAD_ALLOWED_PORTS")
  [ -z "${GAZE_WEB_DOWNLOAD_ALLOWED_SCHEMES:-}" ] ||
    worker_flags+=(--web_download_allowed_schemes "$GAZE_WEB_DOWNLOAD_ALLOWED_SCHEMES")
  mkdir -p "$GAZE_HOME/work"
  for ((i = 1; i <= WORKERS; i++)); do
    name=task-worker
    ((i == 1)) || name=task-worker-$i
    start_instance "$name" task-worker --metadata_target "127.0.0.1:$GRPC_PORT" \
      --amqp_url "$amqp" --data_dir "$GAZE_HOME/images" "${worker_flags[@]}"
  done
  for ((i = 1; i <= WORKERS; i++)); do
    name=task-worker
    ((i == 1)) || name=task-worker-$i
    wait_ready "$name" logged_ready "$name"
  done

  start_service api-gateway --api_port "$API_PORT" --metadata_target "127.0.0.1:$GRPC_PORT" \
    --data_dir "$GAZE_HOME/images" "${gateway_auth[@]}"
  wait_ready api-gateway curl -fsS "http://127.0.0.1:$API_PORT/readyz"

  if [ "$AUTH" = keystone ]; then
    write_keystone_env "$GAZE_HOME/env"
  else
    write_env "$tokens" "$GAZE_HOME/env"
  fi
  log "the stack is up; logs are in $GAZE_HOME/logs; deploy/dev/down.sh stops it"
}

# Everything but the coordinates goes to stderr. (A redirected function, rather than
# `exec 3>&1 1>&2`: the daemons must not inherit the caller's stdout, or `$(up.sh)` would
# wait for them to exit.)
main >&2
cat "$GAZE_HOME/env"
