# shellcheck shell=bash
# Shared by up.sh, down.sh and test.sh (source it; it defines functions and a few variables).
#
# Starts and stops a private PostgreSQL 15 cluster and a private RabbitMQ node whose state
# lives under $GAZE_HOME, without systemd and without touching the machine's own clusters
# (/var/lib/postgresql, /var/lib/rabbitmq). Verified recipes: /work/shared/toolchain.md §3, §4.
#
# Every process is stopped by the pid we recorded (or by pg_ctl, which uses postmaster.pid),
# never by name. What a running stack needs to be stopped again (ports, PostgreSQL directory)
# is written to $GAZE_HOME/run/stack.env, so down.sh stops the right things even when the
# GAZE_* port variables changed since up.sh ran.

GAZE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin   # Debian puts neither initdb nor pg_ctl on PATH
RMQBIN=/usr/lib/rabbitmq/bin       # the real scripts; /usr/sbin/* su to 'rabbitmq' and cd /var/lib/rabbitmq
STOP_TIMEOUT=30                    # seconds a process gets to exit after SIGTERM before SIGKILL

log() { printf '[gaze] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Sets GAZE_HOME (default: .gaze in the repository), creates it and makes it absolute.
# 711: PostgreSQL runs as 'postgres' when we are root and must be able to traverse it.
gaze_home_init() {
  GAZE_HOME=${GAZE_HOME:-$GAZE_ROOT/.gaze}
  mkdir -p "$GAZE_HOME"
  GAZE_HOME=$(cd "$GAZE_HOME" && pwd)
  export GAZE_HOME
}

# --- ports -------------------------------------------------------------------------------

# check_ports NAME=PORT... AMQP_PORT: every port is a number in range, the ports RabbitMQ
# derives from the AMQP port fit below 65536, and no two of them are the same.
check_ports() {
  local amqp=$1 name port
  shift
  local -A seen=()
  for spec in "$@" "epmd(GAZE_AMQP_PORT-1000)=$((amqp - 1000))" \
    "erlang-distribution(GAZE_AMQP_PORT+20000)=$((amqp + 20000))"; do
    name=${spec%%=*} port=${spec#*=}
    if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
      die "$name=$port is not a TCP port number"
    fi
    [ -z "${seen[$port]:-}" ] || die "$name and ${seen[$port]} are both port $port"
    seen[$port]=$name
  done
  # rabbitmqctl binds AMQP+30000..+30010 for itself while it talks to the node.
  ((amqp >= 1025 && amqp + 30010 <= 65535)) ||
    die "GAZE_AMQP_PORT=$amqp: must be in 1025..35525 (RabbitMQ derives ports -1000, +20000 and +30000..+30010 from it)"
  for port in "${!seen[@]}"; do
    ((port < amqp + 30000 || port > amqp + 30010)) ||
      die "${seen[$port]}=$port collides with rabbitmqctl's range $((amqp + 30000))..$((amqp + 30010))"
  done
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_port() {
  ! port_in_use "$2" || die "$1: port $2 on 127.0.0.1 is already in use by another process"
}

# --- processes ---------------------------------------------------------------------------

# True while PID runs. A zombie counts as gone: in some containers PID 1 never reaps the
# orphaned daemons we start, and `kill -0` succeeds on a zombie.
pid_alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $stat != Z* ]]
}

# True when PID runs and its command line contains PATTERN: a pid file can outlive its
# process (reboot, SIGKILL) and the pid be reused by something that is not ours.
pid_is() {
  pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# wait_gone SECONDS PID...: true when all PIDs are gone within SECONDS.
wait_gone() {
  local deadline=$((SECONDS + $1)) p alive
  shift
  while :; do
    alive=
    for p in "$@"; do pid_alive "$p" && alive=1; done
    [ -z "$alive" ] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# stop_pidfile NAME PIDFILE PATTERN: SIGTERM the process recorded in PIDFILE (if it is still
# the process we started), SIGKILL it after STOP_TIMEOUT, remove the pid file.
stop_pidfile() {
  local name=$1 file=$2 pattern=$3 pid
  [ -f "$file" ] || return 0
  pid=$(<"$file")
  if [[ $pid =~ ^[0-9]+$ ]] && pid_is "$pid" "$pattern"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$STOP_TIMEOUT" "$pid"; then
      log "$name did not exit ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone 10 "$pid" || log "$name (pid $pid) survived SIGKILL"
    fi
  fi
  rm -f "$file"
}

# --- PostgreSQL ----------------------------------------------------------------------------

# pg_paths PORT [ROOT]: sets PG_PORT, PG_ROOT, PG_DATA, PG_SOCK and AS_PG.
# The cluster lives in ROOT if given, else in $GAZE_HOME/pg, except when the server could
# not use that directory: as root it runs as 'postgres', which cannot traverse e.g. a clone
# under /root (mode 700); and a Unix socket path must stay under ~107 bytes. Then it lives
# in /tmp/gaze-pg-PORT.
pg_paths() {
  PG_PORT=$1
  AS_PG=()
  [ "$(id -u)" = 0 ] && AS_PG=(runuser -u postgres --)
  PG_ROOT=${2:-$GAZE_HOME/pg}
  if [ -n "${2:-}" ]; then
    : # where an earlier pg_paths put it
  elif [ ${#AS_PG[@]} -gt 0 ] && ! runuser -u postgres -- test -x "$GAZE_HOME"; then
    PG_ROOT=/tmp/gaze-pg-$PG_PORT
    log "PostgreSQL runs as user postgres, which cannot reach $GAZE_HOME: its data goes to $PG_ROOT"
  elif [ $((${#PG_ROOT} + 25)) -gt 100 ]; then
    PG_ROOT=/tmp/gaze-pg-$PG_PORT
    log "$GAZE_HOME is too long a path for PostgreSQL's Unix socket: its data goes to $PG_ROOT"
  fi
  PG_DATA=$PG_ROOT/data
  PG_SOCK=$PG_ROOT/sock
}

pg_dsn() { echo "postgresql://gaze:gaze@127.0.0.1:$PG_PORT/gaze"; }

# Runs a PostgreSQL server program as the user that owns the cluster, from / (user postgres
# may not be allowed into our working directory, and the tools complain about it).
as_pg() { (cd / && "${AS_PG[@]}" "$@"); }

# pg_start dev|test: starts the cluster (pg_paths first), creating it if it does not exist
# yet, and makes sure role gaze (password gaze, CREATEDB) and database gaze exist.
# "test" trades durability for speed (fsync off); "dev" keeps PostgreSQL's safe defaults.
pg_start() {
  local mode=$1
  require_free_port GAZE_PG_PORT "$PG_PORT"
  [ "$mode" != test ] || rm -rf "$PG_DATA" # tests always get an empty cluster
  mkdir -p "$PG_ROOT"
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA" # left over from an interrupted initdb
    mkdir -p "$PG_DATA" "$PG_SOCK"
    [ ${#AS_PG[@]} -gt 0 ] && chown -R postgres:postgres "$PG_ROOT"
    chmod 700 "$PG_DATA" "$PG_SOCK"
    log "creating a PostgreSQL cluster in $PG_DATA"
    local nosync=()
    [ "$mode" = test ] && nosync=(-N)
    # trust over the Unix socket only (its directory is private to us), passwords over TCP.
    as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 "${nosync[@]}" \
      >"$PG_ROOT/initdb.log" 2>&1 || {
      cat "$PG_ROOT/initdb.log" >&2
      die "initdb failed"
    }
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "unix_socket_permissions = 0700"
      echo "max_connections = 200"
      # port and socket directory are written to gaze.conf at every start: they may change.
      echo "include_if_exists = 'gaze.conf'"
      if [ "$mode" = test ]; then
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
      fi
    } >>"$PG_DATA/postgresql.conf"
  fi
  printf "port = %s\nunix_socket_directories = '%s'\n" "$PG_PORT" "$PG_SOCK" >"$PG_DATA/gaze.conf"
  [ ${#AS_PG[@]} -gt 0 ] && chown postgres:postgres "$PG_DATA/gaze.conf"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT ($PG_DATA)"
  # A free port can still be taken for a moment by an outgoing connection's ephemeral local
  # port (RabbitMQ's tools talk to epmd over loopback while we start): retry a bind failure.
  local attempt log_lines pg_ctl_out
  for attempt in 1 2 3 4 5; do
    log_lines=0
    [ -f "$PG_ROOT/postgres.log" ] && log_lines=$(wc -l <"$PG_ROOT/postgres.log")
    pg_ctl_out=$(as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_ROOT/postgres.log" -w -t 60 \
      start 2>&1) && break
    if [ "$attempt" -lt 5 ] &&
      tail -n "+$((log_lines + 1))" "$PG_ROOT/postgres.log" | grep -q "Address already in use"; then
      log "port $PG_PORT was busy for a moment; starting PostgreSQL again"
      sleep 1
      continue
    fi
    echo "$pg_ctl_out" >&2
    tail -n 30 "$PG_ROOT/postgres.log" >&2
    die "PostgreSQL did not start"
  done
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres <<'EOF' >/dev/null
SELECT 'CREATE ROLE gaze LOGIN CREATEDB PASSWORD ''gaze'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gaze') \gexec
SELECT 'CREATE DATABASE gaze OWNER gaze'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'gaze') \gexec
EOF
}

# pg_stop: fast shutdown (rolls back open transactions, checkpoints) via postmaster.pid.
pg_stop() {
  [ -f "$PG_DATA/postmaster.pid" ] || return 0
  log "stopping PostgreSQL ($PG_DATA)"
  as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null ||
    as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 10 stop >/dev/null ||
    log "PostgreSQL ($PG_DATA) did not stop"
}

# --- RabbitMQ ----------------------------------------------------------------------------

# mq_paths PORT: sets MQ_ROOT, MQ_NODE and MQ_ENV, the environment of the node and of its
# CLI tools (they must agree on HOME, for the cookie, and on the epmd port). It is passed
# per command, never exported: HOME in particular must not leak into the rest of the script.
mq_paths() {
  MQ_PORT=$1
  MQ_ROOT=$GAZE_HOME/mq
  MQ_NODE=gaze$MQ_PORT@localhost # @localhost: independent of the machine's hostname
  # RABBITMQ_NODE_PORT/RABBITMQ_NODE_IP_ADDRESS must not be set here: they break rabbitmqctl
  # (toolchain.md §4); the listener is configured in rabbitmq.conf instead.
  MQ_ENV=(
    "HOME=$MQ_ROOT/home"
    "ERL_EPMD_PORT=$((MQ_PORT - 1000))" # a private epmd, not the shared 4369
    "ERL_EPMD_ADDRESS=127.0.0.1"
    "RABBITMQ_NODENAME=$MQ_NODE"
    "RABBITMQ_DIST_PORT=$((MQ_PORT + 20000))"
    "RABBITMQ_CTL_DIST_PORT_MIN=$((MQ_PORT + 30000))"
    "RABBITMQ_CTL_DIST_PORT_MAX=$((MQ_PORT + 30010))"
    "RABBITMQ_CONF_ENV_FILE=$MQ_ROOT/rabbitmq-env.conf" # not /etc/rabbitmq/rabbitmq-env.conf
    "RABBITMQ_CONFIG_FILE=$MQ_ROOT/rabbitmq"            # -> $MQ_ROOT/rabbitmq.conf
    "RABBITMQ_ENABLED_PLUGINS_FILE=$MQ_ROOT/enabled_plugins"
    "RABBITMQ_MNESIA_BASE=$MQ_ROOT/mnesia"
    "RABBITMQ_LOG_BASE=$MQ_ROOT/log"
    "RABBITMQ_LOGS=$MQ_ROOT/log/rabbit.log"
    "RABBITMQ_PID_FILE=$MQ_ROOT/rabbit.pid"
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
  )
}

mq_url() { echo "amqp://guest:guest@127.0.0.1:$MQ_PORT/"; }

mq_ctl() { env "${MQ_ENV[@]}" "$RMQBIN/rabbitmqctl" -n "$MQ_NODE" "$@"; }

# mq_start: starts the node (mq_paths first). Its data (durable queues and their messages)
# persists in $MQ_ROOT/mnesia across restarts.
mq_start() {
  require_free_port GAZE_AMQP_PORT "$MQ_PORT"
  require_free_port "epmd port (GAZE_AMQP_PORT-1000)" $((MQ_PORT - 1000))
  require_free_port "Erlang distribution port (GAZE_AMQP_PORT+20000)" $((MQ_PORT + 20000))
  mkdir -p "$MQ_ROOT/home" "$MQ_ROOT/mnesia" "$MQ_ROOT/log"
  if [ ! -s "$MQ_ROOT/home/.erlang.cookie" ]; then
    head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$MQ_ROOT/home/.erlang.cookie"
    chmod 400 "$MQ_ROOT/home/.erlang.cookie" # Erlang refuses a readable cookie
  fi
  : >"$MQ_ROOT/rabbitmq-env.conf"
  echo '[].' >"$MQ_ROOT/enabled_plugins" # no management plugin: faster boot
  # consumer_timeout: a task-worker holds an import's delivery unacked until the import is
  # durable, and an import may take hours; RabbitMQ's default (30 min) would close its channel.
  cat >"$MQ_ROOT/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$MQ_PORT
loopback_users.guest = true
disk_free_limit.absolute = 50MB
consumer_timeout = 86400000
log.console = false
log.file.level = info
EOF
  log "starting RabbitMQ node $MQ_NODE on 127.0.0.1:$MQ_PORT ($MQ_ROOT)"
  # The foreground launcher, in its own session: it traps TERM and stops the VM cleanly.
  env "${MQ_ENV[@]}" setsid nohup "$RMQBIN/rabbitmq-server" \
    >>"$MQ_ROOT/log/startup.out" 2>&1 </dev/null &
  echo $! >"$MQ_ROOT/launcher.pid"
  # await_startup fails at once until the node has registered with epmd: retry until then.
  local deadline=$((SECONDS + 90))
  until mq_ctl await_startup --timeout 30 >/dev/null 2>&1; do
    if ! pid_alive "$(<"$MQ_ROOT/launcher.pid")" || ((SECONDS >= deadline)); then
      tail -n 30 "$MQ_ROOT/log/startup.out" "$MQ_ROOT/log/rabbit.log" >&2 || true
      mq_stop
      die "RabbitMQ did not start"
    fi
    sleep 0.5
  done
}

mq_stop() {
  local lpid='' vpid='' pids=()
  [ -f "$MQ_ROOT/launcher.pid" ] && lpid=$(<"$MQ_ROOT/launcher.pid")
  [ -f "$MQ_ROOT/rabbit.pid" ] && vpid=$(<"$MQ_ROOT/rabbit.pid")
  # Only pids that still are our launcher / our node's VM.
  [ -n "$lpid" ] && pid_is "$lpid" "$RMQBIN/rabbitmq-server" && pids+=("$lpid")
  [ -n "$vpid" ] && pid_is "$vpid" "$MQ_NODE" && pids+=("$vpid")
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping RabbitMQ node $MQ_NODE"
    mq_ctl shutdown >/dev/null 2>&1 || true # graceful; returns once the VM has exited
    [ -z "$lpid" ] || kill -TERM "$lpid" 2>/dev/null || true
    if ! wait_gone "$STOP_TIMEOUT" "${pids[@]}"; then
      log "RabbitMQ did not stop; sending SIGKILL"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 10 "${pids[@]}" || true
    fi
  fi
  rm -f "$MQ_ROOT/launcher.pid" "$MQ_ROOT/rabbit.pid"
  # The VM starts epmd, which outlives it. Only the one on our node's port.
  env "${MQ_ENV[@]}" epmd -port $((MQ_PORT - 1000)) -kill >/dev/null 2>&1 || true
}

# --- the stack record ------------------------------------------------------------------------

# Remembers what to stop later. Call after pg_paths and mq_paths.
stack_record() {
  mkdir -p "$GAZE_HOME/run"
  printf 'PG_PORT=%q\nPG_ROOT=%q\nMQ_PORT=%q\n' "$PG_PORT" "$PG_ROOT" "$MQ_PORT" \
    >"$GAZE_HOME/run/stack.env"
}

# Stops Keystone (if this stack started one), RabbitMQ and PostgreSQL recorded by
# stack_record, if any.
stack_stop_backends() {
  local f=$GAZE_HOME/run/stack.env PG_PORT PG_ROOT MQ_PORT
  KS_ROOT=$GAZE_HOME/keystone
  ks_stop
  [ -f "$f" ] || return 0
  # shellcheck disable=SC1090
  . "$f"
  mq_paths "$MQ_PORT"
  mq_stop
  pg_paths "$PG_PORT" "$PG_ROOT"
  pg_stop
}

# shellcheck source=SCRIPTDIR/keystone.sh
. "$GAZE_ROOT/deploy/dev/keystone.sh"
