#!/usr/bin/env bash
# A soak: stgw's demo (proxy + its two built-in backends, one process)
# under continuous load for MINUTES (default 10), its VmRSS printed after
# every minute. Fails when the last minute's RSS exceeds the first
# minute's by more than 10% (memory not flat). Not part of CI.
#
#   benches/soak.sh [MINUTES]
#
# Load, all at once for the whole run, on loopback: wrk keep-alive (32
# connections), wrk with a new connection per request (16), and a curl
# loop of requests for an unknown host and path, and a slow upload that
# gives up mid-body. Needs
# Debian's wrk and curl, and cargo (builds the release binary).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
PORT=8080
cargo build --release -q --bin stgw
BIN=target/release/stgw
TMP=$(mktemp -d)
LOG=$TMP/stgw.log
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
PIDS=()
trap cleanup EXIT INT TERM

"$BIN" demo >"$LOG" 2>&1 &
STGW=$!
PIDS+=("$STGW")
for _ in $(seq 1 50); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/" && break
  sleep 0.2
done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/" || { echo "stgw demo did not start; see:"; cat "$LOG"; exit 1; }

rss() { awk '/^VmRSS/ {print $2}' "/proc/$STGW/status"; }
SECS=$((MINUTES * 60))
wrk -t1 -c32 -d"${SECS}s" "http://127.0.0.1:$PORT/" >"$TMP/wrk-ka.txt" 2>&1 &
PIDS+=("$!")
wrk -t1 -c16 -d"${SECS}s" -H 'Connection: close' "http://127.0.0.1:$PORT/" >"$TMP/wrk-close.txt" 2>&1 &
PIDS+=("$!")
(
  end=$((SECONDS + SECS))
  while [ "$SECONDS" -lt "$end" ]; do
    curl -s -o /dev/null -H 'Host: nowhere.test' "http://127.0.0.1:$PORT/missing" || true
    head -c 1000000 /dev/zero \
      | curl -s -o /dev/null -m 0.5 --limit-rate 10k -T - "http://127.0.0.1:$PORT/" 2>/dev/null || true
  done
) &
PIDS+=("$!")

echo "minute  VmRSS KiB"
first=""
last=""
for m in $(seq 1 "$MINUTES"); do
  sleep 60
  kill -0 "$STGW" 2>/dev/null || { echo "stgw died; see:"; tail -20 "$LOG"; exit 1; }
  last=$(rss)
  [ -z "$first" ] && first=$last
  printf '%6d  %9d\n' "$m" "$last"
done
wait "${PIDS[1]}" "${PIDS[2]}" 2>/dev/null || true
echo "keep-alive: $(grep -E 'Requests/sec|Non-2xx|Socket errors' "$TMP/wrk-ka.txt" | tr -s ' ' | paste -sd ' ')"
echo "close:      $(grep -E 'Requests/sec|Non-2xx|Socket errors' "$TMP/wrk-close.txt" | tr -s ' ' | paste -sd ' ')"
limit=$((first + first / 10))
if [ "$last" -gt "$limit" ]; then
  echo "memory grew: ${first} KiB after minute 1, ${last} KiB at the end (limit ${limit})"
  exit 1
fi
echo "memory flat: ${first} KiB after minute 1, ${last} KiB at the end (limit ${limit})"
