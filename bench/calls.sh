#!/usr/bin/env bash
# bench/calls.sh - scripted calls end to end: callhookd-emulator -> callhookd.
#
# Starts callhookd (built-in handlers, a fresh journal, 127.0.0.1 port 0) and
# callhookd-emulator (127.0.0.1 port 0, a random access key, its callbacks
# pointed at the daemon), then runs bench/calls.py, which drives CALLS
# scripted calls CONCURRENCY at a time and prints completed calls/s, events
# emitted/journaled/derived and emission-to-row latency p50/p99 (see its
# docstring).  Stops both servers at the end.
#
# A benchmark, not a test: exit 0 when it ran, whatever the figures; 2 when
# it could not run.
#
# Environment:
#   CALLHOOKD     daemon binary        (default: build/src/callhookd of this repo)
#   EMULATOR      emulator binary      (default: callhookd-emulator next to CALLHOOKD)
#   HANDLERS_DIR  handler modules      (default: handlers/ next to CALLHOOKD's src/)
#   CALLS         calls in all         (default 200)
#   CONCURRENCY   calls at a time      (default 20)
#   FORMAT        emulator event format: preview, eventgrid, cloudevents (default cloudevents)
#   STEP_DELAY    emulator --step-delay    (default 20ms)
#   PLAY_DURATION emulator --play-duration (default 50ms)
#   POLL_MS       interval of the derived-row poller, the latency resolution (default 5)
#   TONES         DTMF tones each callee presses (default 123#)
#   WAIT_TIMEOUT  seconds one step of a call may wait for the emulator (default 60)
#   DRAIN_TIMEOUT seconds to wait for the daemon to derive every event (default 60)
#   BENCH_DIR     where the journal goes (default a new directory in ${TMPDIR:-/tmp})
#   KEEP=1        keep the journal and logs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_paths
EMULATOR=${EMULATOR:-$(dirname "$CALLHOOKD")/callhookd-emulator}
FORMAT=${FORMAT:-cloudevents}
STEP_DELAY=${STEP_DELAY:-20ms}
PLAY_DURATION=${PLAY_DURATION:-50ms}
KEEP=${KEEP:-0}
export CALLS=${CALLS:-200} CONCURRENCY=${CONCURRENCY:-20} POLL_MS=${POLL_MS:-5}

[ -x "$CALLHOOKD" ] || die "no daemon at $CALLHOOKD (set CALLHOOKD)"
[ -x "$EMULATOR" ] || die "no emulator at $EMULATOR (set EMULATOR)"
[ -f "$HANDLERS_DIR/callstate.so" ] || die "no built-in handlers in $HANDLERS_DIR (set HANDLERS_DIR)"
command -v python3 >/dev/null || die "python3 is needed"

dir=$(bench_tmpdir callhookd-calls)
daemon_pid='' emu_pid=''
cleanup() {
	stop_pids "$emu_pid" "$daemon_pid" # only the two processes this script started
	keep_or_remove "$dir"
}
trap cleanup EXIT

"$CALLHOOKD" -f --listen 127.0.0.1:0 --db "$dir/journal.db" --handlers-dir "$HANDLERS_DIR" \
	>"$dir/callhookd.log" 2>&1 &
daemon_pid=$!
daemon_port=$(wait_port "$dir/callhookd.log" "$daemon_pid") || exit 2

key=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
"$EMULATOR" --listen 127.0.0.1:0 --access-key "$key" --format "$FORMAT" \
	--step-delay "$STEP_DELAY" --play-duration "$PLAY_DURATION" >"$dir/emulator.log" 2>&1 &
emu_pid=$!
emu_port=$(wait_port "$dir/emulator.log" "$emu_pid") || exit 2

echo "callhookd on 127.0.0.1:$daemon_port, emulator on 127.0.0.1:$emu_port ($FORMAT events);" \
	"$CALLS calls, $CONCURRENCY at a time"
EMULATOR_URL=http://127.0.0.1:$emu_port ACCESS_KEY=$key \
	CALLBACK_URL=http://127.0.0.1:$daemon_port/events DB=$dir/journal.db \
	python3 "$here/calls.py" || exit 2
warnings=$(grep -c -E 'level=(warn|error)' "$dir/callhookd.log" || true)
echo "daemon log lines with warnings or errors: $warnings"
