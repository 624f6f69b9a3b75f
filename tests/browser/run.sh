#!/usr/bin/env bash
# End-to-end browser test of the dashboard: starts the mock camera and the relay, then drives
# headless Chromium (playwright-core) through dashboard.test.mjs; then login.test.mjs starts a
# second relay of its own, with access tokens, and logs in and out. Builds nothing; build first:
#   cargo build --release -p camrelay && cargo build --release --example mock_camera
#   (cd tests/browser && npm ci)        # once; Chromium: apt-get install -y chromium
#   tests/browser/run.sh
# Environment (all optional): CAMRELAY_BIN, MOCK_CAMERA_BIN (paths of the release binaries),
# CAMRELAY_EXTRA_ARGS (more relay flags), CHROMIUM (/usr/bin/chromium), ARTIFACTS_DIR
# (tests/artifacts: screenshots and the servers' logs). Exits with the tests' exit code.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CAMRELAY_BIN=${CAMRELAY_BIN:-$root/target/release/camrelay}
MOCK_CAMERA_BIN=${MOCK_CAMERA_BIN:-$root/target/release/examples/mock_camera}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export ARTIFACTS_DIR=${ARTIFACTS_DIR:-$root/tests/artifacts}

fail() { echo "run.sh: $*" >&2; exit 2; }
[[ -x $CAMRELAY_BIN ]] || fail "no relay binary at $CAMRELAY_BIN (cargo build --release -p camrelay)"
[[ -x $MOCK_CAMERA_BIN ]] || fail "no mock camera at $MOCK_CAMERA_BIN (cargo build --release --example mock_camera)"
[[ -x $CHROMIUM ]] || fail "no Chromium at $CHROMIUM (apt-get install -y chromium)"
[[ -d $here/node_modules/playwright-core ]] || fail "playwright-core missing (cd tests/browser && npm ci)"
mkdir -p "$ARTIFACTS_DIR"

# Two distinct free ports: both listeners are open at once, then closed and handed out.
read -r camera_port relay_port < <(node -e '
  const net = require("net");
  const a = net.createServer().listen(0, "127.0.0.1", () => {
    const b = net.createServer().listen(0, "127.0.0.1", () => {
      console.log(a.address().port, b.address().port); a.close(); b.close();
    });
  });')

pids=()
pids_cleanup_dirs=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for dir in "${pids_cleanup_dirs[@]}"; do rm -rf "$dir"; done
}
trap cleanup EXIT INT TERM

# Polls URL until it answers 200, for at most $2 seconds, while process $3 is alive.
wait_for() {
  local url=$1 seconds=$2 pid=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
show_logs() {
  for log in "$ARTIFACTS_DIR"/mock_camera.log "$ARTIFACTS_DIR"/camrelay.log "$ARTIFACTS_DIR"/camrelay-login.log; do
    [[ -f $log ]] && { echo "--- tail of $log"; tail -n 30 "$log"; }
  done >&2
}

"$MOCK_CAMERA_BIN" --bind 127.0.0.1 --port "$camera_port" --fps 30 >"$ARTIFACTS_DIR/mock_camera.log" 2>&1 &
mock_pid=$!
pids+=("$mock_pid")
# /status, not /stream: the camera serves one stream client, and that one is the relay's.
wait_for "http://127.0.0.1:$camera_port/status" 20 "$mock_pid" || { show_logs; fail "mock camera did not start"; }

# Every camera is recorded, for the replay test (the recordings go with the run's temp dir).
record_dir=$(mktemp -d)
pids_cleanup_dirs=("$record_dir")
# shellcheck disable=SC2086 # CAMRELAY_EXTRA_ARGS is a list of flags
"$CAMRELAY_BIN" --listen "127.0.0.1:$relay_port" --record "$record_dir" \
  --camera "cam1=http://127.0.0.1:$camera_port/stream" --camera demo2=demo \
  ${CAMRELAY_EXTRA_ARGS:-} >"$ARTIFACTS_DIR/camrelay.log" 2>&1 &
relay_pid=$!
pids+=("$relay_pid")
wait_for "http://127.0.0.1:$relay_port/healthz" 60 "$relay_pid" || { show_logs; fail "relay did not answer /healthz"; }

export CAMRELAY_URL="http://127.0.0.1:$relay_port/"
export CAMRELAY_CAMERAS=cam1,demo2 DETECT_CAMERA=cam1 MOCK_CAMERA_PID=$mock_pid
# login.test.mjs starts its own relay from this binary (it runs in $here: an absolute path).
CAMRELAY_BIN=$(realpath "$CAMRELAY_BIN")
export CAMRELAY_BIN
status=0
# One file at a time: the timing checks of one should not share the CPUs with another, and
# the replay test records the camera that dashboard.test.mjs stops last.
(cd "$here" && node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./summary-reporter.mjs --test-reporter-destination=stdout \
  replay.test.mjs dashboard.test.mjs login.test.mjs) || status=$?
[[ $status -eq 0 ]] || show_logs
echo "screenshots and logs: $ARTIFACTS_DIR"
exit "$status"
