"""The plugin host in the real daemon: handler failures, retries, dead
deliveries, a handler that crashes the process, and start-up errors.

A test module (tests/handlers/th_probe.c) plays the misbehaving handler:
it records every event it handled in th_seen and can be told to ask for
retries, fail a type for good or abort() the process on a type.
"""

import json
import os
import signal
import time

import chtest
from chtest import Daemon, expect, fixture, run_once

PROBE = os.path.join(os.environ.get("TEST_HANDLERS_DIR", "tests/handlers/.libs"), "th_probe.so")
DTMF = "Microsoft.Communication.DtmfReceived"


def probe_config(**options):
    lines = ["[handlers]", "defaults = no", "max_attempts = 3", "retry_base = 50ms",
             "retry_max = 200ms", "[handler probe]", "module = " + PROBE]
    lines += ["%s = %s" % kv for kv in options.items()]
    return "\n".join(lines) + "\n"


def wait_for(d, sql, want, timeout=10):
    """Poll a query on the journal until it returns want (bounded)."""
    deadline = time.monotonic() + timeout * chtest.SLOW
    got = None
    while time.monotonic() < deadline:
        try:
            got = d.query(sql)[0]["v"]
        except Exception:  # the table may not exist yet
            got = None
        if got == want:
            return got
        time.sleep(0.05)
    raise AssertionError("%s: got %r, wanted %r\n%s" % (sql, got, want, d.log_text()))


def post_fixture(d, name):
    status, _, body = d.post(fixture("seed/" + name))
    expect(status == 200, (status, body))


def test_handlers_progress_under_sustained_intake_and_catch_up():
    """Intake goes first under load (dispatch.c, rest()), but the handlers
    still get their share while it lasts, and catch up once it stops."""
    import http.client
    import threading
    body = fixture("seed/calllegstate-established.json").rstrip()
    with Daemon(config=probe_config()) as d:
        stop = threading.Event()
        sent = [0] * 4

        def poster(n):
            conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10 * chtest.SLOW)
            i = 0
            while not stop.is_set():
                i += 1
                # a distinct event each time: the preview format dedupes on the bytes
                ev = body[:-1] + (b',"x":"%d-%d"}' % (n, i))
                conn.request("POST", "/events", ev, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    sent[n] += 1
            conn.close()

        threads = [threading.Thread(target=poster, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0 * chtest.SLOW)
            first = d.query("SELECT COUNT(*) AS n FROM th_seen")[0]["n"]
            time.sleep(1.5 * chtest.SLOW)
            second = d.query("SELECT COUNT(*) AS n FROM th_seen")[0]["n"]
        finally:
            stop.set()
            for t in threads:
                t.join(30 * chtest.SLOW)
        expect(second > first, "the handler made progress under load: %d then %d" % (first, second))
        total = sum(sent)
        expect(total > second, "intake kept going: %d acknowledged, %d handled" % (total, second))
        wait_for(d, "SELECT COUNT(*) AS v FROM th_seen", total, timeout=60)


def test_retried_handler_recovers():
    with Daemon(config=probe_config(retries=2)) as d:
        post_fixture(d, "calllegstate-established.json")
        wait_for(d, "SELECT state || ':' || attempts AS v FROM deliveries", "done:3")
        expect(d.query("SELECT COUNT(*) AS n FROM th_seen")[0]["n"] == 1, "row written once")


def test_failing_handler_goes_dead_and_intake_goes_on():
    with Daemon(config=probe_config(fail_type=DTMF)) as d:
        post_fixture(d, "dtmfreceived.json")
        post_fixture(d, "calllegstate-established.json")
        wait_for(d, "SELECT COUNT(*) AS v FROM deliveries WHERE state = 'done'", 1)
        rows = d.query("SELECT d.attempts, d.last_error, e.event_type FROM deliveries d "
                       "JOIN events e ON e.id = d.event_id WHERE d.state = 'dead'")
        expect(len(rows) == 1 and rows[0]["event_type"] == DTMF, rows)
        expect(rows[0]["attempts"] == 1 and "fail_type" in rows[0]["last_error"], rows)
        status, _, _ = d.request("GET", "/readyz")
        expect(status == 200, "still ready")


def test_crashing_handler_is_quarantined_without_a_crash_loop():
    d = Daemon(config=probe_config(crash_type=DTMF))
    try:
        d.start()
        post_fixture(d, "calllegstate-established.json")
        wait_for(d, "SELECT COUNT(*) AS v FROM deliveries WHERE state = 'done'", 1)
        # The event is journaled before any handler sees it; the handler then
        # kills the daemon (the answer may or may not get out first).
        try:
            d.post(fixture("seed/dtmfreceived.json"))
        except Exception:
            pass
        crashes = 0
        for _ in range(8):  # restarts, bounded
            deadline = time.monotonic() + 10 * chtest.SLOW
            while d.alive() and time.monotonic() < deadline:
                if d.query("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'dead'")[0]["n"]:
                    break
                time.sleep(0.05)
            if d.alive():
                break
            expect(d.proc.returncode == -6, "died of SIGABRT, not %s" % d.proc.returncode)
            crashes += 1
            try:
                d.start()
            except AssertionError:
                # the handler may run (and abort) before the daemon logs
                # that it listens; the loop above sees it dead
                pass
        expect(d.alive(), "the daemon keeps running once the event is quarantined")
        expect(crashes == 3, "crashed %d times, wanted max_attempts = 3" % crashes)
        dead = d.query("SELECT event_id, attempts, last_error FROM deliveries "
                       "WHERE state = 'dead'")
        expect(len(dead) == 1 and "quarantined" in dead[0]["last_error"], dead)
        # everything else proceeds
        post_fixture(d, "calllegstate-terminated.json")
        wait_for(d, "SELECT COUNT(*) AS v FROM deliveries WHERE state = 'done'", 2)
        expect(d.count() == 3, "every event journaled exactly once")
        d.finish()
    finally:
        d.cleanup()


def test_sighup_reopens_the_jsonl_file():
    d = Daemon()
    out = os.path.join(d.dir, "events.jsonl")
    d.config = "[handlers]\ndefaults = no\n[handler jsonl]\npath = %s\n" % out
    with d:
        post_fixture(d, "calllegstate-established.json")
        first = chtest.wait_lines(out, 1)
        expect(json.loads(first[0])["data"]["CallState"] == "Established", first)
        os.rename(out, out + ".1")  # what logrotate does
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3 * chtest.SLOW)
        post_fixture(d, "calllegstate-terminated.json")
        second = chtest.wait_lines(out, 1)
        expect(json.loads(second[0])["data"]["CallState"] == "Terminated", second)
        expect(len(chtest.wait_lines(out + ".1", 1)) == 1, "the rotated file keeps its line")
        expect(d.alive(), "SIGHUP does not stop the daemon")


def one_line(proc, code, *words):
    expect(proc.returncode == code, "exit %s, wanted %s: %r" % (proc.returncode, code, proc))
    lines = proc.stderr.strip().splitlines()
    expect(lines and all(w in lines[-1] for w in words), proc.stderr)


def test_module_errors_stop_start_up():
    missing = "[handlers]\ndefaults = no\n[handler nope]\nmodule = /nonexistent/nope.so\n"
    proc = run_once(config=missing)
    one_line(proc, 1, 'handler "nope"', "/nonexistent/nope.so", "no such module file")
    proc = run_once(config=missing, args=["-t"])
    one_line(proc, 2, 'handler "nope"', "no such module file")
    proc = run_once(config=probe_config(colour="blue"), args=["-t"])
    one_line(proc, 2, 'handler "probe"', 'unknown option "colour"')
    proc = run_once(config=probe_config(init_fail="yes"))
    one_line(proc, 1, 'handler "probe"', "init failed", "told to fail")
    proc = run_once(config="[handlers]\nmax_attempts = 0\n", args=["-t"])
    one_line(proc, 2, "max_attempts")
    proc = run_once(config="[handler bad name]\n", args=["-t"])
    one_line(proc, 2, "a handler name is")


if __name__ == "__main__":
    chtest.run(globals())
