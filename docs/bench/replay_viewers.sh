#!/usr/bin/env bash
# Replay viewers vs live viewers, side by side in one relay process (issue #17: "1000 viewers
# of one replay session cost no more per viewer-frame than 1000 live viewers").
#
#   docs/bench/replay_viewers.sh                 # 1000 viewers, 15 s each, after 30 s recorded
#   N=2000 SECONDS_PER=10 docs/bench/replay_viewers.sh
#
# One relay (--record, --always-on, --no-detect) reads the mock camera and records it. After
# RECORD seconds: N viewers of the live stream (examples/viewer_load.rs), then N viewers of a
# replay session at 1x that starts at the beginning of the recording (it follows the recording
# as it grows), then live again. The recorder runs through all three runs.
# Env: N (1000), SECONDS_PER (15), WARMUP (2), RECORD (30), FPS (30), LOAD_THREADS (2),
#      OUT (target/bench-replay), NO_BUILD=1.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
N=${N:-1000}; SECONDS_PER=${SECONDS_PER:-15}; WARMUP=${WARMUP:-2}; RECORD=${RECORD:-30}
FPS=${FPS:-30}; LOAD_THREADS=${LOAD_THREADS:-2}; OUT=${OUT:-target/bench-replay}
mkdir -p "$OUT"
if [[ -z "${NO_BUILD:-}" ]]; then
    cargo build --release -p camrelay --bin camrelay
    cargo build --release -p camrelay-suite --example viewer_load --example mock_camera
fi
RELAY=target/release/camrelay; MOCK=target/release/examples/mock_camera
LOAD=target/release/examples/viewer_load
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "nothing listens on port $1" >&2; return 1
}
PIDS=(); REC=$(mktemp -d)
stop_all() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$REC"; }
trap stop_all EXIT
ulimit -n "$(ulimit -Hn)" || true

mport=$(free_port); rport=$(free_port)
"$MOCK" --port "$mport" --fps "$FPS" --max-clients 1 >"$OUT/mock.log" 2>&1 & PIDS+=($!)
wait_port "$mport"
start=$(python3 -c 'import time; print(time.time())')
RUST_LOG=${RUST_LOG:-warn} "$RELAY" --listen "127.0.0.1:$rport" --camera "cam=http://127.0.0.1:$mport/stream" \
    --always-on --no-detect --record "$REC" >"$OUT/relay.log" 2>&1 & relay_pid=$!; PIDS+=("$relay_pid")
wait_port "$rport"
echo "== recording for $RECORD s" >&2
sleep "$RECORD"

load() { # label path
    "$LOAD" --url "http://127.0.0.1:$rport$2" --viewers "$N" --thin 0 --seconds "$SECONDS_PER" \
        --warmup "$WARMUP" --threads "$LOAD_THREADS" --pid "$relay_pid" --label "$1" --json "$OUT/$1.json" >/dev/null
}
echo "== $N live viewers" >&2
load live1 /cams/cam/stream
body=$(python3 -c "import json; print(json.dumps({'cameras': ['cam'], 'start': $start + 1, 'rate': 1.0}))")
id=$(curl -fsS -X POST "http://127.0.0.1:$rport/api/replay" -d "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "== $N viewers of replay session $id" >&2
load replay "/replay/$id/cams/cam/stream"
echo "== $N live viewers again" >&2
load live2 /cams/cam/stream

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = {k: json.load(open(f"{out}/{k}.json")) for k in ("live1", "replay", "live2")}
live = (rows["live1"]["server_cpu_us_per_viewer_frame"] + rows["live2"]["server_cpu_us_per_viewer_frame"]) / 2
print("| run | viewers | fps min / median | server CPU % | CPU µs per viewer-frame | vs live (mean of both) |")
print("| --- | --- | --- | --- | --- | --- |")
for k, r in rows.items():
    us = r["server_cpu_us_per_viewer_frame"]
    print(f"| {k} | {r['viewers_connected']} | {r['fps_min']} / {r['fps_median']} | {r['server_cpu_pct']} | {us:.2f} | {us / live:.2f}x |")
PY
