#!/usr/bin/env bash
# Brown-out soak (issue #22): the mock camera reboots (DOWN s off, UP s on) for DURATION s under
# VIEWERS relay viewers; prints the summary JSON of examples/brownout_soak.rs and keeps it in $OUT.
#
#   docs/bench/brownouts.sh                                  # 100 viewers, 5 s / 5 s, 3 minutes
#   VIEWERS=20 DURATION=60 docs/bench/brownouts.sh
#   RELAY=/path/to/camrelay NO_BUILD=1 docs/bench/brownouts.sh
#   RELAY_ARGS="--always-on" docs/bench/brownouts.sh          # more relay flags
#
# Env: VIEWERS (100), DOWN (5), UP (5), DURATION (180 s), FPS (30), OUT (target/bench-brownouts),
#      RELAY (target/release/camrelay), NO_BUILD=1 (use the binaries as they are), RELAY_ARGS,
#      RUST_LOG (the relay's log level, default info; the log is $OUT/relay.log).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

VIEWERS=${VIEWERS:-100}
DOWN=${DOWN:-5}
UP=${UP:-5}
DURATION=${DURATION:-180}
FPS=${FPS:-30}
OUT=${OUT:-target/bench-brownouts}
RELAY=${RELAY:-target/release/camrelay}
mkdir -p "$OUT"

if [[ -z "${NO_BUILD:-}" ]]; then
    cargo build --release -p camrelay --bin camrelay
    cargo build --release -p camrelay-suite --example brownout_soak
fi
SOAK=target/release/examples/brownout_soak
[[ -x "$RELAY" ]] || { echo "no relay binary at $RELAY" >&2; exit 1; }

ulimit -n "$(ulimit -Hn)" || true
stamp=$(date -u +%Y%m%dT%H%M%SZ)
# shellcheck disable=SC2086 # RELAY_ARGS is a list of flags
"$SOAK" --relay "$RELAY" --viewers "$VIEWERS" --down "$DOWN" --up "$UP" \
    --seconds "$DURATION" --fps "$FPS" --relay-log "$OUT/relay-$stamp.log" \
    --json "$OUT/soak-$stamp.json" -- ${RELAY_ARGS:-}
echo "summary: $OUT/soak-$stamp.json, relay log: $OUT/relay-$stamp.log" >&2
