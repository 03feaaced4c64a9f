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
#   bench/run.sh            # the full suite: about 15 minutes on 2 cores
#   bench/run.sh --quick    # shorter windows, 10k seeds only, smaller transfers: about 4 minutes
#   bench/run.sh --keep     # leave the stack running afterwards (deploy/dev/down.sh stops it,
#                           # with the same GAZE_HOME)
#   bench/run.sh --url http://glance:9292 --token "$OS_TOKEN" [--quick]
#                           # the same suite against another Glance v2 endpoint: no stack, no
#                           # server-side figures, no micro-benchmarks
#
# Environment: GAZE_BENCH_HOME (/tmp/gaze-bench-home), GAZE_BENCH_API_PORT (19492),
# GAZE_BENCH_GRPC_PORT (19491), GAZE_BENCH_PG_PORT (55561), GAZE_BENCH_AMQP_PORT (5761),
# GAZE_BUILD_DIR (build), GAZE_BENCH_QUIET_WAIT (600: the seconds gaze-bench waits before each
# workload for other programs to leave the CPU; a workload they disturbed anyway is measured
# again, up to 3 times). The load generator runs on the same machine as the stack: the figures
# are what the whole box does, and each line says how much CPU the generator took and how much
# went to programs nobody watched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=full
keep=
url=
token=
usage() {
  echo "usage: $0 [--quick] [--keep] | $0 --url URL --token TOKEN [--quick]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --keep) keep=1 ;;
    --url | --token)
      [ $# -ge 2 ] || usage
      if [ "$1" = --url ]; then url=$2; else token=$2; fi
      shift
      ;;
    *) usage ;;
  esac
  shift
done
if { [ -n "$url" ] && [ -z "$token" ]; } || { [ -z "$url" ] && [ -n "$token" ]; }; then usage; fi

export GAZE_HOME=${GAZE_BENCH_HOME:-/tmp/gaze-bench-home}
export GAZE_API_PORT=${GAZE_BENCH_API_PORT:-19492}
export GAZE_GRPC_PORT=${GAZE_BENCH_GRPC_PORT:-19491}
export GAZE_PG_PORT=${GAZE_BENCH_PG_PORT:-55561}
export GAZE_AMQP_PORT=${GAZE_BENCH_AMQP_PORT:-5761}
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
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

# The first line of FILE (a pid file), if FILE exists.
pid_from() { if [ -f "$1" ]; then head -n 1 "$1"; fi; }

watch_args=()
if [ -z "$url" ]; then
  log "starting a fresh stack in $GAZE_HOME (API port $GAZE_API_PORT)"
  stack=1
  GAZE_RESET=1 "$ROOT/deploy/dev/up.sh" >"$WORK/env"
  # shellcheck disable=SC1091
  . "$WORK/env"
  url=$GAZE_URL
  token=$GAZE_DEMO_TOKEN # a member of project demo, as most API callers are
  watch="api-gateway=$(pid_from "$GAZE_HOME/run/api-gateway.pid")"
  watch+=",metadata-svc=$(pid_from "$GAZE_HOME/run/metadata-svc.pid")"
  watch+=",task-worker=$(pid_from "$GAZE_HOME/run/task-worker.pid")"
  # shellcheck disable=SC1091,SC2153 # PG_ROOT comes from stack.env
  pg_root=$(. "$GAZE_HOME/run/stack.env" && echo "$PG_ROOT")
  watch_tree="postgres=$(pid_from "$pg_root/data/postmaster.pid")"
  mq_pid=$(pid_from "$GAZE_HOME/mq/rabbit.pid")
  if [ -n "$mq_pid" ]; then watch_tree+=",rabbitmq=$mq_pid"; fi
  watch_args=(--quiet_wait "${GAZE_BENCH_QUIET_WAIT:-600}" --quiet_retries 3 --watch "$watch"
    --watch_tree "$watch_tree")
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
if [ "$mode" = quick ]; then
  timing=(--warmup 1 --duration 4)
  seeds=(10000)
  # shellcheck disable=SC2054
  lists=(list list:page=deep list:filter=name list:filter=tag)
  # shellcheck disable=SC2054
  rest=(show:c=64 create:c=1 create:c=64 patch delete:c=64,n=10000
    upload:size=256M,count=2 upload:size=64M,parallel=8,count=1
    download:size=256M,count=2 download:size=64M,parallel=8,count=1 mixed:c=64 idle)
  micro_time=0.1
else
  timing=(--warmup 3 --duration 10)
  seeds=(10000 100000)
  # shellcheck disable=SC2054
  rest=(show:c=32 show:c=64 create:c=1 create:c=16 create:c=64 patch:c=32 delete:c=64
    upload:size=1G,count=3 upload:size=256M,parallel=8,count=2
    download:size=1G,count=3 download:size=256M,parallel=8,count=2 mixed:c=64 idle)
  micro_time=0.5
fi

common=(--url "$url" --token "$token" --concurrency 32 "${timing[@]}" "${watch_args[@]}")
# A stack of our own is thrown away afterwards: no need to delete what the run created.
if [ -n "$stack" ]; then common+=(--keep_images); fi
commands=()
: >"$WORK/workloads.jsonl"
bench() {
  local shown="gaze-bench ${common[*]/$token/TOKEN} $*"
  log "running: $shown"
  commands+=("$shown")
  "$BIN/gaze-bench" "${common[@]}" "$@" | tee -a "$WORK/workloads.jsonl" >&2
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

bench idle "seed:n=${seeds[0]}"
analyze
bench "${lists[@]}"
for n in "${seeds[@]:1}"; do
  bench "seed:n=$n"
  analyze
  bench "${lists[@]}"
done
bench "${rest[@]}"

echo '{}' >"$WORK/micro.json"
if [ -n "$stack" ]; then
  log "running gaze_micro_bench"
  GAZE_BENCH_PG_DSN="postgresql://gaze:gaze@127.0.0.1:$GAZE_PG_PORT/gaze" \
    "$BIN/gaze_micro_bench" --benchmark_min_time="$micro_time" --benchmark_format=json \
    >"$WORK/micro.json"
fi

mkdir -p "$RESULTS"
/usr/bin/python3 - "$WORK/workloads.jsonl" "$WORK/micro.json" "$OUT" "$mode" "$commit" \
  "$dirty" "$url" "${commands[@]}" <<'EOF'
import json, os, platform, sys

workloads_path, micro_path, out_path, mode, commit, dirty, url = sys.argv[1:8]
commands = sys.argv[8:]
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
    "commit": commit,
    "dirty": bool(dirty),
    "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model,
                "mem_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
                "kernel": platform.release()},
    "commands": commands,
    "workloads": [json.loads(l) for l in open(workloads_path) if l.strip()],
    "micro": micro,
}
with open(out_path, "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")
EOF
log "wrote $OUT"
/usr/bin/python3 "$ROOT/bench/report.py" "$OUT"
