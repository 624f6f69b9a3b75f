#!/usr/bin/env bash
# Quality tiers' CPU (issue #18): N viewers of `original` against N viewers spread over the four
# tiers (N/4 each on original, high, medium, low), one relay process, one after the other.
#
#   docs/bench/tiers_cpu.sh                      # N=1000, 15 s per run
#   N=400 SECONDS_PER=10 docs/bench/tiers_cpu.sh
#
# Each run is four load tools (examples/viewer_load.rs, one worker thread each) of N/4 viewers,
# started together and measuring the relay's CPU over the same window. The budget the issue
# sets: the tiered run costs at most the original run plus one encode per tier-frame made
# (encode times from the relay's own /api/stats), plus one decode per frame.
#
# The decode (once per camera frame for all tiers) is not in /api/stats: DECODE_MS is the
# zune-jpeg VGA decode of the codec benchmark (docs/benchmarks.md, "JPEG candidates").
#
# Env: DECODE_MS (1.56), N (1000), SECONDS_PER (15), WARMUP (3), FPS (30), OUT (target/bench-tiers),
#      NO_BUILD=1 (use the release binaries as they are).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

N=${N:-1000}
SECONDS_PER=${SECONDS_PER:-15}
WARMUP=${WARMUP:-3}
FPS=${FPS:-30}
OUT=${OUT:-target/bench-tiers}
mkdir -p "$OUT"

if [[ -z "${NO_BUILD:-}" ]]; then
    cargo build --release -p camrelay --bin camrelay
    cargo build --release -p camrelay-suite --example viewer_load --example mock_camera
fi
RELAY=target/release/camrelay
MOCK=target/release/examples/mock_camera
LOAD=target/release/examples/viewer_load

source docs/bench/processes.sh
ulimit -n "$(ulimit -Hn)" || true

mport=$(free_port); rport=$(free_port)
"$MOCK" --port "$mport" --fps "$FPS" --max-clients 1 >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
wait_port "$mport"
"$RELAY" --listen "127.0.0.1:$rport" --camera "cam=http://127.0.0.1:$mport/stream" \
    --always-on --no-detect >"$OUT/relay.log" 2>&1 &
relay_pid=$!; PIDS+=("$relay_pid")
wait_port "$rport"
sleep 1

quarter=$((N / 4))
run() { # run NAME TIER TIER TIER TIER
    local name=$1; shift
    date +%s.%N >"$OUT/$name-start"
    local loads=()
    local i=0
    for tier in "$@"; do
        "$LOAD" --url "http://127.0.0.1:$rport/cams/cam/stream?quality=$tier" \
            --viewers "$quarter" --seconds "$SECONDS_PER" --warmup "$WARMUP" --threads 1 \
            --pid "$relay_pid" --label "$name-$tier" --json "$OUT/$name-$i.json" >/dev/null &
        loads+=($!)
        i=$((i + 1))
    done
    for pid in "${loads[@]}"; do wait "$pid"; done
    date +%s.%N >"$OUT/$name-end"
    curl -s "http://127.0.0.1:$rport/api/stats" >"$OUT/$name-stats.json"
}
echo "== $N viewers on original" >&2
run original original original original original
echo "== $N viewers over the four tiers" >&2
run tiers original high medium low

python3 - "$OUT" "$N" "$FPS" "${DECODE_MS:-1.56}" <<'PY'
import json, sys, glob
out, n, fps, decode_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
def loads(name):
    return [json.load(open(p)) for p in sorted(glob.glob(f"{out}/{name}-[0-9].json"))]
def tiers(name):
    stats = json.load(open(f"{out}/{name}-stats.json"))
    return {t["tier"]: t for t in stats["cameras"][0]["quality"] or []}
def duration(name):
    return float(open(f"{out}/{name}-end").read()) - float(open(f"{out}/{name}-start").read())
rows = {}
for name in ["original", "tiers"]:
    r = loads(name)
    cpu = sum(x["server_cpu_pct"] for x in r) / len(r)  # every tool measured the same relay
    frames = sum(x["viewer_frames"] / x["window_s"] for x in r)
    rows[name] = (cpu, frames, [x["fps_median"] for x in r])
before, after = tiers("original"), tiers("tiers")
encode_pct, made = 0.0, []
for t in ["high", "medium", "low"]:
    count = after.get(t, {}).get("frames", 0) - before.get(t, {}).get("frames", 0)
    ms = after.get(t, {}).get("encode_ms") or 0.0
    rate = count / duration("tiers")
    encode_pct += rate * ms / 10.0
    made.append((t, count, rate, ms))
decode_pct = fps * decode_ms / 10.0
budget = rows["original"][0] + encode_pct + decode_pct
print("| run | viewers | relay CPU, % of a core | viewer-frames/s | median fps (four load tools) |")
print("| --- | --- | --- | --- | --- |")
for name, label in [("original", f"{n} on original"), ("tiers", f"{n // 4} each on original, high, medium, low")]:
    cpu, frames, med = rows[name]
    print(f"| {name} | {label} | {cpu:.1f} | {frames:.0f} | {' / '.join(f'{f:.1f}' for f in med)} |")
print()
print("| tier | frames made (tiered run) | per second | mean shrink + encode, ms |")
print("| --- | --- | --- | --- |")
for t, count, rate, ms in made:
    print(f"| {t} | {count} | {rate:.1f} | {ms:.2f} |")
print()
print(f"Budget: original run {rows['original'][0]:.1f} % + encodes {encode_pct:.1f} % + decodes "
      f"({fps:.0f}/s x {decode_ms} ms) {decode_pct:.1f} % = {budget:.1f} % of a core; "
      f"tiered run {rows['tiers'][0]:.1f} % ({rows['tiers'][0] / budget:.2f}x the budget).")
PY
