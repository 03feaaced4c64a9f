#!/usr/bin/env bash
# Measures the image data path of a running Gaze (or any Glance v2 endpoint) with curl:
# upload and download of one image of SIZE_MIB MiB (default 1024), reported in MB/s.
#
#   . .gaze/env && bench/data_path.sh            # against the dev stack from deploy/dev/up.sh
#   GAZE_URL=http://host:9292 GAZE_DEMO_TOKEN=… SIZE_MIB=256 bench/data_path.sh
#
# The payload is random data written to a temporary file first, so neither the client's
# reading nor a compressible pattern flatters the result. The image is deleted afterwards.
set -euo pipefail

: "${GAZE_URL:?set GAZE_URL (source .gaze/env)}"
TOKEN=${GAZE_TOKEN:-${GAZE_DEMO_TOKEN:?set GAZE_DEMO_TOKEN or GAZE_TOKEN}}
SIZE_MIB=${SIZE_MIB:-1024}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${IMAGE_ID:-}" ] && curl -s -o /dev/null -X DELETE -H "X-Auth-Token: $TOKEN" "$GAZE_URL/v2/images/$IMAGE_ID"' EXIT

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/payload"
IMAGE_ID=$(curl -sf -X POST -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"bench-data-path","disk_format":"raw","container_format":"bare"}' \
  "$GAZE_URL/v2/images" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# curl's speed_upload / speed_download are bytes per second over the whole transfer.
up=$(curl -sf -o /dev/null -w "%{http_code} %{speed_upload} %{time_total}" \
  -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/octet-stream' \
  -T "$WORK/payload" "$GAZE_URL/v2/images/$IMAGE_ID/file")
down=$(curl -sf -o /dev/null -w '%{http_code} %{speed_download} %{time_total}' \
  -H "X-Auth-Token: $TOKEN" "$GAZE_URL/v2/images/$IMAGE_ID/file")

read -r up_code up_bps up_s <<<"$up"
read -r down_code down_bps down_s <<<"$down"
[ "$up_code" = 204 ] || { echo "upload failed: HTTP $up_code" >&2; exit 1; }
[ "$down_code" = 200 ] || { echo "download failed: HTTP $down_code" >&2; exit 1; }
awk -v size="$SIZE_MIB" -v ub="$up_bps" -v us="$up_s" -v db="$down_bps" -v ds="$down_s" 'BEGIN {
  printf "{\"workload\":\"data_path\",\"size_mib\":%d,\"upload_MBps\":%.0f,\"upload_s\":%.2f,\"download_MBps\":%.0f,\"download_s\":%.2f}\n",
         size, ub / 1e6, us, db / 1e6, ds }'
