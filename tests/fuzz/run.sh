#!/usr/bin/env bash
# run.sh [SECONDS] - run every built libFuzzer harness for SECONDS (default 30) each.
#
# Run it from a build directory configured with --enable-fuzzing CC=clang after
# `make tests/fuzz/fuzz_envelope tests/fuzz/fuzz_config` (or set FUZZ_BUILDDIR);
# it builds nothing.  For each target it first replays the inputs that once
# broke it (tests/fuzz/regressions/TARGET/), then fuzzes a temporary copy of
# its seeds:
#   fuzz_envelope  every tests/fixtures/**/*.json, behind selector bytes that
#                  pick the content type / binary mode (see fuzz_envelope.c)
#   fuzz_config    etc/callhookd.conf and tests/fuzz/corpus/config/*
# Exits non-zero if anything crashed, leaked, timed out or ran out of memory,
# and prints the path of the input that did it (kept in
# BUILD/tests/fuzz/artifacts/; replay it with: BUILD/tests/fuzz/TARGET FILE).
set -euo pipefail

secs=${1:-30}
case $secs in '' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${FUZZ_BUILDDIR:-.}" && pwd)
bin=$build/tests/fuzz
artifacts=$bin/artifacts
work=$(mktemp -d "${TMPDIR:-/tmp}/callhookd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

seed_envelope() { # dir
	local f n=0 sel
	while IFS= read -r -d '' f; do
		n=$((n + 1))
		# \000 application/json, \001 cloudevents+json, \003 no Content-Type,
		# \004 binary mode with the fixture as data, \203 no type + tight limits
		for sel in 000 001 003 004 203; do
			{
				printf '%b' "\\$sel"
				cat "$f"
			} >"$1/$n-$sel-$(basename "$f")"
		done
	done < <(find "$src/tests/fixtures" -name '*.json' -print0)
	printf '\005ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t.x\nce-time: 2025-01-01T00:00:00Z\ncontent-type: text/plain; charset=utf-8\n\nhello' \
		>"$1/binary-headers-text"
	printf '\005CE-SPECVERSION: 1.0\nce-id: "%%22a%%22"\nce-source: %%2Fs\nce-type: t\nce-x1: %%FF%%\n\n{"a":[1,2,{"b":null}]}' \
		>"$1/binary-headers-json"
}

seed_config() { # dir
	cp "$src/etc/callhookd.conf" "$1/"
	cp "$src"/tests/fuzz/corpus/config/* "$1/"
}

failed=0

report() { # target log
	local path
	path=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$2" | tail -n 1)
	grep -E 'ERROR: |runtime error|invariant failed|Timeout|out-of-memory|^SUMMARY' "$2" | head -n 20 >&2 || :
	echo "run.sh: $1 FAILED; reproducer: ${path:-(none written, see $2)}" >&2
	if [ -n "$path" ]; then
		echo "run.sh: replay with: $bin/$1 $path" >&2
	fi
	failed=1
}

run_target() { # target
	local t=$1 corpus=$work/$1 log=$artifacts/$1.log regress
	if [ ! -x "$bin/$t" ]; then
		echo "run.sh: $bin/$t is not built (configure --enable-fuzzing CC=clang; make $t)" >&2
		failed=1
		return
	fi
	regress=$src/tests/fuzz/regressions/${t#fuzz_}
	if compgen -G "$regress/*" >/dev/null; then
		echo "== $t: replaying $(find "$regress" -type f ! -name '*.md' | wc -l) regression input(s)"
		# shellcheck disable=SC2046 # one argument per file
		if ! "$bin/$t" $(find "$regress" -type f ! -name '*.md' | sort) >"$log" 2>&1; then
			echo "run.sh: $t crashes on a regression input again:" >&2
			grep -E 'Running: |ERROR: |invariant failed|runtime error' "$log" | tail -n 5 >&2 || :
			failed=1
			return
		fi
	fi
	mkdir -p "$corpus"
	case $t in
	fuzz_envelope) seed_envelope "$corpus" ;;
	fuzz_config) seed_config "$corpus" ;;
	esac
	echo "== $t: $(find "$corpus" -type f | wc -l) seeds, ${secs}s"
	local dict=()
	[ -f "$src/tests/fuzz/${t#fuzz_}.dict" ] && dict=("-dict=$src/tests/fuzz/${t#fuzz_}.dict")
	if "$bin/$t" "${dict[@]}" -max_total_time="$secs" -max_len=65536 -timeout=10 \
		-artifact_prefix="$artifacts/$t-" -print_final_stats=1 "$corpus" >"$log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" |
			sed "s/^/   /" || :
		echo "   corpus grew to $(find "$corpus" -type f | wc -l) inputs; no crash"
	else
		report "$t" "$log"
	fi
}

for t in fuzz_envelope fuzz_config; do
	run_target "$t"
done
exit $failed
