"""Handler actions in the real daemon: the outbox, the sender, signing.

tests/handlers/th_probe.c queues actions (its action option) for each event
it handles; a stub of the Call Automation REST API, written here with the
standard library, checks every request's HMAC-SHA256 signature on its own
(hmac, hashlib, base64: not the daemon's code) and records it.  The stub
can be told to answer with given statuses, or be down.
"""

import base64
import http.server
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import chtest
from chtest import Daemon, expect, fixture, run_once

PROBE = os.path.join(os.environ.get("TEST_HANDLERS_DIR", "tests/handlers/.libs"), "th_probe.so")
CALLHOOKCTL = os.environ.get(
    "CALLHOOKCTL", os.path.join(os.path.dirname(os.path.abspath(chtest.CALLHOOKD)), "callhookctl"))
KEY = base64.b64encode(b"a test access key for callhookd's actions!").decode()
CALL = "531f3600-481f-41c8-8a75-3e8b2e8e6200"
API = "?api-version=2021-06-15-preview"
SIGNED = "x-ms-date;host;x-ms-content-sha256"


# --- the stub REST API ------------------------------------------------------
class Stub:
    """A loopback HTTP server that verifies and records signed requests.
    statuses: answers to give, in order, before answering 202 to the rest; an
    answer is a status, or (status, Retry-After value)."""

    def __init__(self, port=0, statuses=(), key=KEY):
        self.requests = []
        self.statuses = list(statuses)
        self.key = key
        self.lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n else b""
                problem = stub.verify(self.command, self.path, self.headers, body)
                with stub.lock:
                    stub.requests.append({"method": self.command, "path": self.path,
                                          "body": body, "problem": problem,
                                          "content_type": self.headers.get("Content-Type"),
                                          "at": time.monotonic()})
                    status = 401 if problem else (stub.statuses.pop(0) if stub.statuses
                                                  else 202)
                status, retry_after = status if isinstance(status, tuple) else (status, None)
                out = json.dumps({"code": "Stub%d" % status,
                                  "message": problem or "stub answer"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(out)
                self.close_connection = True

            do_POST = do_DELETE = do_PUT = answer

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verify(self, method, path, headers, body):
        """None when the request is signed right, else what is wrong."""
        return chtest.acs_check(self.key, method, path, headers, body)

    def got(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- helpers ------------------------------------------------------------------
def config(port, actions=True, max_attempts=5, **probe):
    lines = ["[handlers]", "defaults = no", "max_attempts = 3", "retry_base = 50ms",
             "retry_max = 200ms", "[handler probe]", "module = " + PROBE]
    lines += ["%s = %s" % kv for kv in probe.items()]
    if actions:
        lines += ["[actions]",
                  "connection_string = endpoint=http://127.0.0.1:%d/;accesskey=%s" % (port, KEY),
                  "timeout = 2s", "max_attempts = %d" % max_attempts]
    return "\n".join(lines) + "\n"


def wait_for(what, fn, timeout=15):
    """Poll fn until it returns something true (bounded); return it."""
    deadline = time.monotonic() + timeout * chtest.SLOW
    got = None
    while time.monotonic() < deadline:
        try:
            got = fn()
        except Exception as e:  # the table may not exist yet, the db may be busy
            got = e
        if got and not isinstance(got, Exception):
            return got
        time.sleep(0.05)
    raise AssertionError("%s: last got %r" % (what, got))


def actions(d):
    return d.query("SELECT * FROM actions ORDER BY id")


def all_settled(d, n):
    rows = actions(d)
    return rows if len(rows) == n and all(r["state"] != "pending" for r in rows) else None


def post(d, name="calllegstate-established.json"):
    status, _, body = d.post(fixture("seed/" + name))
    expect(status == 200, (status, body))


def metric(d, kind, outcome):
    _, _, body = d.request("GET", "/metrics")
    m = re.search(r'^callhookd_actions_total\{kind="%s",outcome="%s"\} (\d+)$' % (kind, outcome),
                  body.decode(), re.M)
    expect(m, "no callhookd_actions_total sample for %s/%s" % (kind, outcome))
    return int(m.group(1))


def quiet_for(seconds):
    time.sleep(seconds * chtest.SLOW)


# --- tests --------------------------------------------------------------------
def test_each_action_signed_and_sent_once():
    stub = Stub()
    try:
        with Daemon(config=config(stub.port, action="all")) as d:
            post(d)
            rows = wait_for("five actions sent", lambda: all_settled(d, 5))
            expect([r["state"] for r in rows] == ["sent"] * 5, rows)
            expect([r["http_status"] for r in rows] == [202] * 5, rows)
            expect([r["attempts"] for r in rows] == [1] * 5, rows)
            expect(all(r["sent_at"] and r["last_error"] is None for r in rows), rows)
            got = stub.got()
            expect(len(got) == 5, got)
            expect([g["problem"] for g in got] == [None] * 5, got)
            expect(all(g["content_type"] == "application/json" for g in got), got)
            base = "/calling/calls/" + CALL
            expect([(g["method"], g["path"]) for g in got] == [
                ("POST", base + "/PlayAudio" + API),
                ("POST", base + "/CancelMediaProcessing" + API),
                ("POST", base + "/participants" + API),
                ("DELETE", base + "/participants/8:acs:probe-user" + API),
                ("POST", base + "/Hangup" + API)], got)
            bodies = [json.loads(g["body"]) if g["body"] else None for g in got]
            expect(bodies[0] == {"audioFileUri": "https://example.test/prompt.wav",
                                 "loop": False, "operationContext": "probe-1"}, bodies[0])
            expect(bodies[1] == {"operationContext": "probe-1"}, bodies[1])
            expect(bodies[2] == {"participants": [{"communicationUser":
                                                   {"id": "8:acs:probe-user"}}],
                                 "operationContext": "probe-1"}, bodies[2])
            expect(bodies[3] is None and bodies[4] is None, bodies)
            for kind in ("play_audio", "cancel_media", "invite", "remove_participant", "hangup"):
                expect(metric(d, kind, "sent") == 1, kind)
                expect(metric(d, kind, "failed") == 0, kind)
            expect(re.search(r'msg="action: sent" id=5 handler=probe event=1 kind=hangup '
                             r'call=%s attempt=1 status=202' % CALL, d.log_text()), d.log_text())
            expect(KEY not in d.log_text(), "the key was logged")
            # a second event: its own five, nothing again for the first
            post(d, "calllegstate-terminated.json")
            wait_for("ten actions sent", lambda: all_settled(d, 10))
            expect(len(stub.got()) == 10, stub.got())
            row = d.query("SELECT * FROM report_action_outcomes WHERE kind = 'hangup'")
            expect([(r["handler"], r["state"], r["actions"]) for r in row] ==
                   [("probe", "sent", 2)], row)
    finally:
        stub.close()


def test_phone_invite_body():
    stub = Stub()
    try:
        with Daemon(config=config(stub.port, action="invite",
                                  action_participant="4:+15551234567")) as d:
            post(d)
            wait_for("sent", lambda: all_settled(d, 1))
            got = stub.got()
            expect(len(got) == 1 and got[0]["problem"] is None, got)
            expect(json.loads(got[0]["body"]) == {
                "participants": [{"phoneNumber": {"value": "+15551234567"}}],
                "alternateCallerId": {"value": "+15550001111"},
                "operationContext": "probe-1"}, got[0]["body"])
    finally:
        stub.close()


def test_no_resend_after_retry_or_replay():
    stub = Stub()
    try:
        with Daemon(config=config(stub.port, action="hangup", retries=2)) as d:
            post(d)
            wait_for("sent", lambda: all_settled(d, 1))
            rows = d.query("SELECT state, attempts FROM deliveries")
            expect(rows == [{"state": "done", "attempts": 3}], rows)
            expect(len(stub.got()) == 1, stub.got())
            # a replay from another process runs the handler again: it queues
            # nothing new, so nothing goes out again
            conf = os.path.join(d.dir, "callhookd.conf")
            proc = subprocess.run([CALLHOOKCTL, "--db", d.db, "-c", conf, "replay",
                                   "--handler", "probe"], capture_output=True, text=True,
                                  timeout=30 * chtest.SLOW)
            expect(proc.returncode == 0, proc.stderr)
            expect(proc.stderr == "replay probe: 1 events replayed\n", proc.stderr)
            quiet_for(2.5)  # more than two of the sender's looks
            expect(len(stub.got()) == 1, stub.got())
            expect(len(actions(d)) == 1, actions(d))
    finally:
        stub.close()


def test_replay_queues_what_was_never_queued():
    """Rows a replay queues in callhookctl are sent by the daemon's poll."""
    stub = Stub()
    try:
        with Daemon(config=config(stub.port, action="hangup", fail_type=
                                  "Microsoft.Communication.CallLegStateChanged")) as d:
            post(d)
            wait_for("dead", lambda: d.query("SELECT state FROM deliveries")[0]["state"] ==
                     "dead")
            expect(actions(d) == [], "a failed delivery queued something")
            conf = os.path.join(d.dir, "callhookd.conf")
            with open(conf) as f:
                text = f.read().replace("fail_type", "label")
            with open(conf, "w") as f:
                f.write(text)
            proc = subprocess.run([CALLHOOKCTL, "--db", d.db, "-c", conf, "replay",
                                   "--handler", "probe"], capture_output=True, text=True,
                                  timeout=30 * chtest.SLOW)
            expect(proc.returncode == 0, proc.stderr)
            wait_for("sent by the daemon", lambda: all_settled(d, 1))
            expect(len(stub.got()) == 1 and stub.got()[0]["problem"] is None, stub.got())
    finally:
        stub.close()


def test_503_is_retried_then_sent():
    stub = Stub(statuses=[503])
    try:
        with Daemon(config=config(stub.port, action="hangup")) as d:
            post(d)
            rows = wait_for("sent after a retry", lambda: all_settled(d, 1))
            expect(rows[0]["state"] == "sent" and rows[0]["attempts"] == 2, rows)
            expect(rows[0]["http_status"] == 202 and rows[0]["last_error"] is None, rows)
            got = stub.got()
            expect(len(got) == 2 and [g["problem"] for g in got] == [None, None], got)
            expect(got[0]["path"] == got[1]["path"] and got[0]["body"] == got[1]["body"], got)
            expect(metric(d, "hangup", "retry") == 1 and metric(d, "hangup", "sent") == 1,
                   "metrics")
            expect('msg="action: not sent, will retry"' in d.log_text(), d.log_text())
    finally:
        stub.close()


def test_429_waits_as_long_as_retry_after_says():
    stub = Stub(statuses=[(429, "3")])
    try:
        with Daemon(config=config(stub.port, action="hangup")) as d:
            post(d)
            rows = wait_for("a 429", lambda: [r for r in actions(d) if r["last_error"]])
            expect(rows[0]["last_error"] == "the service answered 429, Retry-After 3 s", rows)
            expect(rows[0]["state"] == "pending" and rows[0]["attempts"] == 1, rows)
            rows = wait_for("sent after the wait", lambda: all_settled(d, 1), timeout=30)
            expect(rows[0]["state"] == "sent" and rows[0]["attempts"] == 2, rows)
            got = stub.got()
            expect(len(got) == 2, got)
            # the backoff alone would have tried again after 1 s
            gap = got[1]["at"] - got[0]["at"]
            expect(gap >= 2.9, "tried again %.2f s after Retry-After: 3" % gap)
    finally:
        stub.close()


def test_400_is_failed_at_once():
    stub = Stub(statuses=[400] * 5)
    try:
        with Daemon(config=config(stub.port, action="play_audio")) as d:
            post(d)
            rows = wait_for("failed", lambda: all_settled(d, 1))
            r = rows[0]
            expect((r["state"], r["attempts"], r["http_status"]) == ("failed", 1, 400), r)
            expect(r["last_error"] == "the service answered 400", r)
            expect(json.loads(r["response"])["code"] == "Stub400", r)
            expect(r["sent_at"] is None, r)
            quiet_for(2.5)
            expect(len(stub.got()) == 1, stub.got())
            expect(metric(d, "play_audio", "failed") == 1, "metric")
            expect(re.search(r'msg="action: failed" .*kind=play_audio .*status=400',
                             d.log_text()), d.log_text())
    finally:
        stub.close()


def test_gives_up_after_max_attempts():
    stub = Stub(statuses=[500] * 10)
    try:
        with Daemon(config=config(stub.port, action="hangup", max_attempts=2)) as d:
            post(d)
            rows = wait_for("failed", lambda: all_settled(d, 1))
            r = rows[0]
            expect((r["state"], r["attempts"], r["http_status"]) == ("failed", 2, 500), r)
            expect(r["last_error"] == "gave up after 2 attempts: the service answered 500", r)
            expect(len(stub.got()) == 2, stub.got())
    finally:
        stub.close()


def test_attempts_used_up_by_crashes_are_not_sent_again():
    """A row whose attempts were all counted (the process died during each
    send) is failed at the next start without another request."""
    stub = Stub()
    d = Daemon(config=config(stub.port, action="hangup", max_attempts=3))
    try:
        d.start()
        expect(d.stop() == 0, "stop")
        db = sqlite3.connect(d.db)
        db.execute("INSERT INTO actions (handler, event_id, ordinal, call_id, kind, method, "
                   "path, state, attempts, created_at, updated_at) VALUES ('probe', 1, 1, "
                   "'c-1', 'hangup', 'POST', '/calling/calls/c-1/Hangup', 'pending', 3, "
                   "'2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')")
        db.commit()
        db.close()
        d.start()
        rows = wait_for("failed", lambda: all_settled(d, 1))
        expect((rows[0]["state"], rows[0]["attempts"]) == ("failed", 3), rows)
        expect(rows[0]["last_error"] == "gave up after 3 attempts", rows)
        quiet_for(1.5)
        expect(stub.got() == [], stub.got())
        d.finish()
    finally:
        d.cleanup()
        stub.close()


def test_not_configured_fails_the_delivery():
    with Daemon(config=config(0, actions=False, action="hangup")) as d:
        post(d)
        rows = wait_for("dead", lambda: [r for r in d.query("SELECT * FROM deliveries")
                                         if r["state"] == "dead"])
        expect("actions are not configured" in rows[0]["last_error"], rows)
        expect(actions(d) == [], actions(d))


def test_stub_down_then_back_and_restart_keeps_pending():
    port = free_port()
    d = Daemon(config=config(port, action="hangup", max_attempts=10))
    stub = None
    try:
        d.start()
        post(d)  # intake answers whatever the API does
        row = wait_for("a failed send", lambda: [r for r in actions(d)
                                                 if r["attempts"] >= 1 and r["last_error"]])
        expect(row[0]["state"] == "pending" and row[0]["http_status"] is None, row)
        # a second action of the same call: it waits for the first, retries and all
        post(d, "calllegstate-terminated.json")
        # the handler runs after intake answers: wait until it has queued the second
        wait_for("the second action queued", lambda: len(actions(d)) == 2)
        # SIGTERM: stops within the drain deadline, the rows stay pending
        started = time.monotonic()
        expect(d.stop() == 0, d.log_text())
        expect(time.monotonic() - started < 10 * chtest.SLOW, "slow stop")
        rows = actions(d)
        expect(len(rows) == 2 and all(r["state"] == "pending" for r in rows), rows)
        stub = Stub(port=port)
        d.start()
        rows = wait_for("sent after the restart", lambda: all_settled(d, 2), timeout=30)
        expect(all(r["state"] == "sent" for r in rows), rows)
        got = stub.got()
        expect(len(got) == 2 and all(g["problem"] is None for g in got), got)
        # one call's actions in queue order
        expect([r["id"] for r in sorted(rows, key=lambda r: r["sent_at"])] == [1, 2], rows)
        d.finish()
    finally:
        d.cleanup()
        if stub:
            stub.close()


def test_wrong_key_is_failed_401():
    stub = Stub(key=base64.b64encode(b"another key").decode())
    try:
        with Daemon(config=config(stub.port, action="hangup")) as d:
            post(d)
            rows = wait_for("failed", lambda: all_settled(d, 1))
            expect((rows[0]["state"], rows[0]["http_status"]) == ("failed", 401), rows)
            expect(stub.got()[0]["problem"].startswith("signature does not match"), stub.got())
    finally:
        stub.close()


def test_sighup_reloads_actions():
    stub = Stub()
    try:
        d = Daemon(config=config(0, actions=False, action="hangup"))
        try:
            d.start()
            with open(os.path.join(d.dir, "callhookd.conf"), "w") as f:
                f.write(config(stub.port, action="hangup"))
            d.proc.send_signal(signal.SIGHUP)
            wait_for("reloaded", lambda: 'msg="reload: done"' in d.log_text())
            post(d)
            wait_for("sent", lambda: all_settled(d, 1))
            expect(len(stub.got()) == 1, stub.got())
            d.finish()
        finally:
            d.cleanup()
    finally:
        stub.close()


def test_bad_reload_keeps_the_running_actions():
    stub = Stub()
    try:
        d = Daemon(config=config(stub.port, action="hangup"))
        try:
            d.start()
            with open(os.path.join(d.dir, "callhookd.conf"), "w") as f:
                f.write(config(stub.port, action="hangup").replace(KEY, "not*base64"))
            d.proc.send_signal(signal.SIGHUP)
            wait_for("refused", lambda: 'msg="reload: refused' in d.log_text())
            expect(re.search(r'reason="\[actions\] connection string: accesskey is not '
                             r'valid base64"', d.log_text()), d.log_text())
            expect("not*base64" not in d.log_text(), "the key was logged")
            post(d)
            wait_for("sent with the running key", lambda: all_settled(d, 1))
            expect(len(stub.got()) == 1 and stub.got()[0]["problem"] is None, stub.got())
            d.finish()
        finally:
            d.cleanup()
    finally:
        stub.close()


def test_config_errors():
    secret = "c2VjcmV0LWtleS0xMjM0"
    cases = [
        ("connection_string = endpoint=http://127.0.0.1:1/;accesskey=%s!" % secret,
         "[actions] connection string: accesskey is not valid base64"),
        ("connection_string = accesskey=%s" % secret,
         "[actions] connection string: endpoint is missing"),
        ("connection_string = endpoint=ftp://x/;accesskey=%s" % secret,
         "endpoint must start with https:// or http://"),
        ("connection_string_file = /nonexistent/cs.txt", "/nonexistent/cs.txt"),
        ("connection_string_file = relative.txt", "is not an absolute path"),
        ("timeout = 1ms\nconnection_string = endpoint=http://a/;accesskey=" + secret,
         "timeout"),
        ("", "[actions] needs connection_string or connection_string_file"),
        ("bogus = 1", "unknown key \"bogus\" in [actions]"),
    ]
    for body, want in cases:
        proc = run_once(config="[actions]\n" + body + "\n")
        expect(proc.returncode != 0, (body, proc.returncode))
        lines = proc.stderr.strip().splitlines()
        expect(len(lines) == 1 and want in lines[0], (body, proc.stderr))
        expect(secret not in proc.stderr, "the key was quoted: " + proc.stderr)


def test_connection_string_file():
    stub = Stub()
    d = Daemon(config="placeholder")
    try:
        path = os.path.join(d.dir, "cs.txt")
        with open(path, "w") as f:
            f.write("endpoint=http://127.0.0.1:%d;accesskey=%s\n" % (stub.port, KEY))
        d.config = config(0, actions=False, action="hangup") + \
            "[actions]\nconnection_string_file = %s\n" % path
        d.start()
        post(d)
        wait_for("sent", lambda: all_settled(d, 1))
        expect(len(stub.got()) == 1 and stub.got()[0]["problem"] is None, stub.got())
        d.finish()
    finally:
        d.cleanup()
        stub.close()


if __name__ == "__main__":
    chtest.run(globals())
