#!/usr/bin/env bash
# bench/hardening.sh - the production-hardening figures: memory with many idle
# connections, HTTPS against plain HTTP, and intake while report readers run.
#
# Each figure is measured against a reference taken in the same run:
#   1. Peak RSS with 1,000 idle keep-alive connections (target < 64 MiB).
#      A Python client (standard library) opens CONNS connections to callhookd,
#      sends one valid single-event POST on each and reads the 200, so every
#      connection is a used HTTP/1.1 keep-alive connection; it leaves them idle
#      for 2 s, checks they are all still open, and reads VmHWM (peak) and
#      VmRSS from /proc/PID/status.  The reference is the same daemon's RSS
#      just after start-up, before any connection.  Measured three times:
#      intake only ([handlers] defaults = no), with the built-in handlers
#      loaded from HANDLERS_DIR, and intake only over HTTPS.  The daemons run
#      with [server] max_connections = 2 x CONNS (the default, 1024, leaves
#      no room) and max_connections_per_source = 0 (it applies to loopback
#      clients only with limit_loopback, but one client opens them all).
#   2. HTTPS throughput as a ratio of plain HTTP (no target in the issue).
#      Two intake-only daemons, one with tls_cert/tls_key (a self-signed P-256
#      certificate made for the run), one without; wrk -tTHREADS -cCONNECTIONS
#      single-event CloudEvents POSTs (bench/post.lua) against each in turn,
#      ROUNDS rounds, alternating so that drift on a shared machine hits both.
#      wrk keeps its connections open: this is steady-state TLS, CONNECTIONS
#      handshakes per run, not a handshake rate.
#   3. Throughput while sqlite3 readers run report queries (target >= 0.8 of
#      the throughput without readers).  One daemon with the built-in handlers
#      (so the report views have rows to read); a wrk run without readers,
#      then one with READERS background loops each running
#        sqlite3 -readonly JOURNAL "SELECT * FROM report_calls ORDER BY
#          started_at DESC LIMIT 50; SELECT * FROM report_daily;
#          SELECT COUNT(*) FROM events;"
#      then pausing READER_PAUSE, over and over, a new process each time, as
#      operators' dashboards refreshing every second would.  That run is the
#      one the target is about: readers must not block or slow intake through
#      the journal (locks, WAL snapshots held, checkpoints held back).  The
#      second run starts with the first run's history in the journal, so its
#      readers have real work from the start.  The queries the readers
#      completed and the CPU used by the daemon and by the readers are printed.
#      Two more runs, for diagnosis, have the readers run back to back with no
#      pause: on a small machine two busy readers take CPU from the daemon and
#      wrk (with 2 cores, the ratio then mostly measures CPU sharing), and at
#      nice 19, where they mostly cannot.
#      A last run without readers shows how much the figures drifted meanwhile
#      (the journal grows, the machine is shared).  The size of the -wal file
#      at the end of each run is printed: readers can keep the WAL from
#      restarting.
# After every callhookd run the daemon is stopped with SIGTERM and the journal
# counted: every event acknowledged with a 200 must be in it (the idle-client
# runs finish every request, so there the counts must be equal; after wrk the
# journal may hold up to CONNECTIONS more, written while wrk stopped reading).
#
# It is a benchmark, not a test: it exits 0 whatever the figures are (non-zero
# only when it cannot run), and prints whether each target was met.  It takes
# 2 x ROUNDS + 4 wrk runs of DURATION plus about 15 s: under a minute with
# DURATION=5s.  Loopback only.  1,000 connections need open files in both the
# daemon and the client: the script raises the soft `ulimit -n` to 4096 when it
# is lower, and says so when it cannot.
#
# Environment:
#   CALLHOOKD    daemon binary           (default: build/src/callhookd of this repo)
#   HANDLERS_DIR handler modules         (default: handlers/ next to CALLHOOKD's src/)
#   DURATION     length of each wrk run  (default 10s)
#   CONNECTIONS  wrk connections         (default 32)
#   THREADS      wrk threads             (default 2)
#   ROUNDS       HTTP/HTTPS rounds       (default 2)
#   CONNS        idle connections        (default 1000)
#   READERS      sqlite3 reader loops    (default 2)
#   READER_PAUSE pause between a reader's runs (default 1s; sleep(1) syntax)
#   BENCH_DIR    where the journals go   (default a new directory in ${TMPDIR:-/tmp});
#                it must be a real disk: on tmpfs fsync costs nothing
#   KEEP=1       keep the journals and logs instead of deleting them
#
# Needs: wrk (built with OpenSSL, as Debian's is), python3, openssl, sqlite3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_paths
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-1000}
READERS=${READERS:-2}
READER_PAUSE=${READER_PAUSE:-1}
KEEP=${KEEP:-0}


for tool in wrk python3 openssl sqlite3; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -x "$CALLHOOKD" ] || die "no daemon at $CALLHOOKD (build it: cd build && make src/callhookd, or set CALLHOOKD)"
for v in CONNECTIONS THREADS ROUNDS CONNS READERS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done

# Every idle connection is a descriptor in the daemon and one in the client.
fd_note="ulimit -n $(ulimit -n)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
	if ulimit -n 4096 2>/dev/null; then
		fd_note="ulimit -n raised to 4096"
	else
		ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
		fd_note="WARNING: cannot raise ulimit -n to 4096 (hard limit $(ulimit -Hn)); it is $(ulimit -n)"
	fi
fi

tmp=$(bench_tmpdir callhookd-hardening)
server_pid=
server2_pid=
reader_pids=()
cleanup() {
	: >"$tmp/stop-readers"
	stop_pids "${reader_pids[@]}" "$server_pid" "$server2_pid"
	keep_or_remove "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 >"$tmp/openssl.log" 2>&1 || {
	cat "$tmp/openssl.log" >&2
	die "cannot make a test certificate with openssl"
}

# Connection limits high enough for CONNS connections from one address.
limits="[server]
max_connections = $((CONNS * 2))
max_connections_per_source = 0
idle_timeout = 10m"
tls="tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem"
no_handlers="[handlers]
defaults = no"
printf '%s\n%s\n' "$limits" "$no_handlers" >"$tmp/intake.conf"
printf '%s\n' "$limits" >"$tmp/handlers.conf"
printf '%s\n%s\n%s\n' "$limits" "$tls" "$no_handlers" >"$tmp/intake-tls.conf"
printf '%s\n' "$no_handlers" >"$tmp/plain.conf"
printf '[server]\n%s\n%s\n' "$tls" "$no_handlers" >"$tmp/tls.conf"

have_handlers=yes
[ -f "$HANDLERS_DIR/callstate.so" ] || have_handlers=no

# The idle-connection client: connect CONNS times, one POST on each, read every
# answer, leave them idle, check they are still open, read the daemon's memory.
cat >"$tmp/idle_client.py" <<'EOF'
import http.client, json, os, ssl, sys, time

port, n, nonce, pid, idle = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
cafile = sys.argv[6] if len(sys.argv) > 6 else ""
ctx = ssl.create_default_context(cafile=cafile) if cafile else None

def body(i):
    call = "%s-call-%d" % (nonce, i // 4)
    return json.dumps([{
        "id": "%s-idle-%d" % (nonce, i), "source": "calling/callConnections/" + call,
        "type": "Microsoft.Communication.CallConnected", "specversion": "1.0",
        "datacontenttype": "application/json", "time": "2025-06-16T20:52:32.9896642+00:00",
        "subject": "calling/callConnections/" + call,
        "data": {"callConnectionId": call, "serverCallId": "bench-server-call", "correlationId": call,
                 "version": "2025-06-15", "publicEventType": "Microsoft.Communication.CallConnected"}}])

conns, errors, first_error = [], 0, ""
def error(what, e):
    global errors, first_error
    errors += 1
    first_error = first_error or "%s: %s" % (what, e)

for i in range(n):
    try:
        c = (http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx) if ctx
             else http.client.HTTPConnection("127.0.0.1", port, timeout=30))
        c.connect()
        conns.append(c)
    except OSError as e:
        error("connect", e)
sent = []
for i, c in enumerate(conns):
    try:
        c.request("POST", "/events", body(i), {"Content-Type": "application/json"})
        sent.append(c)
    except OSError as e:
        error("send", e)
ok = accepted = kept = 0
for c in sent:
    try:
        r = c.getresponse()
        data = r.read()
        if r.status == 200:
            ok += 1
            accepted += json.loads(data)["accepted"]
        else:
            error("answer", "%d %s" % (r.status, data[:100]))
        kept += not r.will_close
    except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
        error("answer", e)

time.sleep(idle)
mem = {}
with open("/proc/%s/status" % pid) as f:
    for line in f:
        k, _, v = line.partition(":")
        if k in ("VmHWM", "VmRSS"):
            mem[k] = int(v.split()[0])
# Still open: a non-blocking read finds nothing to read, not end of file.
still_open = 0
for c in sent:
    try:
        c.sock.setblocking(False)
        if c.sock.recv(1):
            error("idle", "unexpected data")
    except (BlockingIOError, ssl.SSLWantReadError):
        still_open += 1
    except OSError as e:
        error("idle", e)
for c in conns:
    c.close()
print("IDLE opened=%d ok=%d accepted=%d keepalive=%d open=%d errors=%d hwm_kb=%d rss_kb=%d"
      % (len(conns), ok, accepted, kept, still_open, errors, mem.get("VmHWM", 0), mem.get("VmRSS", 0)))
if first_error:
    print("first error: " + first_error)
EOF

# --- helpers (as in run.sh) ----------------------------------------------------


# Start callhookd in the background: PID in the global started_pid.
start_daemon() { # log db args...
	local log=$1 db=$2
	shift 2
	"$CALLHOOKD" -f "$@" --listen 127.0.0.1:0 --db "$db" 2>"$log" &
	started_pid=$!
}

# Stop a daemon with SIGTERM and wait for it (callhookd drains what is in flight).
stop_daemon() { # pid
	local rc=0
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" || rc=$?
	return $rc
}

mem_kb() { # pid field -> kB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

mib() { # kB -> MiB
	awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'
}

ms() { # us -> ms
	awk -v v="$1" 'BEGIN{printf "%.2f", v / 1000}'
}


# Run wrk (lib.sh's wrk_post: its BENCH fields in R), and add the rate.
run_wrk() { # url nonce out
	local url=$1 nonce=$2 out=$3
	wrk_post "$url" cloudevents 1 "$nonce" "$out" || return 1
	R[rps]=$(awk -v n="${R[requests]}" -v us="${R[duration_us]}" 'BEGIN{printf "%.0f", n / (us / 1e6)}')
	if [ "${R[errors]}" != 0 ] || [ "${R[non2xx]}" != 0 ]; then
		notes+=("    wrk run ${out##*/}: ${R[errors]} socket errors/timeouts, ${R[non2xx]} non-200 answers (not counted as acknowledged)")
	fi
	if [ "${R[accepted]}" != "${R[ok]}" ] || [ "${R[duplicates]}" != 0 ]; then
		notes+=("    WARNING: the answers said accepted=${R[accepted]} duplicates=${R[duplicates]}, expected accepted=${R[ok]} duplicates=0")
	fi
}

# Every acknowledged event must be in the journal of a stopped daemon.
all_durable=yes
total_acked=0
notes=()
check_journal() { # label db log acked daemon_rc slack
	local label=$1 db=$2 log=$3 acked=$4 rc=$5 slack=$6 journaled durable=no extra=0
	journaled=$(sqlite3 "$db" 'select count(*) from events' 2>&1) || journaled="(sqlite3 failed: $journaled)"
	total_acked=$((total_acked + acked))
	if [[ $journaled =~ ^[0-9]+$ ]] && [ "$journaled" -ge "$acked" ]; then
		durable=yes
		extra=$((journaled - acked))
	fi
	[ "$durable" = yes ] || all_durable=no
	notes+=("$label: acknowledged $acked, journaled $journaled: all acknowledged journaled: $durable")
	if [ "$extra" -gt "$slack" ]; then
		notes+=("    WARNING: $extra more rows than acknowledged; at most $slack requests were in flight")
	elif [ "$extra" -gt 0 ]; then
		notes+=("    the $extra extra rows are requests in flight when wrk stopped: committed, but wrk had stopped reading")
	fi
	[ "$rc" = 0 ] || notes+=("    WARNING: callhookd exited with status $rc; see $log")
	if grep -qE 'level=(warn|error) ' "$log"; then
		notes+=("    callhookd logged warnings/errors: $(grep -cE 'level=(warn|error) ' "$log") lines, e.g. $(grep -m1 -E 'level=(warn|error) ' "$log")")
	fi
	[ "$KEEP" = 1 ] || rm -f "$db" "$db-wal" "$db-shm"
}

# --- 1. memory with CONNS idle keep-alive connections --------------------------

target_mib=64
rss_rows=()
rss_met=yes
idle_run() { # label config scheme [handlers]
	local label=$1 conf=$2 scheme=$3 with_handlers=${4:-} pid port out rc=0 line kv before_rss before_hwm
	local name=idle-$scheme${with_handlers:+-handlers}
	local db=$tmp/$name.db log=$tmp/$name.log
	local -a args=(-c "$conf")
	[ -z "$with_handlers" ] || args+=(--handlers-dir "$HANDLERS_DIR")
	local -a ca=()
	[ "$scheme" = http ] || ca=("$tmp/cert.pem")
	declare -A I=()

	start_daemon "$log" "$db" "${args[@]}"
	pid=$started_pid
	server_pid=$pid
	port=$(wait_port "$log" "$pid")
	sleep 0.5 # let the writer, checkpointer and handler threads settle
	before_rss=$(mem_kb "$pid" VmRSS)
	before_hwm=$(mem_kb "$pid" VmHWM)
	out=$tmp/$name.out
	python3 "$tmp/idle_client.py" "$port" "$CONNS" "idle-$(date +%s%N)" "$pid" 2 "${ca[@]}" >"$out" 2>&1 || {
		echo "bench: the idle-connection client failed:" >&2
		cat "$out" >&2
		return 1
	}
	server_pid=
	stop_daemon "$pid" || rc=$?
	line=$(sed -n 's/^IDLE //p' "$out")
	for kv in $line; do
		I[${kv%%=*}]=${kv#*=}
	done
	local met
	met=$(holds "${I[hwm_kb]} < $target_mib * 1024")
	[ "$met" = yes ] || rss_met=no
	rss_rows+=("$(printf '%-26s %9s %9s %9s %9s %9s %6s' "$label" \
		"$(mib "$before_rss")" "$(mib "$before_hwm")" "$(mib "${I[rss_kb]}")" "$(mib "${I[hwm_kb]}")" \
		"$(awk -v a="${I[rss_kb]}" -v b="$before_rss" -v n="$CONNS" 'BEGIN{printf "%.1f", (a - b) / n}')" "$met")")
	rss_rows+=("    $CONNS connections: ${I[opened]} opened, ${I[ok]} answered 200, ${I[keepalive]} kept alive, ${I[open]} still open after 2 s idle, ${I[errors]} errors")
	if [ "${I[errors]}" != 0 ] || [ "${I[open]}" != "$CONNS" ]; then
		rss_rows+=("    WARNING: not every connection was used and idle: $(sed -n 's/^first error: //p' "$out")")
	fi
	check_journal "idle $label" "$db" "$log" "${I[accepted]}" "$rc" 0
}

fs=$(stat -f -c %T "$tmp")
echo "callhookd hardening figures: $(nproc) CPUs, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, journal in $tmp ($fs)"
echo "daemon: $CALLHOOKD"
echo "handlers: $HANDLERS_DIR$([ "$have_handlers" = yes ] || echo " (no callstate.so there: the handler figures are skipped)")"
echo "$fd_note"
case $fs in
tmpfs | ramfs) echo "WARNING: the journal is on $fs, where fsync costs nothing: set BENCH_DIR to a disk" ;;
esac
echo

echo "1. Memory with $CONNS idle keep-alive connections, each used for one POST (target: peak < $target_mib MiB)"
idle_run "intake only" "$tmp/intake.conf" http
if [ "$have_handlers" = yes ]; then
	idle_run "default handlers" "$tmp/handlers.conf" http handlers
fi
idle_run "intake only, HTTPS" "$tmp/intake-tls.conf" https
printf '%-26s %9s %9s %9s %9s %9s %6s\n' "" "idle RSS" "idle HWM" "VmRSS" "VmHWM" "KiB/conn" "< $target_mib"
printf '%-26s %9s %9s %9s %9s %9s %6s\n' daemon MiB MiB MiB MiB "" MiB
for r in "${rss_rows[@]}"; do
	echo "$r"
done
echo "peak RSS with $CONNS idle connections under $target_mib MiB in every configuration: target met: $rss_met"
echo

# --- 2. HTTPS throughput against plain HTTP -------------------------------------

echo "2. HTTPS throughput as a ratio of plain HTTP (single-event POSTs, intake only, $ROUNDS rounds alternating)"
start_daemon "$tmp/plain.log" "$tmp/plain.db" -c "$tmp/plain.conf"
server_pid=$started_pid
plain_port=$(wait_port "$tmp/plain.log" "$server_pid")
start_daemon "$tmp/tls.log" "$tmp/tls.db" -c "$tmp/tls.conf"
server2_pid=$started_pid
tls_port=$(wait_port "$tmp/tls.log" "$server2_pid")
printf '%-7s %-7s %12s %8s %8s\n' round scheme requests/s "p50 ms" "p99 ms"
plain_sum=0 tls_sum=0 plain_acked=0 tls_acked=0
for round in $(seq 1 "$ROUNDS"); do
	nonce=$(date +%s%N)-$$
	run_wrk "http://127.0.0.1:$plain_port" "http-$nonce" "$tmp/wrk-http-$round.out"
	printf '%-7s %-7s %12s %8s %8s\n' "$round" http "${R[rps]}" "$(ms "${R[p50_us]}")" "$(ms "${R[p99_us]}")"
	plain_sum=$((plain_sum + R[rps]))
	plain_acked=$((plain_acked + R[accepted]))
	run_wrk "https://127.0.0.1:$tls_port" "https-$nonce" "$tmp/wrk-https-$round.out"
	printf '%-7s %-7s %12s %8s %8s\n' "$round" https "${R[rps]}" "$(ms "${R[p50_us]}")" "$(ms "${R[p99_us]}")"
	tls_sum=$((tls_sum + R[rps]))
	tls_acked=$((tls_acked + R[accepted]))
done
rc=0
stop_daemon "$server_pid" || rc=$?
server_pid=
check_journal "http daemon" "$tmp/plain.db" "$tmp/plain.log" "$plain_acked" "$rc" $((CONNECTIONS * ROUNDS))
rc=0
stop_daemon "$server2_pid" || rc=$?
server2_pid=
check_journal "https daemon" "$tmp/tls.db" "$tmp/tls.log" "$tls_acked" "$rc" $((CONNECTIONS * ROUNDS))
plain_mean=$((plain_sum / ROUNDS))
tls_mean=$((tls_sum / ROUNDS))
echo "mean: http $plain_mean requests/s, https $tls_mean requests/s: ratio https/http" \
	"$(awk -v a="$tls_mean" -v b="$plain_mean" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}') (no target)"
echo

# --- 3. throughput while sqlite3 readers run report queries -----------------------

query="SELECT * FROM report_calls ORDER BY started_at DESC LIMIT 50; SELECT * FROM report_daily; SELECT COUNT(*) FROM events;"

# CPU ticks (user + system, all threads) of a process: /proc/PID/stat fields
# 14 and 15.  The command name is in parentheses and may contain spaces.
proc_ticks() { # pid
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	s=${s##*) }
	awk '{print $12 + $13}' <<<"$s"
}

pct() { # ticks us -> % of one core
	awk -v t="$1" -v us="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f%%", (us > 0 ? 100 * t / hz / (us / 1e6) : 0)}'
}

# One reader: run the report queries in a new sqlite3 process, pause, again,
# until told to stop; one line per run, "ok" or "failed", so the runs can be
# counted; at the end the CPU it and its sqlite3 processes used, from the
# shell's `times`.
reader() { # db n niceness pause
	local db=$1 n=$2
	[ "$3" = 0 ] || renice -n "$3" -p "$BASHPID" >/dev/null
	while [ ! -e "$tmp/stop-readers" ]; do
		if sqlite3 -readonly -cmd '.timeout 5000' "$db" "$query" >/dev/null 2>>"$tmp/reader-$n.err"; then
			echo ok
		else
			echo failed
		fi
		[ "$4" = 0 ] || sleep "$4"
	done >"$tmp/reader-$n.count"
	times >"$tmp/reader-$n.times"
}

# A wrk run with READERS readers at a niceness (or none: READERS 0); leaves
# the row to print in the global row, and the figures in rps, ok_runs, failed_runs.
readers_run() { # label port nonce niceness nreaders pause
	local label=$1 port=$2 nonce=$3 niceness=$4 nreaders=$5 pause=${6:-0} before after p n rcpu=- runs=- daemon_cpu
	local -a pids=()
	rm -f "$tmp/stop-readers" "$tmp"/reader-*
	for n in $(seq 1 "$nreaders"); do
		reader "$db" "$n" "$niceness" "$pause" &
		pids+=($!)
	done
	reader_pids=("${pids[@]}")
	before=$(proc_ticks "$server_pid")
	run_wrk "http://127.0.0.1:$port" "$nonce" "$tmp/wrk-$nonce.out"
	after=$(proc_ticks "$server_pid")
	: >"$tmp/stop-readers"
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
	reader_pids=()
	daemon_cpu=$(pct $((after - before)) "${R[duration_us]}")
	acked=$((acked + R[accepted]))
	wrk_runs=$((wrk_runs + 1)) # each may leave CONNECTIONS requests in flight
	rps=${R[rps]} ok_runs=0 failed_runs=0
	if [ "$nreaders" -gt 0 ]; then
		ok_runs=$(cat "$tmp"/reader-*.count | grep -c '^ok$' || true)
		failed_runs=$(cat "$tmp"/reader-*.count | grep -c '^failed$' || true)
		# `times` prints "XmY.YYYs XmY.YYYs" for the shell, then for its children.
		rcpu=$(cat "$tmp"/reader-*.times | awk -v us="${R[duration_us]}" '{
			for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); sum += t[1] * 60 + t[2] } }
			END { printf "%.0f%%", 100 * sum / (us / 1e6) }')
		runs="$ok_runs ($failed_runs failed)"
		[ "$failed_runs" = 0 ] || notes+=("    $label: a reader failed: $(cat "$tmp"/reader-*.err | head -n 1)")
	fi
	wal=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
	row=$(printf '%-28s %10s %7s %7s %9s %9s %16s' "$label" "$rps" "$(ms "${R[p99_us]}")" \
		"$(mib $((wal / 1024)))" "$daemon_cpu" "$rcpu" "$runs")
}

echo "3. Throughput while $READERS sqlite3 readers run report queries in a loop, every $READER_PAUSE (target: >= 0.8 of without)"
readers_ratio=
if [ "$have_handlers" = no ]; then
	echo "skipped: no $HANDLERS_DIR/callstate.so (build the handler modules)"
else
	db=$tmp/readers.db
	acked=0 wrk_runs=0
	start_daemon "$tmp/readers.log" "$db" --handlers-dir "$HANDLERS_DIR"
	server_pid=$started_pid
	port=$(wait_port "$tmp/readers.log" "$server_pid")
	nonce=$(date +%s%N)-$$
	printf '%-28s %10s %7s %7s %9s %9s %16s\n' "" requests/s "p99 ms" "WAL" "daemon" "readers" "report runs"
	printf '%-28s %10s %7s %7s %9s %9s %16s\n' "" "" "" "MiB" "CPU" "CPU" "(3 queries each)"
	readers_run "without readers" "$port" "noreaders-$nonce" 0 0
	echo "$row"
	base_rps=$rps
	readers_run "with $READERS readers" "$port" "readers-$nonce" 0 "$READERS" "$READER_PAUSE"
	echo "$row"
	read_rps=$rps read_runs=$ok_runs
	readers_run "with $READERS busy readers" "$port" "busy-readers-$nonce" 0 "$READERS" 0
	echo "$row"
	busy_rps=$rps
	readers_run "with $READERS busy at nice 19" "$port" "nice-readers-$nonce" 19 "$READERS" 0
	echo "$row"
	nice_rps=$rps
	readers_run "without readers, again" "$port" "again-$nonce" 0 0
	echo "$row"
	again_rps=$rps
	rc=0
	stop_daemon "$server_pid" || rc=$?
	server_pid=
	check_journal "readers daemon" "$db" "$tmp/readers.log" "$acked" "$rc" $((CONNECTIONS * wrk_runs))
	readers_ratio=$(awk -v a="$read_rps" -v b="$base_rps" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
	echo "(WAL: size of the journal's -wal file when the run ended; CPU: as a share of one core, $(nproc) CPUs shared with wrk's $THREADS threads)"
	echo "readers completed $((read_runs * 3)) report queries while wrk ran ($read_runs runs)"
	echo "ratio with/without readers $readers_ratio (target >= 0.8): target met: $(holds "$readers_ratio >= 0.8")"
	echo "drift check: the run without readers after them made $(awk -v a="$again_rps" -v b="$base_rps" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}') x the first;" \
		"with readers against the mean of both runs without: $(awk -v a="$read_rps" -v b="$base_rps" -v c="$again_rps" 'BEGIN{printf "%.2f", (b + c > 0 ? 2 * a / (b + c) : 0)}')"
	echo "for diagnosis: ratio with busy readers (no pause) $(awk -v a="$busy_rps" -v b="$base_rps" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')" \
		"(they take CPU from the daemon and wrk: $(nproc) CPUs), at nice 19 $(awk -v a="$nice_rps" -v b="$base_rps" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')" \
		"(they get mostly the CPU time the daemon and wrk leave)"
fi
echo

for n in "${notes[@]}"; do
	echo "$n"
done
echo "durability: all $total_acked acknowledged events journaled: $all_durable"
