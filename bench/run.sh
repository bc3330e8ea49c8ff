#!/usr/bin/env bash
# bench/run.sh - throughput and latency of callhookd against a no-work reference.
#
# For each scenario it runs wrk against
#   1. bench/refserver.c: a libevent evhttp server that answers 200 to every
#      POST and does nothing else (the ceiling on this machine with this client);
#   2. callhookd with a fresh journal and its default durable settings
#      (WAL, synchronous=FULL, group commit),
# then prints requests/s, events/s, p50/p99 latency and callhookd's throughput
# as a ratio of the reference's.  After each callhookd run the daemon is
# stopped with SIGTERM and the journal is counted: every event acknowledged
# with a 200 must be in it.  The scenarios:
#   - single-event CloudEvents POSTs, intake only (no handler modules loaded:
#     the daemon runs with a config file saying [handlers] defaults = no);
#   - Event Grid batches of BATCH events, intake only;
#   - single-event CloudEvents POSTs with the built-in handlers loaded (the
#     default configuration) from HANDLERS_DIR; skipped with a note when
#     callstate.so is not there.  After it, callhookctl replays the callstate
#     handler over that scenario's journal and the replay rate is printed
#     (skipped with a note when callhookctl is not built).
#
# It is a benchmark, not a test: it exits 0 whatever the figures are (non-zero
# only when it cannot run), and prints whether each target was met:
#   single-event throughput >= 0.5 x reference, single-event p99 < 5 ms,
#   single-event with handlers >= 0.4 x reference, every acknowledged event
#   journaled.
#
# Environment:
#   CALLHOOKD    daemon binary           (default: build/src/callhookd of this repo)
#   HANDLERS_DIR handler modules         (default: handlers/ next to CALLHOOKD's src/)
#   CALLHOOKCTL  callhookctl binary      (default: callhookctl next to CALLHOOKD)
#   DURATION     length of each wrk run  (default 10s)
#   CONNECTIONS  wrk connections         (default 32)
#   THREADS      wrk threads             (default 2)
#   BATCH        events per batch POST   (default 50)
#   BENCH_DIR    where the journals go   (default a new directory in ${TMPDIR:-/tmp});
#                it must be a real disk: on tmpfs fsync costs nothing
#   SYSCALLS=1   also count callhookd's fsync/fdatasync/pwrite64 calls with
#                `perf stat` (needs perf and permission to use tracepoints)
#   KEEP=1       keep the journals and logs instead of deleting them
#
# Needs: wrk, cc, pkg-config and libevent headers, sqlite3.  Loopback only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_paths
CALLHOOKCTL=${CALLHOOKCTL:-$(dirname "$CALLHOOKD")/callhookctl}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
BATCH=${BATCH:-50}
SYSCALLS=${SYSCALLS:-0}
KEEP=${KEEP:-0}


for tool in wrk cc pkg-config sqlite3; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -x "$CALLHOOKD" ] || die "no daemon at $CALLHOOKD (build it: cd build && make src/callhookd, or set CALLHOOKD)"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer"
[[ $BATCH =~ ^[1-9][0-9]*$ ]] || die "BATCH must be a positive integer"
if [ "$SYSCALLS" = 1 ] && ! command -v perf >/dev/null; then
	die "SYSCALLS=1 needs perf"
fi

tmp=$(bench_tmpdir callhookd-bench)
server_pid=
cleanup() {
	stop_pids "$server_pid"
	keep_or_remove "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Intake only: no handler modules (the daemon loads the built-in ones by default).
printf '[handlers]\ndefaults = no\n' >"$tmp/intake.conf"

# shellcheck disable=SC2046 # pkg-config output is meant to be split
cc -O2 -o "$tmp/refserver" "$here/refserver.c" $(pkg-config --cflags --libs libevent) ||
	die "cannot build bench/refserver.c"

# --- helpers ---------------------------------------------------------------


# CPU ticks (user + system) of one thread: /proc/PID/task/TID/stat fields 14, 15.
# The command name is in parentheses and may contain spaces: cut after ") ".
ticks() { # pid tid
	local s
	s=$(cat "/proc/$1/task/$2/stat" 2>/dev/null) || {
		echo 0
		return
	}
	s=${s##*) }
	awk '{print $12 + $13}' <<<"$s"
}

# "tid:ticks tid:ticks ..." for every thread of a process.
thread_ticks() { # pid
	local t out=
	for t in /proc/"$1"/task/*; do
		t=${t##*/}
		out="$out $t:$(ticks "$1" "$t")"
	done
	echo "$out"
}

# CPU use per thread between two thread_ticks snapshots, as % of one core.
cpu_report() { # pid before after seconds
	local pid=$1 before=$2 after=$3 secs=$4 hz
	hz=$(getconf CLK_TCK)
	awk -v pid="$pid" -v before="$before" -v after="$after" -v secs="$secs" -v hz="$hz" 'BEGIN {
		n = split(before, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, ":"); t0[kv[1]] = kv[2] }
		n = split(after, a, " ")
		for (i = 1; i <= n; i++) {
			split(a[i], kv, ":"); d = kv[2] - t0[kv[1]]
			total += d
			if (kv[1] == pid) main = d; else others = others + d
		}
		printf "%.0f%% of a core (event loop %.0f%%, other threads %.0f%%)",
			100 * total / hz / secs, 100 * main / hz / secs, 100 * others / hz / secs
	}'
}

secs_of() { # wrk duration (10s, 1m, 500ms, 10) -> seconds
	awk -v d="$1" 'BEGIN {
		if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1000 }
		else if (d ~ /s$/) { sub(/s$/, "", d); print d + 0 }
		else if (d ~ /m$/) { sub(/m$/, "", d); print d * 60 }
		else if (d ~ /h$/) { sub(/h$/, "", d); print d * 3600 }
		else print d + 0
	}'
}

run_wrk() { # port format events nonce out
	wrk_post "http://127.0.0.1:$1" "$2" "$3" "$4" "$5"
}

# Stop a server with SIGTERM and wait for it (callhookd drains what is in flight).
stop_server() {
	local pid=$server_pid rc=0
	server_pid=
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	return $rc
}

# Intake goes first (dispatch.c, rest()): under a burst the handlers take at
# most 1/share of the time ([handlers] share, default 8) and the derived rows
# lag behind.  Say how far behind
# they were when wrk stopped and how long they took to catch up (bounded wait).
backlog_of() { # db
	sqlite3 -readonly -cmd '.timeout 5000' "$1" \
		"SELECT coalesce(max(backlog), 0) FROM handler_backlog WHERE active = 1" 2>/dev/null || echo "?"
}

handlers_catch_up() { # db label
	local db=$1 label=$2 backlog left start end
	backlog=$(backlog_of "$db")
	start=$(date +%s%N)
	left=$backlog
	for _ in $(seq 1200); do
		[ "$left" = 0 ] && break
		sleep 0.1
		left=$(backlog_of "$db")
	done
	end=$(date +%s%N)
	if [ "$left" = 0 ]; then
		notes+=("$label: the slowest handler was $backlog events behind when wrk stopped (intake goes first under load); caught up in $(awk -v ns=$((end - start)) 'BEGIN{printf "%.1f", ns / 1e9}') s, $(awk -v n="$backlog" -v ns=$((end - start)) 'BEGIN{printf "%.0f", (ns > 0 ? n / (ns / 1e9) : 0)}') events/s")
	else
		notes+=("$label: the slowest handler was $backlog events behind when wrk stopped; still $left behind 120 s later")
	fi
}

# --- one scenario ------------------------------------------------------------

rows=()     # table lines
notes=()    # per-scenario notes printed under the table
all_durable=yes
total_acked=0
single_ratio=
single_p99=
handlers_ratio=
replay_db=

fmt_row() { # scenario server rps eps p50_us p99_us ratio
	printf '%-22s %-10s %12s %12s %8s %8s %7s' "$1" "$2" "$3" "$4" \
		"$(awk -v v="$5" 'BEGIN{printf "%.2f", v / 1000}')" \
		"$(awk -v v="$6" 'BEGIN{printf "%.2f", v / 1000}')" "$7"
}

scenario() { # label format events [handlers]
	local label=$1 format=$2 events=$3 with_handlers=${4:-} secs port ref_rps rps eps ratio before after
	local db=$tmp/$format-$events${with_handlers:+-handlers}.db
	local log=$tmp/$format-$events${with_handlers:+-handlers}.log nonce
	local -a daemon_args=(-c "$tmp/intake.conf")
	[ -z "$with_handlers" ] || daemon_args=(--handlers-dir "$HANDLERS_DIR")
	secs=$(secs_of "$DURATION")
	nonce=$(date +%s)-$$

	# 1. reference
	"$tmp/refserver" 0 >"$tmp/ref.log" 2>&1 &
	server_pid=$!
	port=$(wait_port "$tmp/ref.log" "$server_pid")
	before=$(thread_ticks "$server_pid")
	run_wrk "$port" "$format" "$events" "ref-$nonce" "$tmp/wrk-ref-$format-$events.out"
	after=$(thread_ticks "$server_pid")
	local ref_cpu
	ref_cpu=$(cpu_report "$server_pid" "$before" "$after" "$secs")
	stop_server || true
	ref_rps=$(awk -v n="${R[requests]}" -v us="${R[duration_us]}" 'BEGIN{printf "%.0f", n / (us / 1e6)}')
	eps=$((ref_rps * events))
	rows+=("$(fmt_row "$label" reference "$ref_rps" "$eps" "${R[p50_us]}" "${R[p99_us]}" 1.00)")
	if [ "${R[errors]}" != 0 ] || [ "${R[non2xx]}" != 0 ]; then
		notes+=("$label, reference: ${R[errors]} socket errors/timeouts, ${R[non2xx]} non-200 answers")
	fi
	notes+=("$label, reference CPU: $ref_cpu")

	# 2. callhookd, fresh journal, default (durable) settings
	"$CALLHOOKD" -f "${daemon_args[@]}" --listen 127.0.0.1:0 --db "$db" 2>"$log" &
	server_pid=$!
	port=$(wait_port "$log" "$server_pid")
	local perf_out=$tmp/perf-$format-$events.txt perf_pid=
	if [ "$SYSCALLS" = 1 ]; then
		perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64 \
			-p "$server_pid" -o "$perf_out" -- sleep "$secs" 2>/dev/null &
		perf_pid=$!
	fi
	before=$(thread_ticks "$server_pid")
	run_wrk "$port" "$format" "$events" "$nonce" "$tmp/wrk-$format-$events.out"
	after=$(thread_ticks "$server_pid")
	local cpu
	cpu=$(cpu_report "$server_pid" "$before" "$after" "$secs")
	[ -z "$perf_pid" ] || wait "$perf_pid" || true
	[ -z "$with_handlers" ] || handlers_catch_up "$db" "$label"
	local daemon_rc=0
	stop_server || daemon_rc=$?

	rps=$(awk -v n="${R[requests]}" -v us="${R[duration_us]}" 'BEGIN{printf "%.0f", n / (us / 1e6)}')
	eps=$((rps * events))
	ratio=$(awk -v a="$rps" -v b="$ref_rps" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
	rows+=("$(fmt_row "$label" callhookd "$rps" "$eps" "${R[p50_us]}" "${R[p99_us]}" "$ratio")")
	if [ -n "$with_handlers" ]; then
		handlers_ratio=$ratio
	elif [ "$events" = 1 ]; then
		single_ratio=$ratio
		single_p99=${R[p99_us]}
	fi

	# 3. durability: every event answered 200 must be in the journal
	local acked=$((R[ok] * events)) journaled inflight_max extra durable
	journaled=$(sqlite3 "$db" 'select count(*) from events' 2>&1) || journaled="(sqlite3 failed: $journaled)"
	inflight_max=$((CONNECTIONS * events))
	total_acked=$((total_acked + acked))
	if [[ $journaled =~ ^[0-9]+$ ]] && [ "$journaled" -ge "$acked" ]; then
		durable=yes
		extra=$((journaled - acked))
	else
		durable=no
		all_durable=no
		extra=0
	fi
	notes+=("$label, callhookd: acknowledged $acked, journaled $journaled: all acknowledged journaled: $durable")
	if [ "$durable" = yes ] && [ "$extra" -gt 0 ]; then
		if [ "$extra" -le "$inflight_max" ]; then
			notes+=("    the $extra extra rows are requests in flight when wrk stopped: written and committed, but wrk had stopped reading (at most $CONNECTIONS connections x $events = $inflight_max)")
		else
			notes+=("    WARNING: $extra extra rows is more than $CONNECTIONS connections x $events events in flight could explain")
		fi
	fi
	if [ "${R[accepted]}" != "$acked" ] || [ "${R[duplicates]}" != 0 ]; then
		notes+=("    WARNING: the answers said accepted=${R[accepted]} duplicates=${R[duplicates]}, expected accepted=$acked duplicates=0")
	fi
	if [ "${R[errors]}" != 0 ] || [ "${R[non2xx]}" != 0 ]; then
		notes+=("    ${R[errors]} socket errors/timeouts, ${R[non2xx]} non-200 answers (not counted as acknowledged)")
	fi
	[ "$daemon_rc" = 0 ] || notes+=("    WARNING: callhookd exited with status $daemon_rc; see $log")
	if grep -qE 'level=(warn|error) ' "$log"; then
		notes+=("    callhookd logged warnings/errors: $(grep -cE 'level=(warn|error) ' "$log") lines, e.g. $(grep -m1 -E 'level=(warn|error) ' "$log")")
	fi
	notes+=("$label, callhookd CPU: $cpu; journal $(du -h "$db" | cut -f1)")
	if [ -n "$perf_pid" ] && [ -s "$perf_out" ]; then
		notes+=("$label, callhookd syscalls: $(awk -F, -v secs="$secs" -v req="${R[requests]}" '
			/sys_enter_/ { n = $1 + 0; name = $3; sub(/.*sys_enter_/, "", name)
				printf "%s %.0f/s (%.2f per request)  ", name, n / secs, (req > 0 ? n / req : 0) }' "$perf_out")")
	fi
	if [ -n "$with_handlers" ]; then
		replay_db=$db # replay() removes it
	else
		[ "$KEEP" = 1 ] || rm -f "$db" "$db-wal" "$db-shm"
	fi
}

# Replay the callstate handler over the journal of the handlers scenario.
replay_note=
replay() {
	local db=$replay_db out=$tmp/replay.out start end n
	if [ -z "$db" ]; then
		replay_note="replay: skipped (the handlers scenario did not run)"
		return
	fi
	if [ ! -x "$CALLHOOKCTL" ]; then
		replay_note="replay: skipped: no callhookctl at $CALLHOOKCTL (build it: make src/callhookctl)"
		return
	fi
	start=$(date +%s%N)
	if ! "$CALLHOOKCTL" --db "$db" --handlers-dir "$HANDLERS_DIR" replay --handler callstate \
		>"$out" 2>&1; then
		replay_note="replay: callhookctl failed: $(tail -n 1 "$out")"
		return
	fi
	end=$(date +%s%N)
	n=$(sed -n 's/.*replay callstate: \([0-9][0-9]*\) events replayed.*/\1/p' "$out" | tail -n 1)
	[ -n "$n" ] || n=0
	replay_note="replay --handler callstate: $n events in $(awk -v ns=$((end - start)) 'BEGIN{printf "%.2f", ns / 1e9}') s: $(awk -v n="$n" -v ns=$((end - start)) 'BEGIN{printf "%.0f", (ns > 0 ? n / (ns / 1e9) : 0)}') events/s"
	[ "$KEEP" = 1 ] || rm -f "$db" "$db-wal" "$db-shm"
}

# --- run -----------------------------------------------------------------------

fs=$(stat -f -c %T "$tmp")
echo "callhookd benchmark: $(nproc) CPUs, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, journal in $tmp ($fs)"
echo "daemon: $CALLHOOKD (default settings: WAL, synchronous=FULL, group commit)"
echo "handlers: $HANDLERS_DIR"
case $fs in
tmpfs | ramfs) echo "WARNING: the journal is on $fs, where fsync costs nothing: set BENCH_DIR to a disk" ;;
esac
echo

scenario "single event (CE)" cloudevents 1
scenario "batch of $BATCH (EG)" eventgrid "$BATCH"
if [ -f "$HANDLERS_DIR/callstate.so" ]; then
	scenario "single + handlers (CE)" cloudevents 1 handlers
	replay
else
	notes+=("single + handlers (CE): skipped: no $HANDLERS_DIR/callstate.so (build the handler modules)")
	replay_note="replay: skipped (no handler modules)"
fi

printf '%-22s %-10s %12s %12s %8s %8s %7s\n' scenario server requests/s events/s "p50 ms" "p99 ms" ratio
for r in "${rows[@]}"; do
	echo "$r"
done
echo
for n in "${notes[@]}"; do
	echo "$n"
done
echo

met() { # awk condition
	if awk "BEGIN{exit !($1)}"; then echo met; else echo "NOT met"; fi
}
echo "single-event ratio $single_ratio (target >= 0.5): $(met "$single_ratio >= 0.5")"
p99_ms=$(awk -v v="$single_p99" 'BEGIN{printf "%.1f", v / 1000}')
echo "p99 $p99_ms ms (single event; target < 5 ms): $(met "$single_p99 < 5000")"
if [ -n "$handlers_ratio" ]; then
	echo "single-event ratio with handlers $handlers_ratio (target >= 0.4): $(met "$handlers_ratio >= 0.4")"
else
	echo "single-event ratio with handlers: not measured (no handler modules)"
fi
echo "$replay_note"
echo "durability: all $total_acked acknowledged events journaled: $all_durable"
