#!/usr/bin/env bash
# Relay vs. writev floor, side by side, at several viewer counts (issues 5 and 9).
#
#   docs/bench/viewers.sh                       # N in "1 10 100 1000 2000", 15 s each, 2 thin
#   N_LIST="100 1000" SECONDS_PER=10 docs/bench/viewers.sh
#   WRITE_DOCS=1 docs/bench/viewers.sh          # also replace "## Relay: viewers" in docs/benchmarks.md
#
# For each N it runs, one after the other on this machine:
#   1. the floor (examples/writev_floor.rs: one thread, one non-blocking writev per viewer),
#   2. camrelay (--always-on --no-detect) fed by the mock camera (examples/mock_camera.rs),
# each measured by examples/viewer_load.rs with N normal viewers plus THIN thin-link viewers
# (128 KiB receive buffer, reading 400 KB/s). Every JSON lands in $OUT; the markdown table with
# relay/floor ratios is printed and written to $OUT/table.md.
#
# Env: N_LIST, SECONDS_PER (15), WARMUP (2), THIN (2), FPS (30), OUT (target/bench-viewers),
#      NO_BUILD=1 (use the binaries as they are), WRITE_DOCS=1, LOAD_THREADS (2),
#      RELAY_ARGS (more camrelay flags, e.g. "--policy drop-oldest --queue 1" or "--no-pacing"),
#      LOAD_ARGS (more viewer_load flags, e.g. "--thin-reads bursty"), SKIP_FLOOR=1,
#      FLOOR_ARGS (more writev_floor flags: "--chunked" frames it as hyper frames the relay),
#      SKIP_RELAY=1,
#      RELAY (the relay binary, default target/release/camrelay: compare two builds),
#      WS=1 (also N WebSocket viewers of the same relay process, right after its MJPEG run),
#      STREAM_QUERY (appended to the relay's stream and WebSocket URLs, e.g. "?quality=auto").
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

N_LIST=${N_LIST:-"1 10 100 1000 2000"}
SECONDS_PER=${SECONDS_PER:-15}
WARMUP=${WARMUP:-2}
THIN=${THIN:-2}
FPS=${FPS:-30}
OUT=${OUT:-target/bench-viewers}
LOAD_THREADS=${LOAD_THREADS:-2}
mkdir -p "$OUT"

if [[ -z "${NO_BUILD:-}" ]]; then
    cargo build --release -p camrelay --bin camrelay
    cargo build --release -p camrelay-suite --example viewer_load --example writev_floor
    cargo build --release -p camrelay-suite --example mock_camera \
        || echo "warning: examples/mock_camera does not build; the relay's camera is the floor" >&2
fi
RELAY=${RELAY:-target/release/camrelay}
FLOOR=target/release/examples/writev_floor
MOCK=target/release/examples/mock_camera
LOAD=target/release/examples/viewer_load
for flag in --camera --always-on --no-detect --listen; do
    "$RELAY" --help | grep -q -- "$flag" || { echo "camrelay has no $flag" >&2; exit 1; }
done

source docs/bench/processes.sh

ulimit -n "$(ulimit -Hn)" || true
for n in $N_LIST; do
    if [[ -z "${SKIP_FLOOR:-}" ]]; then
    echo "== $n viewers: floor" >&2
    port=$(free_port)
    "$FLOOR" --port "$port" --fps "$FPS" ${FLOOR_ARGS:-} 2>"$OUT/floor-$n.log" >&2 &
    floor_pid=$!; PIDS=("$floor_pid")
    wait_port "$port"
    "$LOAD" --url "http://127.0.0.1:$port/stream" --viewers "$n" --thin "$THIN" \
        --seconds "$SECONDS_PER" --warmup "$WARMUP" --threads "$LOAD_THREADS" --pid "$floor_pid" \
        --label floor --json "$OUT/floor-$n.json" ${LOAD_ARGS:-} >/dev/null
    stop_all
    fi

    if [[ -n "${SKIP_RELAY:-}" ]]; then continue; fi
    echo "== $n viewers: relay" >&2
    mport=$(free_port); rport=$(free_port)
    if [[ -x "$MOCK" ]]; then
        "$MOCK" --port "$mport" --fps "$FPS" --max-clients 1 >"$OUT/mock-$n.log" 2>&1 &
    else # the same Scene frames at the same rate, one client: the floor serves as the camera
        "$FLOOR" --port "$mport" --fps "$FPS" >"$OUT/mock-$n.log" 2>&1 &
    fi
    PIDS=($!)
    wait_port "$mport"
    RUST_LOG=${RUST_LOG:-warn} "$RELAY" --listen "127.0.0.1:$rport" --camera "cam=http://127.0.0.1:$mport/stream" \
        --always-on --no-detect ${RELAY_ARGS:-} >"$OUT/relay-$n.log" 2>&1 &
    relay_pid=$!; PIDS+=("$relay_pid")
    wait_port "$rport"
    sleep 1 # the upstream connects
    "$LOAD" --url "http://127.0.0.1:$rport/cams/cam/stream${STREAM_QUERY:-}" --viewers "$n" --thin "$THIN" \
        --seconds "$SECONDS_PER" --warmup "$WARMUP" --threads "$LOAD_THREADS" --pid "$relay_pid" \
        --label relay --json "$OUT/relay-$n.json" ${LOAD_ARGS:-} >/dev/null
    if [[ -n "${WS:-}" ]]; then
        echo "== $n viewers: relay, WebSocket" >&2
        "$LOAD" --ws --url "http://127.0.0.1:$rport/cams/cam/ws${STREAM_QUERY:-}" --viewers "$n" --thin "$THIN" \
            --seconds "$SECONDS_PER" --warmup "$WARMUP" --threads "$LOAD_THREADS" --pid "$relay_pid" \
            --label relay-ws --json "$OUT/relay-ws-$n.json" ${LOAD_ARGS:-} >/dev/null
    fi
    stop_all
done

python3 docs/bench/viewers_table.py "$OUT" $N_LIST | tee "$OUT/table.md"
if [[ -n "${WRITE_DOCS:-}" ]]; then
    python3 docs/bench/viewers_table.py --write-docs docs/benchmarks.md \
        --command "${WS:+WS=1 }N_LIST=\"$N_LIST\" SECONDS_PER=$SECONDS_PER THIN=$THIN OUT=$OUT${RELAY_ARGS:+ RELAY_ARGS=\"$RELAY_ARGS\"}${LOAD_ARGS:+ LOAD_ARGS=\"$LOAD_ARGS\"}${STREAM_QUERY:+ STREAM_QUERY=\"$STREAM_QUERY\"} WRITE_DOCS=1 docs/bench/viewers.sh" "$OUT" $N_LIST
fi
