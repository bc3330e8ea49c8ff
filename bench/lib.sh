# shellcheck shell=bash disable=SC2034 # R is read by the scripts sourcing this
# bench/lib.sh - shell helpers shared by bench/run.sh, hardening.sh and calls.sh.
# Sourced, not run.

die() {
	echo "bench: $*" >&2
	exit 2
}

# The binaries, from the environment or next to this checkout's build/:
# sets top, CALLHOOKD, build_dir and HANDLERS_DIR (here: the bench folder).
bench_paths() {
	top=$(dirname "$here")
	CALLHOOKD=${CALLHOOKD:-$top/build/src/callhookd}
	build_dir=$(cd "$(dirname "$CALLHOOKD")/.." 2>/dev/null && pwd || echo "$top/build")
	HANDLERS_DIR=${HANDLERS_DIR:-$build_dir/handlers}
}

# A new directory for journals and logs, under BENCH_DIR when set; prints it.
bench_tmpdir() { # name
	if [ -n "${BENCH_DIR:-}" ]; then
		mkdir -p "$BENCH_DIR"
		mktemp -d "$BENCH_DIR/$1.XXXXXX"
	else
		mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX"
	fi
}

# Stop the processes this script started: SIGTERM, then wait for each
# (callhookd drains what is in flight).  Empty arguments are skipped.
stop_pids() { # pid...
	local p
	for p in "$@"; do
		[ -n "$p" ] || continue
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# At exit: keep the run's directory when KEEP=1, saying where, else remove it.
keep_or_remove() { # dir
	if [ "${KEEP:-0}" = 1 ]; then
		echo "bench: journals and logs kept in $1"
	else
		rm -rf "$1"
	fi
}

# Wait for "listening on 127.0.0.1:PORT" in a server's log; print PORT.
wait_port() { # log pid
	local log=$1 pid=$2 port
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
		if [ -n "$port" ]; then
			echo "$port"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench: server did not start; its output:" >&2
	cat "$log" >&2
	return 1
}

# Is an awk condition true?  Prints yes or no.
holds() { # awk condition
	if awk "BEGIN{exit !($1)}"; then echo yes; else echo no; fi
}

# POST with wrk and bench/post.lua for DURATION over CONNECTIONS connections
# and THREADS threads (the caller's settings); leave the fields of post.lua's
# BENCH line in the global associative array R.
declare -A R
wrk_post() { # base-url format events nonce out
	local url=$1 format=$2 events=$3 nonce=$4 out=$5 line kv
	# shellcheck disable=SC2154 # THREADS, CONNECTIONS, DURATION, here: the caller's
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$here/post.lua" \
		"$url/events" -- "$format" "$events" "$nonce" >"$out" 2>&1 || {
		echo "bench: wrk failed:" >&2
		cat "$out" >&2
		return 1
	}
	line=$(sed -n 's/^BENCH //p' "$out")
	[ -n "$line" ] || {
		echo "bench: no BENCH line from post.lua:" >&2
		cat "$out" >&2
		return 1
	}
	R=()
	for kv in $line; do
		R[${kv%%=*}]=${kv#*=}
	done
}
