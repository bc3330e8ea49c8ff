"""callhookctl call: every subcommand against a stub Call Automation endpoint
that checks the HMAC signature independently (hmac, hashlib, base64: not the
code under test) and records each request; error answers, an unreachable or
silent endpoint, bad connection strings and usage errors; the connection
string from the flag, the environment and a config file; and, when
callhookd-emulator is built, one call through the emulator.
"""

import base64
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import chtest
from chtest import expect

CALLHOOKCTL = os.environ.get(
    "CALLHOOKCTL", os.path.join(os.path.dirname(os.path.abspath(chtest.CALLHOOKD)), "callhookctl"))
EMULATOR = os.environ.get(
    "CALLHOOKD_EMULATOR",
    os.path.join(os.path.dirname(os.path.abspath(chtest.CALLHOOKD)), "callhookd-emulator"))

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
CALL = "9e1f2a3b-0000-4c5d-8e9f-112233445566"
DEFAULT_API = "2021-06-15-preview"


class Stub:
    """A Call Automation endpoint on 127.0.0.1:0 that verifies signatures.

    answers maps (method, path-without-query) to (status, body bytes, *headers),
    headers being (name, value) pairs; anything else gets 202 with an empty
    body."""

    def __init__(self, key=KEY):
        self.key = key
        self.requests = []
        self.answers = {}
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                req = {"method": self.command, "target": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "signature_ok": stub.verify(self, body)}
                u = urllib.parse.urlsplit(self.path)
                req["path"], req["query"] = u.path, urllib.parse.parse_qs(u.query)
                stub.requests.append(req)
                status, answer, *extra = stub.answers.get((self.command, u.path), (202, b""))
                if req["signature_ok"] is not True:
                    status, answer, extra = 401, json.dumps(
                        {"code": "Unauthorized", "message": "bad signature"}).encode(), []
                self.send_response(status)
                for name, value in extra:  # (name, value) header pairs
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_DELETE = do_GET = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verify(self, h, body):
        """True, or what is wrong with the request's signature."""
        problem = chtest.acs_check(base64.b64encode(self.key).decode(), h.command, h.path,
                                   h.headers, body)
        return True if problem is None else problem

    @property
    def cs(self):
        return "endpoint=http://127.0.0.1:%d/;accesskey=%s" % (self.port, KEY_B64)

    def only(self):
        expect(len(self.requests) == 1, "requests: %r" % self.requests)
        req = self.requests.pop()
        expect(req["signature_ok"] is True, "signature: %s" % req["signature_ok"])
        expect(req["headers"].get("host") == "127.0.0.1:%d" % self.port, req["headers"])
        return req

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def ctl(*args, code=0, env=None, cs=None, timeout=30):
    e = dict(os.environ)
    e.pop("CALLHOOKD_CONNECTION_STRING", None)
    if env:
        e.update(env)
    cmd = [CALLHOOKCTL] + (["--connection-string", cs] if cs else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=e, stdin=subprocess.DEVNULL,
                          timeout=timeout * chtest.SLOW)
    expect(proc.returncode == code, "%r: exit %d, wanted %d; stderr %r" % (
        args, proc.returncode, code, proc.stderr))
    return proc


def one_line(proc, *words):
    expect(proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"),
           "not one line: %r" % proc.stderr)
    for w in words:
        expect(w in proc.stderr, "%r lacks %r" % (proc.stderr, w))
    expect(proc.stdout == "", "stdout %r" % proc.stdout)


def body_of(req):
    return json.loads(req["body"]) if req["body"] else None


def check_request(req, method, path, api=DEFAULT_API):
    expect(req["method"] == method, req["method"])
    expect(req["path"] == path, req["path"])
    expect(req["query"] == {"api-version": [api]}, req["query"])


# --- each subcommand --------------------------------------------------------
def test_create():
    s = Stub()
    try:
        answer = {"callLegId": CALL}
        s.answers[("POST", "/calling/calls")] = (200, json.dumps(answer).encode())
        p = ctl("call", "create", "--target", "8:acs:bob", "--target", "+14251001000",
                "--target", "4:+14251002000", "--callback-uri", "https://app.example/cb?x=1",
                "--source", "8:acs:app", "--subject", 'say "hi" \\ caf\u00e9',
                "--alternate-caller-id", "+14250000000", cs=s.cs)
        expect(p.stdout == CALL + "\n", p.stdout)
        req = s.only()
        check_request(req, "POST", "/calling/calls")
        expect(req["headers"]["content-type"] == "application/json", req["headers"])
        expect(body_of(req) == {
            "source": {"communicationUser": {"id": "8:acs:app"}},
            "targets": [{"communicationUser": {"id": "8:acs:bob"}},
                        {"phoneNumber": {"value": "+14251001000"}},
                        {"phoneNumber": {"value": "+14251002000"}}],
            "subject": 'say "hi" \\ caf\u00e9',
            "callbackUri": "https://app.example/cb?x=1",
            "alternateCallerId": {"value": "+14250000000"},
            "requestedModalities": ["audio"],
            "requestedCallEvents": ["participantsUpdated", "dtmfReceived"]}, body_of(req))

        # the whole answer with --format json; no source or subject when not given
        p = ctl("--format", "json", "call", "create", "--target", "8:acs:bob",
                "--callback-uri", "http://127.0.0.1:9/cb", cs=s.cs)
        expect(json.loads(p.stdout) == answer, p.stdout)
        body = body_of(s.only())
        expect("source" not in body and "subject" not in body, body)
        expect(body["targets"] == [{"communicationUser": {"id": "8:acs:bob"}}], body)

        # 2xx without a callLegId is not a success
        s.answers[("POST", "/calling/calls")] = (200, b"{}")
        p = ctl("call", "create", "--target", "8:acs:bob", "--callback-uri", "http://h/",
                cs=s.cs, code=1)
        one_line(p, "no callLegId")
    finally:
        s.close()


def test_hangup_and_api_version():
    s = Stub()
    try:
        p = ctl("call", "hangup", CALL, cs=s.cs)
        expect(p.stdout == "" and p.stderr == "", (p.stdout, p.stderr))
        req = s.only()
        check_request(req, "POST", "/calling/calls/%s/Hangup" % CALL)
        expect(req["body"] == b"", req["body"])
        ctl("call", "hangup", CALL, "--api-version", "2023-03-15", cs=s.cs)
        check_request(s.only(), "POST", "/calling/calls/%s/Hangup" % CALL, api="2023-03-15")
    finally:
        s.close()


def test_play_and_cancel():
    s = Stub()
    try:
        path = "/calling/calls/%s/PlayAudio" % CALL
        s.answers[("POST", path)] = (202, json.dumps(
            {"id": "op-1", "status": "notStarted", "operationContext": "greet",
             "resultInfo": {"code": 0, "subcode": 0, "message": ""}}).encode())
        p = ctl("call", "play", CALL, "--audio", "https://media.example/hello.wav", "--loop",
                "--context", "greet", "--resource-id", "r-1", cs=s.cs)
        expect(p.stdout == "op-1\n", p.stdout)
        req = s.only()
        check_request(req, "POST", path)
        expect(body_of(req) == {"audioFileUri": "https://media.example/hello.wav", "loop": True,
                                "operationContext": "greet", "resourceId": "r-1"}, body_of(req))
        ctl("call", "play", CALL, "--audio", "https://media.example/bye.wav", cs=s.cs)
        expect(body_of(s.only()) == {"audioFileUri": "https://media.example/bye.wav",
                                     "loop": False}, "loop defaults to false")

        p = ctl("call", "cancel", CALL, "--context", "stop", cs=s.cs)
        expect(p.stdout == "", p.stdout)
        req = s.only()
        check_request(req, "POST", "/calling/calls/%s/CancelMediaProcessing" % CALL)
        expect(body_of(req) == {"operationContext": "stop"}, body_of(req))
        ctl("call", "cancel", CALL, cs=s.cs)
        expect(body_of(s.only()) == {}, "cancel without a context")
    finally:
        s.close()


def test_invite_and_remove():
    s = Stub()
    try:
        p = ctl("call", "invite", CALL, "--participant", "4:+14251001000", "--participant",
                "8:acs:carol", "--alternate-caller-id", "+14250000000", "--context", "inv",
                cs=s.cs)
        expect(p.stdout == "", p.stdout)
        req = s.only()
        check_request(req, "POST", "/calling/calls/%s/participants" % CALL)
        expect(body_of(req) == {
            "alternateCallerId": {"value": "+14250000000"},
            "participants": [{"phoneNumber": {"value": "+14251001000"}},
                             {"communicationUser": {"id": "8:acs:carol"}}],
            "operationContext": "inv"}, body_of(req))

        # ids are one path segment each, percent-encoded
        ctl("call", "remove", CALL, "8:acs:carol/x y", cs=s.cs)
        req = s.only()
        expect(req["method"] == "DELETE", req["method"])
        expect(req["target"].startswith(
            "/calling/calls/%s/participants/8%%3Aacs%%3Acarol%%2Fx%%20y?" % CALL), req["target"])
        expect(req["body"] == b"", req["body"])
        expect(req["query"] == {"api-version": [DEFAULT_API]}, req["query"])
    finally:
        s.close()


# --- failures -----------------------------------------------------------------
def test_error_answers():
    s = Stub()
    try:
        path = "/calling/calls/%s/Hangup" % CALL
        s.answers[("POST", path)] = (404, json.dumps(
            {"code": "CallNotFound", "message": "no call \x1b[31mhere\nreally"}).encode())
        p = ctl("call", "hangup", CALL, cs=s.cs, code=1)
        # the service's text, on one line, with control characters defused
        one_line(p, "call hangup: HTTP 404 CallNotFound: no call ?[31mhere?really")
        s.only()
        s.answers[("POST", path)] = (500, b"<html>oops</html>")
        p = ctl("call", "hangup", CALL, cs=s.cs, code=1)
        one_line(p, "HTTP 500", "no error message")
        s.only()
        # a throttled answer says when to come back
        s.answers[("POST", path)] = (429, json.dumps(
            {"code": "TooManyRequests", "message": "slow down"}).encode(), ("Retry-After", "17"))
        p = ctl("call", "hangup", CALL, cs=s.cs, code=1)
        one_line(p, "HTTP 429 TooManyRequests: slow down (retry after 17 s)")
        s.only()
        # a wrong key: the stub's own 401
        wrong = "endpoint=http://127.0.0.1:%d/;accesskey=%s" % (
            s.port, base64.b64encode(b"x" * 32).decode())
        p = ctl("call", "hangup", CALL, cs=wrong, code=1)
        one_line(p, "HTTP 401 Unauthorized: bad signature")
    finally:
        s.close()


def test_unreachable_and_silent():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    try:
        cs = "endpoint=http://127.0.0.1:%d/;accesskey=%s" % (port, KEY_B64)
        p = ctl("call", "hangup", CALL, cs=cs, code=1)  # bound, not listening
        one_line(p, "cannot connect to 127.0.0.1:%d" % port, "refused")
        sock.listen(1)  # now it accepts (in the kernel) and never answers
        start = time.monotonic()
        p = ctl("call", "hangup", CALL, "--timeout", "500ms", cs=cs, code=1)
        one_line(p, "no answer within 500 ms")
        expect(time.monotonic() - start < 10 * chtest.SLOW, "timeout not bounded")
    finally:
        sock.close()


def test_bad_connection_string():
    secret = base64.b64encode(b"s3cr3t-key-material-0123456789ab").decode()
    for cs, words in [("bogus", "connection string"),
                      ("endpoint=http://127.0.0.1:1/", "accesskey"),
                      ("accesskey=" + secret, "endpoint"),
                      ("endpoint=ftp://h/;accesskey=" + secret, "endpoint"),
                      ("endpoint=http://127.0.0.1:1/;accesskey=not*base64", "base64")]:
        p = ctl("call", "hangup", CALL, cs=cs, code=2)
        one_line(p, words)
        expect(secret not in p.stderr, "the key was printed: %r" % p.stderr)
    p = ctl("call", "hangup", CALL, code=2)
    one_line(p, "no connection string")


def test_connection_string_sources():
    a, b = Stub(), Stub()
    d = tempfile.mkdtemp(prefix="ctl-call-")
    try:
        conf = os.path.join(d, "callhookd.conf")
        with open(conf, "w") as f:
            f.write("[actions]\nconnection_string = %s\napi_version = 2022-11-01\n" % a.cs)
        ctl("-c", conf, "call", "hangup", CALL)
        check_request(a.only(), "POST", "/calling/calls/%s/Hangup" % CALL, api="2022-11-01")
        # the environment beats the file, the flag beats both
        ctl("-c", conf, "call", "hangup", CALL, env={"CALLHOOKD_CONNECTION_STRING": b.cs})
        check_request(b.only(), "POST", "/calling/calls/%s/Hangup" % CALL, api="2022-11-01")
        ctl("-c", conf, "call", "hangup", CALL, cs=a.cs,
            env={"CALLHOOKD_CONNECTION_STRING": b.cs})
        a.only()
        expect(b.requests == [], b.requests)
        # connection_string_file, as with systemd credentials
        csfile = os.path.join(d, "cs")
        with open(csfile, "w") as f:
            f.write(b.cs + "\n")
        with open(conf, "w") as f:
            f.write("[actions]\nconnection_string_file = %s\n" % csfile)
        ctl("-c", conf, "call", "hangup", CALL)
        check_request(b.only(), "POST", "/calling/calls/%s/Hangup" % CALL)
        # a file without [actions], and one with a bad key
        with open(conf, "w") as f:
            f.write("[store]\npath = %s\n" % os.path.join(d, "j.db"))
        one_line(ctl("-c", conf, "call", "hangup", CALL, code=2), "no [actions]")
        with open(conf, "w") as f:
            f.write("[actions]\nconnection_string = endpoint=http://h/;accesskey=%%%%\n")
        one_line(ctl("-c", conf, "call", "hangup", CALL, code=2), "[actions]")
        one_line(ctl("-c", os.path.join(d, "missing.conf"), "call", "hangup", CALL, code=2),
                 "missing.conf")
        expect(a.requests == [] and b.requests == [], "no request after a config error")
    finally:
        a.close()
        b.close()


def test_usage_errors():
    s = Stub()
    try:
        for args, words in [
                (["call"], "subcommand is missing"),
                (["call", "dial", CALL], "unknown subcommand \"dial\""),
                (["call", "hangup"], "CALLID is missing"),
                (["call", "hangup", CALL, "extra"], "unexpected argument \"extra\""),
                (["call", "remove", CALL], "PARTICIPANTID is missing"),
                (["call", "create", "--callback-uri", "http://h/"], "--target is required"),
                (["call", "create", "--target", "8:acs:x"], "--callback-uri is required"),
                (["call", "create", "--target", "8:acs:x", "--callback-uri", "ftp://h/"],
                 "http:// or https://"),
                (["call", "create", "--target", "+12ab", "--callback-uri", "http://h/"],
                 "not a phone number"),
                (["call", "play", CALL], "--audio is required"),
                (["call", "play", CALL, "--audio", "a", "--audio", "b"], "given twice"),
                (["call", "play", CALL, "--audio", "a", "--loop=yes"], "takes no value"),
                (["call", "hangup", CALL, "--context", "x"], "--context does not apply"),
                (["call", "hangup", CALL, "--db", "x.db"], "--db does not apply to call"),
                (["call", "hangup", CALL, "--nosuch"], "unknown option --nosuch"),
                (["call", "hangup", CALL, "--timeout", "soon"], "--timeout"),
                (["call", "hangup", CALL, "--format", "csv"], "not table or json"),
                (["call", "invite", CALL, "--participant", "8:acs:x",
                  "--alternate-caller-id", "12345"], "not a phone number"),
                (["call", "hangup", "a\tb"], "control character"),
                (["call", "hangup", ""], "CALLID is empty")]:
            one_line(ctl(*args, cs=s.cs, code=2), words)
        # an argument that is not UTF-8 never reaches a body
        one_line(ctl("call", "create", "--target", "8:acs:x", "--callback-uri", "http://h/",
                     "--subject", b"caf\xe9", cs=s.cs, code=2), "not valid UTF-8")
        expect(s.requests == [], "a usage error sent a request: %r" % s.requests)
        p = ctl("call", "--help")
        expect("call create --target RAWID" in p.stdout, p.stdout)
        # the journal commands' help mentions call
        expect("call create|hangup" in ctl("--help").stdout, "help")
    finally:
        s.close()


# --- against callhookd-emulator -------------------------------------------------
def test_emulator():
    if not os.access(EMULATOR, os.X_OK):
        print("skip: no callhookd-emulator at %s" % EMULATOR)
        return
    events = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            events.append(self.rfile.read(n))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    emu = subprocess.Popen([EMULATOR, "--listen", "127.0.0.1:0", "--access-key", KEY_B64,
                            "--step-delay", "50ms", "--play-duration", "60s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = emu.stdout.readline()
        expect(line.startswith("listening on 127.0.0.1:"), "emulator said %r" % line)
        port = int(line.strip().rsplit(":", 1)[1])
        cs = "endpoint=http://127.0.0.1:%d/;accesskey=%s" % (port, KEY_B64)

        def state():
            with urllib.request.urlopen("http://127.0.0.1:%d/emulator/calls/%s" % (
                    port, call_id), timeout=5) as r:
                return json.loads(r.read())

        def wait_for(pred, what):
            deadline = time.monotonic() + 10 * chtest.SLOW
            doc = None
            while time.monotonic() < deadline:
                doc = state()
                if pred(doc):
                    return doc
                time.sleep(0.05)
            raise AssertionError("%s: %r" % (what, doc))

        p = ctl("call", "create", "--target", "8:acs:callee", "--source", "8:acs:app",
                "--callback-uri", "http://127.0.0.1:%d/events" % recv.server_address[1],
                cs=cs)
        call_id = p.stdout.strip()
        expect(len(call_id) > 0 and "\n" not in call_id, p.stdout)
        doc = wait_for(lambda d: d.get("state") == "Established", "established")
        expect(doc["callLegId"] == call_id, doc)
        expect("8:acs:callee" in [m.get("rawId") for m in doc["participants"]], doc)
        p = ctl("call", "play", call_id, "--audio", "https://media.example/p.wav",
                "--context", "ctl-play", cs=cs)
        # the play outlasts the test (--play-duration 60s): it is the current one
        play = state()["play"]
        expect(play is not None and play["audioFileUri"] == "https://media.example/p.wav" and
               play["operationContext"] == "ctl-play" and play["loop"] is False, play)
        expect(p.stdout in ("", play["id"] + "\n"), p.stdout)
        ctl("call", "hangup", call_id, cs=cs)
        wait_for(lambda d: d.get("state") == "Terminated", "hung up")
        # a wrong key is refused the way the service does it
        wrong = "endpoint=http://127.0.0.1:%d/;accesskey=%s" % (
            port, base64.b64encode(b"y" * 32).decode())
        one_line(ctl("call", "hangup", call_id, cs=wrong, code=1), "HTTP 401")
        deadline = time.monotonic() + 10 * chtest.SLOW
        while time.monotonic() < deadline and not any(b"Terminated" in e for e in events):
            time.sleep(0.05)
        expect(any(b"Terminated" in e for e in events), "no Terminated event: %r" % events)
    finally:
        emu.terminate()
        try:
            emu.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emu.kill()
            emu.wait()
        recv.shutdown()
        recv.server_close()


if __name__ == "__main__":
    chtest.run(globals())
