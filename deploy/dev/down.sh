#!/usr/bin/env bash
# Stops the dev stack that deploy/dev/up.sh started under $GAZE_HOME (default: .gaze in the
# repository), in dependency order: api-gateway (drains its requests), task-worker,
# metadata-svc, RabbitMQ, PostgreSQL. Each by the pid recorded at start, SIGTERM first and
# SIGKILL after a timeout. The state (database, queues, images, tokens) is kept, unless
#   down.sh --purge
# which also deletes it.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=
case "${1:-}" in
  '') ;;
  --purge) purge=1 ;;
  *)
    echo "usage: $0 [--purge]" >&2
    exit 2
    ;;
esac

GAZE_HOME=${GAZE_HOME:-$GAZE_ROOT/.gaze}
[ -d "$GAZE_HOME" ] || exit 0
gaze_home_init
BIN_PATTERN=/bin/ # every service runs as <build dir>/bin/<name>

stop_pidfile api-gateway "$GAZE_HOME/run/api-gateway.pid" "${BIN_PATTERN}api-gateway"
for pidfile in "$GAZE_HOME"/run/task-worker*.pid; do # GAZE_WORKERS may have started several
  [ -e "$pidfile" ] || continue
  name=$(basename "$pidfile" .pid)
  stop_pidfile "$name" "$pidfile" "${BIN_PATTERN}task-worker"
done
stop_pidfile metadata-svc "$GAZE_HOME/run/metadata-svc.pid" "${BIN_PATTERN}metadata-svc"
stack_stop_backends

if [ -n "$purge" ]; then
  log "deleting the state in $GAZE_HOME"
  if [ -f "$GAZE_HOME/run/stack.env" ]; then
    # PostgreSQL's data may live outside $GAZE_HOME (see pg_paths in lib.sh).
    # shellcheck disable=SC1091
    PG_ROOT=$(. "$GAZE_HOME/run/stack.env" && echo "$PG_ROOT")
    rm -rf "$PG_ROOT"
  fi
  # Only what up.sh creates: GAZE_HOME may have been pointed at a directory with other files.
  rm -rf "${GAZE_HOME:?}"/{pg,mq,keystone,images,work,logs,run} "$GAZE_HOME/tokens.json" "$GAZE_HOME/env"
  rmdir "$GAZE_HOME" 2>/dev/null || true
fi
