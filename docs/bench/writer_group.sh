#!/usr/bin/env bash
# The writer-loop design of #19, measured before it is built into the relay: for each N, one
# after the other on this machine, the writev floor, the writer-group example
# (crates/mjpeg-serve/examples/writer_group.rs: the relay's PacedViewer per viewer, one writer
# task per group) and camrelay (fed by the mock camera), each read by the viewer load tool;
# prints CPU per viewer-frame and the ratio to the floor for R rounds.
#
#   N_LIST="100 1000" ROUNDS=3 docs/bench/writer_group.sh
#
# Env: N_LIST ("100 1000"), ROUNDS (3), SECONDS_PER (10), THIN (2), WRITER_GROUPS (2), OUT
#      (target/bench-writer-group), NO_BUILD=1, RELAY (the relay binary).
# (Not GROUPS: bash sets that one to the user's group ids.)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
N_LIST=${N_LIST:-"100 1000"}
ROUNDS=${ROUNDS:-3}
SECONDS_PER=${SECONDS_PER:-10}
THIN=${THIN:-2}
WRITER_GROUPS=${WRITER_GROUPS:-2}
OUT=${OUT:-target/bench-writer-group}
mkdir -p "$OUT"
if [[ -z "${NO_BUILD:-}" ]]; then
    cargo build --release -p camrelay --bin camrelay
    cargo build --release -p camrelay-suite --example viewer_load --example writev_floor --example mock_camera
    cargo build --release -p mjpeg-serve --example writer_group
fi
RELAY=${RELAY:-target/release/camrelay}
FLOOR=target/release/examples/writev_floor
GROUP=target/release/examples/writer_group
MOCK=target/release/examples/mock_camera
LOAD=target/release/examples/viewer_load
source docs/bench/processes.sh
ulimit -n "$(ulimit -Hn)" || true

load() { # url pid label json
    "$LOAD" --url "$1" --viewers "$n" --thin "$THIN" --seconds "$SECONDS_PER" --warmup 2 \
        --threads 2 --pid "$2" --label "$3" --json "$4" >/dev/null
}
for round in $(seq "$ROUNDS"); do
    for n in $N_LIST; do
        port=$(free_port)
        "$FLOOR" --port "$port" --fps 30 >/dev/null 2>&1 & PIDS=($!)
        wait_port "$port"; load "http://127.0.0.1:$port/stream" "${PIDS[0]}" floor "$OUT/floor-$n-$round.json"
        stop_all
        port=$(free_port)
        "$GROUP" --port "$port" --groups "$WRITER_GROUPS" --fps 30 >/dev/null 2>&1 & PIDS=($!)
        wait_port "$port"; load "http://127.0.0.1:$port/stream" "${PIDS[0]}" group "$OUT/group-$n-$round.json"
        stop_all
        mport=$(free_port); rport=$(free_port)
        "$MOCK" --port "$mport" --fps 30 --max-clients 1 >/dev/null 2>&1 & PIDS=($!)
        wait_port "$mport"
        RUST_LOG=warn "$RELAY" --listen "127.0.0.1:$rport" --camera "cam=http://127.0.0.1:$mport/stream" \
            --always-on --no-detect >/dev/null 2>&1 & PIDS+=($!)
        wait_port "$rport"; sleep 1
        load "http://127.0.0.1:$rport/cams/cam/stream" "${PIDS[1]}" relay "$OUT/relay-$n-$round.json"
        stop_all
        python3 - "$OUT" "$n" "$round" <<'PY'
import json, sys
out, n, r = sys.argv[1:]
def get(name):
    d = json.load(open(f"{out}/{name}-{n}-{r}.json"))
    return d["server_cpu_us_per_viewer_frame"], d["fps_min"], d["fps_median"]
f, g, rel = get("floor"), get("group"), get("relay")
print(f"round {r} N={n}: floor {f[0]:.2f} us (fps {f[1]:.1f}/{f[2]:.1f}) | writer group {g[0]:.2f} us = {g[0]/f[0]:.2f}x (fps {g[1]:.1f}/{g[2]:.1f}) | relay {rel[0]:.2f} us = {rel[0]/f[0]:.2f}x (fps {rel[1]:.1f}/{rel[2]:.1f})")
PY
    done
done
