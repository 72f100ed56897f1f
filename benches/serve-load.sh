#!/usr/bin/env bash
# Bounded load run against `maintctl serve` on loopback: starts the server on a free port, runs
# wrk against it for a fixed time, prints requests/s and the 99th-percentile latency, stops the
# server. Nothing leaves the machine.
#
#   benches/serve-load.sh                 # 10 s, 2 threads, 32 connections, GET / as a browser
#   DURATION=30s CONNECTIONS=64 LOAD_PATH=/healthz benches/serve-load.sh
#
# Uses target/release/maintctl when it exists (build it with `cargo build --release --bin
# maintctl`), else the debug build (built here if missing); the output says which. Needs wrk
# (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
LOAD_PATH=${LOAD_PATH:-/}

if ! command -v wrk >/dev/null; then
  echo "serve-load: wrk is not installed (Debian: apt-get install wrk)" >&2
  exit 1
fi

if [ -x target/release/maintctl ]; then
  bin=target/release/maintctl
  build="release build"
else
  if [ ! -x target/debug/maintctl ]; then
    cargo build --quiet --bin maintctl
  fi
  bin=target/debug/maintctl
  build="debug build (no target/release/maintctl; numbers are far below a release build)"
fi

log=$(mktemp)
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -INT "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

"$bin" serve --listen 127.0.0.1:0 >"$log" 2>&1 &
server=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's|^maintctl serve: \(http://127\.0\.0\.1:[0-9]*\)/ .*|\1|p' "$log" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "serve-load: maintctl serve exited:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "serve-load: maintctl serve did not print its address" >&2
  exit 1
fi

# A short warm-up, then the measured run.
wrk -t1 -c1 -d1s "$url$LOAD_PATH" >/dev/null
out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
  -H 'Accept: text/html,application/xhtml+xml' -H 'Accept-Language: en-US,en;q=0.9' \
  "$url$LOAD_PATH")
echo "$out"

rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
errors=$(awk '/Socket errors:/ {print}' <<<"$out")
non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
echo
echo "maintctl serve ($build): GET $LOAD_PATH, $DURATION, $THREADS threads, $CONNECTIONS connections, loopback"
echo "  requests/s: $rps"
echo "  p99 latency: $p99"
if [ -n "$errors" ]; then
  echo "  $errors"
fi
if [ -n "$non2xx" ]; then
  echo "  non-2xx responses: $non2xx (the maintenance page answers 503 by design)"
fi
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wrk shares them with the server)"
