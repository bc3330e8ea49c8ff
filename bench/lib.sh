# bench/lib.sh - shell helpers shared by bench/run.sh and bench/hardening.sh.
# Sourced, not run.

die() {
	echo "bench: $*" >&2
	exit 2
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
