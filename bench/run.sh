#!/usr/bin/env bash
# Benchmarks Gaze on a private dev stack and writes bench/results/<UTC date>.json:
#   1. starts a fresh stack with deploy/dev/up.sh under its own GAZE_HOME and ports, so that a
#      developer's stack (deploy/dev defaults) keeps running undisturbed;
#   2. runs the gaze-bench suite against it, watching the api-gateway, metadata-svc and
#      task-worker processes (CPU seconds, RSS and peak RSS around every measured window) and
#      the CPU of PostgreSQL (postmaster and backends) and RabbitMQ;
#   3. runs gaze_micro_bench, with the stack's database for the row-decoding benchmark;
#   4. stops the stack and deletes its state, and prints the table (bench/report.py).
#
#   bench/run.sh            # the full suite: about 8 minutes on 2 cores
#   bench/run.sh --quick    # shorter windows, 10k seeds only, smaller transfers: about 4 minutes
#   bench/run.sh --keep     # leave the stack running afterwards (deploy/dev/down.sh stops it,
#                           # with the same GAZE_HOME)
#   bench/run.sh --url http://glance:9292 --token "$OS_TOKEN" [--quick]
#                           # the same suite against another Glance v2 endpoint: no stack, no
#                           # server-side figures, no micro-benchmarks
#   bench/run.sh --auth keystone
#                           # the stack authenticates through a private Keystone (GAZE_AUTH=keystone
#                           # of up.sh); the suite runs with a Keystone token of user demo
#   bench/run.sh --compare-auth [--only WORKLOADS]
#                           # then again on a fresh stack with Keystone: the show workloads (or
#                           # the --only ones); each line of that second part has "auth":"keystone"
#   bench/run.sh --only 'import:size=64M,format=qcow2,count=1 show:c=64'
#                           # only these workloads (one argument, separated by spaces), no
#                           # seeding, no micro-benchmarks
#
# Environment: GAZE_BENCH_HOME (/tmp/gaze-bench-home), GAZE_BENCH_API_PORT (19492),
# GAZE_BENCH_GRPC_PORT (19491), GAZE_BENCH_PG_PORT (55561), GAZE_BENCH_AMQP_PORT (5761),
# GAZE_BENCH_KEYSTONE_PORT (15000, with Keystone), GAZE_BUILD_DIR (build), GAZE_BENCH_QUIET_WAIT (600: the seconds gaze-bench waits before each
# workload for other programs to leave the CPU; a workload they disturbed anyway is measured
# again, up to 3 times). The load generator runs on the same machine as the stack: the figures
# are what the whole box does, and each line says how much CPU the generator took and how much
# went to programs nobody watched.
#
# The import workloads need the task-worker's convert plugin (qcow2 -> raw): the stack's workers
# get GAZE_IMPORT_PLUGINS=decompress,inspect,convert and GAZE_CONVERT_TO=raw (their flags
# --import_plugins and --convert_to, also the defaults). The qcow2 line holds
# qemu_img_convert_s: the same `qemu-img convert -f qcow2 -O raw` alone, on the same file, on
# this machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=full
keep=
url=
token=
auth=static
compare_auth=
only=()
usage() {
  echo "usage: $0 [--quick] [--keep] [--auth static|keystone | --compare-auth] [--only WORKLOADS]" >&2
  echo "       $0 --url URL --token TOKEN [--quick] [--only WORKLOADS]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --keep) keep=1 ;;
    --compare-auth) compare_auth=1 ;;
    --url | --token | --auth | --only)
      [ $# -ge 2 ] || usage
      case "$1" in
        --url) url=$2 ;;
        --token) token=$2 ;;
        --auth) auth=$2 ;;
        --only) read -r -a only <<<"$2" ;;
      esac
      shift
      ;;
    *) usage ;;
  esac
  shift
done
if { [ -n "$url" ] && [ -z "$token" ]; } || { [ -z "$url" ] && [ -n "$token" ]; }; then usage; fi
case "$auth" in static | keystone) ;; *) usage ;; esac
if [ -n "$url" ] && { [ "$auth" != static ] || [ -n "$compare_auth" ]; }; then usage; fi
if [ -n "$compare_auth" ] && [ "$auth" != static ]; then usage; fi

export GAZE_HOME=${GAZE_BENCH_HOME:-/tmp/gaze-bench-home}
export GAZE_API_PORT=${GAZE_BENCH_API_PORT:-19492}
export GAZE_GRPC_PORT=${GAZE_BENCH_GRPC_PORT:-19491}
export GAZE_PG_PORT=${GAZE_BENCH_PG_PORT:-55561}
export GAZE_AMQP_PORT=${GAZE_BENCH_AMQP_PORT:-5761}
export GAZE_KEYSTONE_PORT=${GAZE_BENCH_KEYSTONE_PORT:-15000}
# With Keystone, the stack's own (its demo user's token is what the suite sends).
unset GAZE_KEYSTONE_URL
# The task-worker's import pipeline (its --import_plugins and --convert_to flags).
export GAZE_IMPORT_PLUGINS=decompress,inspect,convert GAZE_CONVERT_TO=raw
export GAZE_BUILD_DIR=${GAZE_BUILD_DIR:-$ROOT/build}
BIN=$GAZE_BUILD_DIR/bin
RESULTS=$ROOT/bench/results
OUT=$RESULTS/$(date -u +%Y-%m-%dT%H%M%SZ).json
WORK=$(mktemp -d)
stack=
# What is measured is what gets built now: record it before the build, not after the run.
# --no-optional-locks: reading the status must not rewrite the index of a checkout that someone
# may be working in.
commit=$(git --no-optional-locks -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git --no-optional-locks -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null |
  head -c 1)

log() { printf '[bench] %s\n' "$*" >&2; }

cleanup() {
  local status=$?
  if [ -n "$stack" ] && [ -z "$keep" ]; then
    log "stopping the stack and deleting $GAZE_HOME"
    "$ROOT/deploy/dev/down.sh" --purge || true
    # What down.sh --purge leaves: Keystone's state and the workers' import scratch space.
    rm -rf "${GAZE_HOME:?}/keystone" "${GAZE_HOME:?}/work"
    rmdir "$GAZE_HOME" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

# The first line of FILE (a pid file), if FILE exists.
pid_from() { if [ -f "$1" ]; then head -n 1 "$1"; fi; }

watch_args=()
# start_stack AUTH: a fresh stack authenticating with AUTH (static or keystone); sets url, token
# and watch_args.
start_stack() {
  log "starting a fresh stack in $GAZE_HOME (API port $GAZE_API_PORT, auth $1)"
  stack=1
  # A Keystone that an earlier run left in $GAZE_HOME remembers a database that down.sh --purge
  # deleted (its db-synced and accounts.env survive the purge): stop everything, then start it
  # from nothing.
  "$ROOT/deploy/dev/down.sh" --purge >&2
  rm -rf "${GAZE_HOME:?}/keystone"
  GAZE_AUTH=$1 GAZE_RESET=1 "$ROOT/deploy/dev/up.sh" >"$WORK/env"
  # shellcheck disable=SC1091
  . "$WORK/env"
  url=$GAZE_URL
  token=${GAZE_DEMO_TOKEN:-} # a member of project demo, as most API callers are
  [ -n "$token" ] || {
    log "up.sh gave no GAZE_DEMO_TOKEN"
    exit 1
  }
  local watch watch_tree pg_root mq_pid ks_pid
  watch="api-gateway=$(pid_from "$GAZE_HOME/run/api-gateway.pid")"
  watch+=",metadata-svc=$(pid_from "$GAZE_HOME/run/metadata-svc.pid")"
  watch+=",task-worker=$(pid_from "$GAZE_HOME/run/task-worker.pid")"
  # shellcheck disable=SC1091,SC2153 # PG_ROOT comes from stack.env
  pg_root=$(. "$GAZE_HOME/run/stack.env" && echo "$PG_ROOT")
  watch_tree="postgres=$(pid_from "$pg_root/data/postmaster.pid")"
  mq_pid=$(pid_from "$GAZE_HOME/mq/rabbit.pid")
  if [ -n "$mq_pid" ]; then watch_tree+=",rabbitmq=$mq_pid"; fi
  ks_pid=$(pid_from "$GAZE_HOME/keystone/launcher.pid")
  if [ "$1" = keystone ] && [ -n "$ks_pid" ]; then watch_tree+=",keystone=$ks_pid"; fi
  watch_args=(--quiet_wait "${GAZE_BENCH_QUIET_WAIT:-600}" --quiet_retries 3 --watch "$watch"
    --watch_tree "$watch_tree")
}

if [ -z "$url" ]; then
  start_stack "$auth"
  log "building gaze-bench and gaze_micro_bench"
  ninja -C "$GAZE_BUILD_DIR" gaze-bench gaze_micro_bench >&2
else
  "$ROOT/deploy/dev/install-deps.sh"
  log "building gaze-bench"
  cmake -S "$ROOT" -B "$GAZE_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$GAZE_BUILD_DIR" gaze-bench >&2
fi

# Workload specs hold commas (upload:size=1G,count=3): they are not array separators.
# shellcheck disable=SC2054
lists=(list list:page=walk list:page=deep list:filter=name list:filter=tag list:filter=status
  list:filter=visibility list:filter=property)
# After the load: longer than the services' 10 s malloc_trim period (gaze::TuneProcess), so
# that what is measured is what a service keeps once idle, not the load's last free()s.
idle_after=idle:duration=12
if [ "$mode" = quick ]; then
  timing=(--warmup 1 --duration 4)
  seeds=(10000)
  # shellcheck disable=SC2054
  lists=(list list:page=deep list:filter=name list:filter=tag)
  # shellcheck disable=SC2054
  rest=(show:c=64 create:c=1 create:c=64 patch delete:c=64,n=10000
    upload:size=256M,count=2 upload:size=64M,parallel=8,count=1
    download:size=256M,count=2 download:size=64M,parallel=8,count=1
    import:size=256M,format=raw,count=2 import:size=256M,format=qcow2,count=2 mixed:c=64
    "$idle_after")
  auth_workloads=(show:c=64)
  micro_time=0.1
else
  timing=(--warmup 3 --duration 10)
  seeds=(10000 100000)
  # shellcheck disable=SC2054
  rest=(show:c=32 show:c=64 create:c=1 create:c=16 create:c=64 patch:c=32 delete:c=64
    upload:size=1G,count=3 upload:size=256M,parallel=8,count=2
    download:size=1G,count=3 download:size=256M,parallel=8,count=2
    import:size=1G,format=raw,count=3 import:size=1G,format=qcow2,count=3 mixed:c=64
    "$idle_after")
  auth_workloads=(show:c=32 show:c=64)
  micro_time=0.5
fi

if [ ${#only[@]} -gt 0 ]; then auth_workloads=("${only[@]}"); fi

common=()
# set_common: the gaze-bench flags for the current stack (url, token, watch_args).
set_common() {
  common=(--url "$url" --token "$token" --concurrency 32 "${timing[@]}" "${watch_args[@]}")
  # A stack of our own is thrown away afterwards: no need to delete what the run created.
  if [ -n "$stack" ]; then common+=(--keep_images); fi
}
set_common
commands=()
# Each line gets "auth" (the stack's) in the results file: lines go to workloads-<auth>.jsonl.
bench_auth=$auth
bench() {
  local shown="gaze-bench ${common[*]/$token/TOKEN} $*"
  log "running: $shown"
  commands+=("$shown")
  # A workload that fails prints its line with "error" (it lands in the table) and makes
  # gaze-bench exit 1: the run goes on, so that the other figures are not lost.
  "$BIN/gaze-bench" "${common[@]}" "$@" | tee -a "$WORK/workloads-$bench_auth.jsonl" >&2 ||
    log "gaze-bench reported an error; going on"
}
# A table that has just grown by thousands of rows has no planner statistics until autovacuum
# gets to it (up to a minute or more later); until then PostgreSQL plans the list query as a
# sequential scan and sort. A deployment's images table has them, so the lists are measured
# after an ANALYZE. (Against another endpoint, seed once and let its autovacuum run first.)
analyze() {
  if [ -n "$stack" ]; then
    psql -X -q "postgresql://gaze:gaze@127.0.0.1:$GAZE_PG_PORT/gaze" -c 'ANALYZE images' >&2
  fi
}

if [ ${#only[@]} -gt 0 ]; then
  bench "${only[@]}"
else
  bench idle "seed:n=${seeds[0]}"
  analyze
  bench "${lists[@]}"
  for n in "${seeds[@]:1}"; do
    bench "seed:n=$n"
    analyze
    bench "${lists[@]}"
  done
  bench "${rest[@]}"
fi

echo '{}' >"$WORK/micro.json"
if [ -n "$stack" ] && [ ${#only[@]} -eq 0 ]; then
  log "running gaze_micro_bench"
  GAZE_BENCH_PG_DSN="postgresql://gaze:gaze@127.0.0.1:$GAZE_PG_PORT/gaze" \
    "$BIN/gaze_micro_bench" --benchmark_min_time="$micro_time" --benchmark_format=json \
    >"$WORK/micro.json"
fi

# Issue 5: show with Keystone (validated tokens, then cached) next to the static tokens above, on
# a fresh stack of the same shape.
if [ -n "$compare_auth" ]; then
  start_stack keystone
  set_common
  bench_auth=keystone
  bench "${auth_workloads[@]}"
fi

run_auth=$auth
if [ -n "$compare_auth" ]; then run_auth=static+keystone; fi
if [ -n "$url" ] && [ -z "$stack" ]; then run_auth=; fi
mkdir -p "$RESULTS"
/usr/bin/python3 - "$WORK" "$WORK/micro.json" "$OUT" "$mode" "$commit" \
  "$dirty" "$url" "$run_auth" "${commands[@]}" <<'EOF'
import json, os, platform, sys

work, micro_path, out_path, mode, commit, dirty, url, auth = sys.argv[1:9]
commands = sys.argv[9:]
workloads = []
for name in ("static", "keystone"):
    path = os.path.join(work, f"workloads-{name}.jsonl")
    if not os.path.exists(path):
        continue
    for l in open(path):
        if l.strip():
            w = json.loads(l)
            if auth:  # a stack of our own: which authentication it measured
                w["auth"] = name
            workloads.append(w)
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), platform.processor())
micro = {}
for b in json.load(open(micro_path)).get("benchmarks", []):
    if b.get("error_occurred"):
        micro[b["name"]] = {"skipped": b.get("error_message", "")}
        continue
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
    micro[b["name"]] = {"real_ns": round(b["real_time"] * scale, 1)}
    for key in ("bytes_per_second", "items_per_second"):
        if key in b:
            micro[b["name"]][key] = round(b[key])
result = {
    "date": os.path.basename(out_path)[:-len(".json")],
    "mode": mode,
    "url": url,
    "auth": auth or "token given",
    "commit": commit,
    "dirty": bool(dirty),
    "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model,
                "mem_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
                "kernel": platform.release()},
    "commands": commands,
    "workloads": workloads,
    "micro": micro,
}
with open(out_path, "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")
EOF
log "wrote $OUT"
/usr/bin/python3 "$ROOT/bench/report.py" "$OUT"
