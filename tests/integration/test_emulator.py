"""callhookd-emulator: the seed's REST API, its events in three formats, retries, the
control surface, and one event stream into the real daemon.

Requests are signed here with hmac/hashlib (independently of src/acs_sign.c); a
receiver (http.server on 127.0.0.1:0) records every POST the emulator sends to a
call's callbackUri.
"""

import base64
import email.utils
import http.client
import http.server
import json
import os
import re
import select
import signal
import subprocess
import tempfile
import threading
import time

import chtest
from chtest import Daemon, error_of, expect

EMULATOR = os.environ.get("CALLHOOKD_EMULATOR",
                          os.path.join(os.getcwd(), "src", "callhookd-emulator"))
SLOW = chtest.SLOW
KEY = base64.b64encode(b"emulator-test-key-0123456789abcdef").decode()
API = "?api-version=2021-06-15-preview"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PREVIEW_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
GA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$")
ALICE = "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-7904-f8c2-51b9-a43a0d0010d9"
BOB = "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-547e-c56e-71bf-a43a0d002dc1"
CAROL = "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-de04-ee58-740a-113a0d00330d"
PREVIEW_KEYS = {"id", "topic", "subject", "data", "eventType", "eventTime", "metadataVersion",
                "dataVersion"}
CE_KEYS = {"id", "source", "type", "data", "time", "specversion", "datacontenttype", "subject"}


def wait_for(pred, what, timeout=10):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


# --- signing (independent of src/acs_sign.c) ------------------------------------------------


def sign(method, path, body=b"", host="127.0.0.1", key=KEY, date=None):
    return chtest.acs_sign(key, method, path, host, body, date)


# --- the receiver -------------------------------------------------------------------------


class Receiver:
    """Records (path, headers, body) of every POST; answers from self.script (then 200)."""

    def __init__(self):
        self.posts = []
        self.script = []
        self.lock = threading.Lock()
        rec = self

        self.open = self.accepted = 0  # connections the emulator holds, has opened

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with rec.lock:
                    rec.open += 1
                    rec.accepted += 1

            def finish(self):
                super().finish()
                with rec.lock:
                    rec.open -= 1

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.lock:
                    rec.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                      body))
                    status = rec.script.pop(0) if rec.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the emulator closing its keep-alive connections at exit

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/callbacks/calls?tenant=t1" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self):
        with self.lock:
            return [json.loads(b) for _, _, b in self.posts]

    def events(self):
        """Every event received, flattened (arrays of one unwrapped)."""
        out = []
        for doc in self.bodies():
            out.extend(doc if isinstance(doc, list) else [doc])
        return out

    def wait(self, n, what="events"):
        return wait_for(lambda: len(self.events()) >= n and self.events(),
                        "%d %s (have %d: %r)" % (n, what, len(self.events()),
                                                 [type_of(e) for e in self.events()]))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def type_of(ev):
    return ev.get("eventType") or ev.get("type")


# --- the emulator -------------------------------------------------------------------------


class Emulator:
    def __init__(self, *args, key=KEY):
        self.dir = tempfile.mkdtemp(prefix="emulator-test-")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "wb")
        cmd = [EMULATOR, "--listen", "127.0.0.1:0", "--access-key", key,
               "--step-delay", "20ms", "--play-duration", "50ms"] + list(args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log)
        deadline = time.monotonic() + 10 * SLOW
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                c = os.read(self.proc.stdout.fileno(), 1)
                if not c:
                    break
                line += c
        m = re.match(rb"listening on 127\.0\.0\.1:(\d+)\n$", line)
        if not m:
            self.proc.kill()
            raise AssertionError("emulator did not start: %r\n%s" % (line, self.log_text()))
        self.port = int(m.group(1))
        self.host = "127.0.0.1:%d" % self.port

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, headers=None, signed=True, host=None):
        raw = b"" if body is None else (body if isinstance(body, bytes)
                                        else json.dumps(body).encode())
        h = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            h.update(sign(method, path, raw, host=host or self.host))
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10 * SLOW)
        try:
            conn.request(method, path, body=raw if body is not None else None, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def call(self, method, path, body=None, **kw):
        return self.request(method, path + API, body, **kw)

    def create(self, receiver, targets=(BOB,), source=ALICE):
        status, _, data = self.call("POST", "/calling/calls", {
            "source": {"communicationUser": {"id": source}},
            "targets": [{"communicationUser": {"id": t}} for t in targets],
            "subject": "test call", "callbackUri": receiver.url,
            "requestedModalities": ["audio"],
            "requestedCallEvents": ["participantsUpdated", "dtmfReceived"]})
        expect(status == 200, "create: %s %r" % (status, data))
        doc = json.loads(data)
        expect(set(doc) == {"callLegId"} and UUID.match(doc["callLegId"]), doc)
        return doc["callLegId"]

    def control(self, call, what, body=None):
        return self.request("POST", "/emulator/calls/%s/%s" % (call, what),
                            {} if body is None else body, signed=False)

    def state(self, call):
        status, _, data = self.request("GET", "/emulator/calls/" + call, signed=False)
        expect(status == 200, (status, data))
        return json.loads(data)

    def records(self, since=0):
        status, _, data = self.request("GET", "/emulator/events?since=%d" % since, signed=False)
        expect(status == 200, (status, data))
        return json.loads(data)

    def settle(self, *calls):
        """Wait until nothing is queued or in flight for these call legs."""
        for call in calls:
            wait_for(lambda: self.state(call)["pendingEvents"] == 0, "%s to settle" % call)

    def wait_delivered(self, n):
        return wait_for(lambda: (lambda r: len(r) >= n and all(x["delivered"] for x in r) and r)(
            self.records()), "%d delivered events" % n)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(30 * SLOW)
            expect(code == 0, "exit status %s after SIGTERM\n%s" % (code, self.log_text()))
        self.proc.stdout.close()
        self.log.close()
        log = self.log_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            expect(marker not in log, "sanitizer report:\n" + log)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_emulator(*args):
    return subprocess.run([EMULATOR] + list(args), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=30 * SLOW)


# --- the command line -----------------------------------------------------------------------


def test_command_line():
    r = run_emulator("--help")
    expect(r.returncode == 0 and "--access-key" in r.stdout and "--format" in r.stdout, r)
    r = run_emulator("--version")
    expect(r.returncode == 0 and r.stdout.startswith("callhookd-emulator "), r)
    for args, words in [
        (["--access-key", KEY, "--bogus"], "unknown"),
        ([], "--access-key"),
        (["--access-key", "not base64!"], "--access-key"),
        (["--access-key", KEY, "--format", "xml"], "--format"),
        (["--access-key", KEY, "--listen", "0.0.0.0:0"], "loopback"),
        (["--access-key", KEY, "--listen", "127.0.0.1"], "--listen"),
        (["--access-key", KEY, "--step-delay", "soon"], "--step-delay"),
        (["--access-key", KEY, "--retry-max", "-1"], "--retry-max"),
        (["--access-key", KEY, "extra"], "extra"),
    ]:
        r = run_emulator(*args)
        expect(r.returncode == 2, "%r: exit %d %r" % (args, r.returncode, r.stderr))
        lines = r.stderr.strip().splitlines()
        expect(len(lines) == 1 and words in lines[0] and KEY not in lines[0],
               "%r: %r" % (args, r.stderr))


def test_access_key_file_and_sigint():
    d = tempfile.mkdtemp(prefix="emulator-key-")
    path = os.path.join(d, "key")
    with open(path, "w") as f:
        f.write(KEY + "\n")
    p = subprocess.Popen([EMULATOR, "--listen", "127.0.0.1:0", "--access-key-file", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline()
        expect(re.match(rb"listening on 127\.0\.0\.1:\d+\n", line), line)
        p.send_signal(signal.SIGINT)
        expect(p.wait(10 * SLOW) == 0, "SIGINT exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
        p.stdout.close()
        p.stderr.close()
    r = run_emulator("--access-key-file", os.path.join(d, "missing"))
    expect(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r)


# --- authentication and bad requests ---------------------------------------------------------


def test_authentication():
    rec = Receiver()
    try:
        with Emulator() as emu:
            body = json.dumps({"source": {"communicationUser": {"id": ALICE}},
                               "targets": [{"communicationUser": {"id": BOB}}],
                               "callbackUri": rec.url}).encode()
            path = "/calling/calls" + API
            good = sign("POST", path, body, host=emu.host)

            def post(headers):
                return emu.request("POST", path, body, headers=headers, signed=False)

            bad_sig = dict(good)
            bad_sig["Authorization"] = good["Authorization"][:-6] + "AAAAA="
            stale = sign("POST", path, body, host=emu.host,
                         date=email.utils.formatdate(time.time() - 3600, usegmt=True))
            wrong_key = sign("POST", path, body, host=emu.host,
                             key=base64.b64encode(b"another key").decode())
            wrong_host = sign("POST", path, body, host="127.0.0.1:1")
            wrong_path = sign("POST", "/calling/calls?api-version=other", body, host=emu.host)
            cases = {"bad signature": bad_sig, "stale date": stale, "wrong key": wrong_key,
                     "wrong host": wrong_host, "wrong path": wrong_path}
            for name in ("x-ms-date", "x-ms-content-sha256", "Authorization"):
                h = dict(good)
                del h[name]
                cases["missing " + name] = h
            for name, headers in cases.items():
                status, _, data = post(headers)
                expect(status == 401, "%s: %s %r" % (name, status, data))
                err = error_of(data)
                expect(err["code"] == "Unauthorized", (name, err))
                if name.startswith("missing "):
                    expect(name[8:].lower() in err["message"].lower(), (name, err))
            status, _, data = post(sign("POST", path, body + b" ", host=emu.host))
            expect(status == 401 and "x-ms-content-sha256" in error_of(data)["message"], data)
            status, _, data = post(stale)
            expect("clock" in error_of(data)["message"], data)
            # nothing was created by a refused request
            expect(emu.records() == [], emu.records())
            status, _, data = post(good)
            expect(status == 200, (status, data))
            # the control surface needs no signature
            call = json.loads(data)["callLegId"]
            expect(emu.state(call)["callLegId"] == call, "control surface")
    finally:
        rec.close()


def test_bad_requests_name_the_field():
    rec = Receiver()
    try:
        with Emulator() as emu:
            ok = {"source": {"communicationUser": {"id": ALICE}},
                  "targets": [{"communicationUser": {"id": BOB}}], "callbackUri": rec.url}

            def create(change=None, drop=None):
                body = dict(ok)
                body.update(change or {})
                if drop:
                    del body[drop]
                return emu.call("POST", "/calling/calls", body)

            for args, field in [
                ({"drop": "callbackUri"}, "callbackUri"),
                ({"drop": "source"}, "source"),
                ({"drop": "targets"}, "targets"),
                ({"change": {"targets": []}}, "targets"),
                ({"change": {"targets": [{"communicationUser": {"id": BOB}}, {"x": 1}]}},
                 "targets[1]"),
                ({"change": {"source": {"communicationUser": {"id": 5}}}},
                 "source.communicationUser.id"),
                ({"change": {"callbackUri": "https://example.com/cb"}}, "callbackUri"),
                ({"change": {"callbackUri": 7}}, "callbackUri"),
                ({"change": {"requestedModalities": ["smell"]}}, "requestedModalities[0]"),
                ({"change": {"requestedCallEvents": "all"}}, "requestedCallEvents"),
            ]:
                status, _, data = create(**args)
                expect(status == 400, "%r: %s %r" % (args, status, data))
                err = error_of(data)
                expect('"%s"' % field in err["message"], "%r: %r" % (args, err))
            status, _, data = emu.request("POST", "/calling/calls", ok)  # no api-version
            expect(status == 400 and "api-version" in error_of(data)["message"], data)
            status, _, data = emu.call("POST", "/calling/calls", b"{not json")
            expect(status == 400 and error_of(data)["code"] == "InvalidJson", data)
            status, _, data = emu.call("POST", "/calling/calls", b"[1]")
            expect(status == 400, data)
            status, _, data = emu.call("POST", "/calling/calls", b"x" * 70000)
            expect(status == 413 and error_of(data)["code"] == "PayloadTooLarge", data)

            # unknown things
            status, _, data = emu.call("POST", "/calling/calls/nope/Hangup")
            expect(status == 404 and error_of(data)["code"] == "CallNotFound", data)
            status, _, data = emu.call("POST", "/calling/calls/nope/PlayAudio",
                                       {"audioFileUri": "https://x/a.wav"})
            expect(status == 404, data)
            status, _, data = emu.call("POST", "/calling/conversations/nope/participants",
                                       {"participants": [{"communicationUser": {"id": BOB}}]})
            expect(status == 404 and error_of(data)["code"] == "ConversationNotFound", data)
            status, _, data = emu.call("POST", "/calling/nothing")
            expect(status == 404, data)
            status, _, data = emu.request("GET", "/emulator/calls/nope", signed=False)
            expect(status == 404 and error_of(data)["code"] == "CallNotFound", data)
            # wrong methods
            status, h, data = emu.call("GET", "/calling/calls")
            expect(status == 405 and h.get("allow") == "POST", (status, h, data))
            error_of(data)
            status, h, data = emu.call("POST", "/calling/calls/x/participants/y")
            expect(status == 405 and h.get("allow") == "DELETE", (status, data))
            status, h, data = emu.request("DELETE", "/emulator/events", signed=False)
            expect(status == 405 and h.get("allow") == "GET", (status, data))

            call = emu.create(rec)
            wait_for(lambda: emu.state(call)["state"] == "Established", "Established")
            for path, body, field in [
                ("PlayAudio", {}, "audioFileUri"),
                ("PlayAudio", {"audioFileUri": "https://x/a.wav", "loop": "yes"}, "loop"),
                ("PlayAudio", {"audioFileUri": "https://x/a.wav", "operationContext": 3},
                 "operationContext"),
                ("participants", {}, "participants"),
                ("participants", {"participants": [{"phoneNumber": {"value": "+14251001000"}}]},
                 "alternateCallerId"),
            ]:
                status, _, data = emu.call("POST", "/calling/calls/%s/%s" % (call, path), body)
                expect(status == 400, (path, body, status, data))
                expect('"%s"' % field in error_of(data)["message"], (path, data))
            status, _, data = emu.call("DELETE", "/calling/calls/%s/participants/nobody" % call)
            expect(status == 404 and error_of(data)["code"] == "ParticipantNotFound", data)
            status, _, data = emu.control(call, "dtmf", {"tones": "12x"})
            expect(status == 400 and "tones" in error_of(data)["message"], data)
            status, _, data = emu.control(call, "dtmf", {})
            expect(status == 400 and '"tones"' in error_of(data)["message"], data)
            status, _, data = emu.control(call, "leave", {"participant": CAROL})
            expect(status == 404, data)
            status, _, data = emu.control(call, "join", {"participant": BOB})
            expect(status == 409, data)
            status, _, data = emu.control(call, "sing", {})
            expect(status == 404, data)
            status, _, data = emu.request("GET", "/emulator/events?since=x", signed=False)
            expect(status == 400 and "since" in error_of(data)["message"], data)
    finally:
        rec.close()


# --- the lifecycle in each format -------------------------------------------------------


def lifecycle(emu, rec, ce=False):
    """Drive one call through every operation; return (call id, participant ids by rawId).
    CloudEvents has no Establishing event (ce: one fewer at each step)."""
    k = 1 if ce else 0
    call = emu.create(rec)
    wait_for(lambda: emu.state(call)["state"] == "Established", "Established")
    rec.wait(3 - k)
    parts = {p["rawId"]: p["participantId"] for p in emu.state(call)["participants"]}
    expect(set(parts) == {ALICE, BOB}, parts)

    # a play that completes
    status, _, data = emu.call("POST", "/calling/calls/%s/PlayAudio" % call, {
        "audioFileUri": "https://example.com/prompt.wav", "loop": False,
        "operationContext": "ctx-play-1", "resourceId": "r1"})
    expect(status == 202, (status, data))
    doc = json.loads(data)
    expect(set(doc) == {"id", "status", "operationContext", "resultInfo"}, doc)
    expect(UUID.match(doc["id"]) and doc["status"] == "notStarted" and
           doc["operationContext"] == "ctx-play-1", doc)
    expect(set(doc["resultInfo"]) == {"code", "subcode", "message"}, doc)
    rec.wait(4 - k)

    # a looping play runs until cancelled
    status, _, data = emu.call("POST", "/calling/calls/%s/PlayAudio" % call, {
        "audioFileUri": "https://example.com/hold.wav", "loop": True,
        "operationContext": "ctx-loop"})
    expect(status == 202, data)
    time.sleep(0.3)  # six play durations
    expect(len(rec.events()) == 4 - k, "a loop play ended by itself: %r" % rec.events()[4 - k:])
    expect(emu.state(call)["play"]["loop"] is True, emu.state(call))
    status, _, data = emu.call("POST", "/calling/calls/%s/CancelMediaProcessing" % call,
                               {"operationContext": "ctx-cancel"})
    expect(status == 202 and json.loads(data)["operationContext"] == "ctx-cancel", data)
    rec.wait(5 - k)
    expect(emu.state(call)["play"] is None, "play still running")

    # tones from the far end
    status, _, data = emu.control(call, "dtmf", {"tones": "1#"})
    expect(status == 202, data)
    rec.wait(7 - k)

    # invite and remove
    status, _, data = emu.call("POST", "/calling/calls/%s/participants" % call, {
        "participants": [{"communicationUser": {"id": CAROL}}],
        "operationContext": "ctx-invite"})
    expect(status == 202 and data == b"", (status, data))
    rec.wait(9 - k)
    carol = [p for p in emu.state(call)["participants"] if p["rawId"] == CAROL][0]
    expect(UUID.match(carol["participantId"]), carol)
    status, _, data = emu.call("DELETE", "/calling/calls/%s/participants/%s"
                               % (call, carol["participantId"]))
    expect(status == 202 and data == b"", (status, data))
    rec.wait(10)

    # the far end mutes, the application hangs up
    status, _, data = emu.control(call, "mute", {"participant": BOB})
    expect(status == 202 and json.loads(data)["participants"][1]["isMuted"] is True, data)
    status, _, data = emu.call("POST", "/calling/calls/%s/Hangup" % call)
    expect(status == 202 and data == b"", (status, data))
    wait_for(lambda: emu.state(call)["state"] == "Terminated", "Terminated")
    status, _, data = emu.call("POST", "/calling/calls/%s/Hangup" % call)
    expect(status == 404, "hang-up of an ended call: %s" % status)
    status, _, data = emu.control(call, "dtmf", {"tones": "1"})
    expect(status == 409 and error_of(data)["code"] == "CallEnded", data)
    return call, parts


def check_preview_event(ev, call, eventgrid=False):
    expect(set(ev) == PREVIEW_KEYS, ev)
    expect(ev["eventType"].startswith("Microsoft.Communication."), ev)
    expect(PREVIEW_TIME.match(ev["eventTime"]), ev["eventTime"])
    expect(ev["data"]["CallLegId"] == call, ev)
    if eventgrid:
        expect(UUID.match(ev["id"]) and ev["topic"].startswith("/subscriptions/"), ev)
        expect(ev["metadataVersion"] == "1" and ev["dataVersion"] == "1.0", ev)
    else:
        expect(ev["topic"] is None and ev["metadataVersion"] is None and
               ev["dataVersion"] is None, ev)
        if ev["eventType"].endswith("InviteParticipantResult"):
            expect(UUID.match(ev["id"]), ev)
        else:
            expect(ev["id"] is None, ev)


def preview_identifier(raw):
    return {"RawId": raw, "CommunicationUser": {"Id": raw}, "PhoneNumber": None,
            "MicrosoftTeamsUser": None}


def check_preview_lifecycle(rec, call, parts, eventgrid=False):
    evs = rec.events()
    for ev in evs:
        check_preview_event(ev, call, eventgrid)
    short = [(e["eventType"].split(".")[-1], e["subject"].split("/")[-1]) for e in evs]
    expect(short == [
        ("CallLegStateChanged", "callState"), ("CallLegStateChanged", "callState"),
        ("ParticipantsUpdated", "participantsUpdated"), ("PlayAudioResult", "playAudio"),
        ("PlayAudioResult", "playAudio"), ("DtmfReceived", "dtmf"), ("DtmfReceived", "dtmf"),
        ("InviteParticipantResult", "inviteParticipantResult"),
        ("ParticipantsUpdated", "participantsUpdated"),
        ("ParticipantsUpdated", "participantsUpdated"),
        ("ParticipantsUpdated", "participantsUpdated"),
        ("CallLegStateChanged", "callState"), ("CallLegStateChanged", "callState")], short)
    expect(all(e["subject"] == "callLeg/%s/%s" % (call, s) for e, (_, s) in zip(evs, short)),
           "subjects")
    states = [e["data"] for e in evs if e["eventType"].endswith("CallLegStateChanged")]
    expect([s["CallState"] for s in states] ==
           ["Establishing", "Established", "Terminating", "Terminated"], states)
    expect(list(states[0]) == ["ConversationId", "CallLegId", "CallState"], states[0])
    expect(states[0]["ConversationId"] is None and isinstance(states[1]["ConversationId"], str)
           and len(states[1]["ConversationId"]) > 20, states[:2])
    expect(states[2]["ConversationId"] == states[1]["ConversationId"], states)

    pu = evs[2]["data"]
    expect(list(pu) == ["CallLegId", "Participants"], pu)
    expect(pu["Participants"] == [
        {"Identifier": preview_identifier(ALICE), "ParticipantId": parts[ALICE], "IsMuted": False},
        {"Identifier": preview_identifier(BOB), "ParticipantId": parts[BOB], "IsMuted": False}],
        pu)

    done, cancelled = evs[3]["data"], evs[4]["data"]
    expect(list(done) == ["ResultInfo", "OperationContext", "Status", "CallLegId"], done)
    expect(done["ResultInfo"] == {"Code": 200, "Subcode": 0,
                                  "Message": "Action completed successfully."}, done)
    expect(done["OperationContext"] == "ctx-play-1" and done["Status"] == "Completed", done)
    expect(cancelled["ResultInfo"] == {"Code": 400, "Subcode": 8508,
                                       "Message": "Action falied, the operation was cancelled."},
           cancelled)
    expect(cancelled["OperationContext"] == "ctx-loop" and cancelled["Status"] == "Completed",
           cancelled)

    tones = [e["data"] for e in evs[5:7]]
    expect(tones == [{"ToneInfo": {"SequenceId": 1, "Tone": "Tone1"}, "CallLegId": call},
                     {"ToneInfo": {"SequenceId": 2, "Tone": "Pound"}, "CallLegId": call}], tones)

    inv = evs[7]["data"]
    expect(list(inv) == ["ResultInfo", "OperationContext", "Status", "CallLegId", "Participants"],
           inv)
    expect(inv["ResultInfo"] is None and inv["OperationContext"] == "ctx-invite" and
           inv["Status"] == "Completed" and inv["Participants"] == [preview_identifier(CAROL)],
           inv)
    raws = [[p["Identifier"]["RawId"] for p in e["data"]["Participants"]] for e in evs[8:11]]
    expect(raws == [[ALICE, BOB, CAROL], [ALICE, BOB], [ALICE, BOB]], raws)
    expect([p["IsMuted"] for p in evs[10]["data"]["Participants"]] == [False, True], evs[10])


def test_lifecycle_preview():
    rec = Receiver()
    try:
        with Emulator() as emu:
            call, parts = lifecycle(emu, rec)
            rec.wait(13)
            time.sleep(0.1)
            check_preview_lifecycle(rec, call, parts)
            expect(len(rec.events()) == 13, [type_of(e) for e in rec.events()])
            # one keep-alive connection for the call, closed once it has ended
            expect(rec.accepted == 1, "%d connections for one call" % rec.accepted)
            wait_for(lambda: rec.open == 0, "the ended call's connection to close")
            # each POST carries one object (the seed's form), to the callbackUri as given
            for path, headers, body in rec.posts:
                expect(path == "/callbacks/calls?tenant=t1", path)
                expect(headers["content-type"] == "application/json", headers)
                expect(headers["host"] == "127.0.0.1:%d" % rec.port, headers)
                expect(isinstance(json.loads(body), dict), body)
            # the record: every emission, in order, delivered once
            recs = emu.records()
            expect([r["seq"] for r in recs] == list(range(1, 14)), recs)
            expect(all(r["delivered"] and r["attempts"] == 1 and r["status"] == 200 and
                       r["call_leg_id"] == call for r in recs), recs)
            expect([r["type"] for r in recs] == [type_of(e) for e in rec.events()], recs)
            expect([r["id"] for r in recs] == [e["id"] for e in rec.events()], recs)
            times = [r["emitted_at_us"] for r in recs]
            expect(times == sorted(times) and abs(times[0] / 1e6 - time.time()) < 60, times)
            expect([r["seq"] for r in emu.records(since=10)] == [11, 12, 13], "since")
            status, _, data = emu.request("GET", "/emulator/events?since=2&limit=2",
                                          signed=False)
            expect([r["seq"] for r in json.loads(data)] == [3, 4], data)
    finally:
        rec.close()


def test_lifecycle_eventgrid():
    rec = Receiver()
    try:
        with Emulator("--format", "eventgrid") as emu:
            call, parts = lifecycle(emu, rec)
            rec.wait(13)
            check_preview_lifecycle(rec, call, parts, eventgrid=True)
            for _, headers, body in rec.posts:
                doc = json.loads(body)
                expect(isinstance(doc, list) and len(doc) == 1, body)
                expect(headers["aeg-event-type"] == "Notification" and
                       headers["aeg-delivery-count"] == "0", headers)
            ids = [e["id"] for e in rec.events()]
            expect(len(set(ids)) == len(ids), "event ids repeat")
    finally:
        rec.close()


def test_lifecycle_cloudevents():
    rec = Receiver()
    try:
        with Emulator("--format", "cloudevents") as emu:
            call, parts = lifecycle(emu, rec, ce=True)
            evs = rec.wait(12)
            time.sleep(0.1)
            evs = rec.events()
            for _, _, body in rec.posts:
                doc = json.loads(body)
                expect(isinstance(doc, list) and len(doc) == 1, body)
            for ev in evs:
                expect(set(ev) == CE_KEYS, ev)
                expect(ev["specversion"] == "1.0" and ev["datacontenttype"] == "application/json",
                       ev)
                expect(UUID.match(ev["id"]) and GA_TIME.match(ev["time"]), ev)
                expect(ev["source"] == ev["subject"] == "calling/callConnections/" + call, ev)
                expect(ev["data"]["callConnectionId"] == call, ev)
                expect(all(k[0].islower() for k in ev["data"]), ev["data"])
            types = [e["type"].split(".")[-1] for e in evs]
            expect(types == ["CallConnected", "ParticipantsUpdated", "PlayCompleted",
                             "PlayCanceled", "ContinuousDtmfRecognitionToneReceived",
                             "ContinuousDtmfRecognitionToneReceived", "AddParticipantSucceeded",
                             "ParticipantsUpdated", "RemoveParticipantSucceeded",
                             "ParticipantsUpdated", "ParticipantsUpdated", "CallDisconnected"],
                   types)
            d = [e["data"] for e in evs]
            expect("operationContext" not in d[0] and d[0]["serverCallId"], d[0])
            expect(d[1]["participants"][0] == {
                "identifier": {"rawId": ALICE, "kind": "communicationUser",
                               "communicationUser": {"id": ALICE}},
                "isMuted": False, "isOnHold": False}, d[1])
            seqs = [x["sequenceNumber"] for x in d if "participants" in x]
            expect(seqs == [1, 2, 3, 4], seqs)
            expect(d[2]["operationContext"] == "ctx-play-1" and
                   d[2]["resultInformation"] == {"code": 200, "subCode": 0,
                                                 "message": "Action completed successfully."},
                   d[2])
            expect(d[3]["operationContext"] == "ctx-loop" and
                   d[3]["resultInformation"] == {
                       "code": 400, "subCode": 8508,
                       "message": "Action falied, the operation was cancelled."}, d[3])
            expect([x["toneInfo"] for x in d[4:6]] == [{"sequenceId": 1, "tone": "one"},
                                                       {"sequenceId": 2, "tone": "pound"}], d[4:6])
            expect(d[6]["participant"]["rawId"] == CAROL and
                   d[6]["operationContext"] == "ctx-invite" and
                   d[6]["resultInformation"]["code"] == 200, d[6])
            expect(d[8]["participant"]["rawId"] == CAROL and "operationContext" not in d[8], d[8])
            expect([p["isMuted"] for p in d[10]["participants"]] == [False, True], d[10])
    finally:
        rec.close()


def test_conversations_and_far_end():
    rec, rec2 = Receiver(), Receiver()
    try:
        with Emulator() as emu:
            call = emu.create(rec)
            wait_for(lambda: emu.state(call)["state"] == "Established", "Established")
            conv = emu.state(call)["conversationId"]
            status, _, data = emu.call("POST", "/calling/conversations/%s/join" % conv, {
                "source": {"communicationUser": {"id": CAROL}}, "callbackUri": rec2.url,
                "requestedModalities": ["audio"], "requestedCallEvents": ["participantsUpdated"]})
            expect(status == 200, (status, data))
            leg2 = json.loads(data)["callLegId"]
            expect(leg2 != call and emu.state(leg2)["conversationId"] == conv, "join")
            rec2.wait(3)
            # both legs hear that Carol arrived, with the same participant ids
            wait_for(lambda: [type_of(e) for e in rec.events()].count(
                "Microsoft.Communication.ParticipantsUpdated") == 2, "update on leg 1")
            last1 = rec.events()[-1]["data"]["Participants"]
            last2 = rec2.events()[-1]["data"]["Participants"]
            expect(last1 == last2 and len(last1) == 3, (last1, last2))
            # the conversation API reaches every leg
            emu.settle(call, leg2)
            n1, n2 = len(rec.events()), len(rec2.events())
            status, _, data = emu.call("POST", "/calling/conversations/%s/participants" % conv, {
                "participants": [{"phoneNumber": {"value": "+14251001000"}}],
                "operationContext": "conv-invite"})
            expect(status == 202, (status, data))
            rec.wait(n1 + 2)
            rec2.wait(n2 + 2)
            for r in (rec, rec2):
                inv = [e for e in r.events() if type_of(e).endswith("InviteParticipantResult")][0]
                expect(inv["data"]["Participants"] == [{
                    "RawId": "4:+14251001000", "CommunicationUser": None,
                    "PhoneNumber": {"Value": "+14251001000"}, "MicrosoftTeamsUser": None}], inv)
            # inviting someone already there fails the invitation
            status, _, data = emu.call("POST", "/calling/calls/%s/participants" % call, {
                "participants": [{"communicationUser": {"id": BOB}}],
                "operationContext": "again"})
            expect(status == 202, data)
            failed = wait_for(lambda: [e for e in rec.events()
                                       if e["data"].get("OperationContext") == "again"],
                              "failed invite")[0]
            expect(failed["data"]["Status"] == "Failed" and
                   failed["data"]["ResultInfo"]["Code"] == 400, failed)
            status, _, data = emu.call("DELETE", "/calling/conversations/%s/participants/%s"
                                       % (conv, "4%3A%2B14251001000"))
            expect(status == 202, (status, data))
            wait_for(lambda: len(rec2.events()[-1]["data"].get("Participants", [])) == 3,
                     "removal")
            # the far end: join, leave, drop
            status, _, data = emu.control(call, "join", {"participant": "+14255550100"})
            expect(status == 202 and "4:+14255550100" in
                   [p["rawId"] for p in json.loads(data)["participants"]], data)
            status, _, data = emu.control(call, "leave", {"participant": "4:+14255550100"})
            expect(status == 202 and len(json.loads(data)["participants"]) == 3, data)
            emu.settle(call, leg2)
            n = len(rec.events())
            status, _, data = emu.control(call, "hangup")
            expect(status == 202, data)
            evs = rec.wait(n + 2)
            expect([e["data"]["CallState"] for e in evs[n:n + 2]] == ["Terminating", "Terminated"],
                   evs[n:])
            # the other leg saw Alice leave
            wait_for(lambda: ALICE not in [p["Identifier"]["RawId"] for p in
                                           rec2.events()[-1]["data"].get("Participants", [{
                                               "Identifier": {"RawId": ALICE}}])], "Alice left")
            expect(emu.state(leg2)["state"] == "Established", "leg 2 still up")
    finally:
        rec.close()
        rec2.close()


def test_play_queue_early_requests_and_identifier_forms():
    rec = Receiver()
    try:
        with Emulator("--step-delay", "1s", "--play-duration", "100ms") as emu:
            # Establishing: plays, invites and tones are refused, a hang-up is not
            early = emu.create(rec)
            status, _, data = emu.call("POST", "/calling/calls/%s/PlayAudio" % early,
                                       {"audioFileUri": "https://x/a.wav"})
            expect(status == 400 and error_of(data)["code"] == "CallNotEstablished", data)
            status, _, data = emu.call("POST", "/calling/calls/%s/participants" % early,
                                       {"participants": [{"communicationUser": {"id": CAROL}}]})
            expect(status == 400 and error_of(data)["code"] == "CallNotEstablished", data)
            status, _, data = emu.control(early, "dtmf", {"tones": "1"})
            expect(status == 409 and error_of(data)["code"] == "CallNotEstablished", data)
            status, _, _ = emu.call("POST", "/calling/calls/%s/Hangup" % early)
            expect(status == 202, status)
            wait_for(lambda: emu.state(early)["state"] == "Terminated", "Terminated", timeout=20)
            emu.settle(early)
            states = [e["data"]["CallState"] for e in rec.events()]
            expect(states == ["Establishing", "Terminating", "Terminated"], states)

            # identifiers in every form the API takes, and a group id joined first
            status, _, data = emu.call("POST", "/calling/conversations/group-42/join", {
                "source": {"rawId": ALICE}, "callbackUri": rec.url})
            expect(status == 200, (status, data))
            call = json.loads(data)["callLegId"]
            expect(emu.state(call)["conversationId"] == "group-42", emu.state(call))
            wait_for(lambda: emu.state(call)["state"] == "Established", "Established",
                     timeout=20)
            status, _, data = emu.call("POST", "/calling/calls/%s/participants" % call, {
                "participants": [{"microsoftTeamsUser": {"userId": "t-1"}},
                                 {"phoneNumber": {"value": "+14251001000"}}],
                "alternateCallerId": {"value": "+18005550100"}})
            expect(status == 202, (status, data))
            raws = [p["rawId"] for p in emu.state(call)["participants"]]
            expect(raws == [ALICE, "8:orgid:t-1", "4:+14251001000"], raws)
            emu.settle(call)
            inv = [e for e in rec.events() if type_of(e).endswith("InviteParticipantResult")][0]
            expect(inv["data"]["Participants"][0] == {
                "RawId": "8:orgid:t-1", "CommunicationUser": None, "PhoneNumber": None,
                "MicrosoftTeamsUser": {"UserId": "t-1"}}, inv)

            # plays queue; a cancel ends the running one and the queued ones, in order
            n = len(rec.events())
            for ctx, loop in (("first", False), ("second", True), ("third", False)):
                status, _, _ = emu.call("POST", "/calling/calls/%s/PlayAudio" % call, {
                    "audioFileUri": "https://x/%s.wav" % ctx, "loop": loop,
                    "operationContext": ctx})
                expect(status == 202, status)
            expect(emu.state(call)["queuedPlays"] == 2, emu.state(call))
            wait_for(lambda: (emu.state(call)["play"] or {}).get("operationContext") == "second",
                     "the second play to start")
            status, _, _ = emu.call("POST", "/calling/calls/%s/CancelMediaProcessing" % call)
            expect(status == 202, status)
            evs = rec.wait(n + 3)[n:]
            got = [(e["data"]["OperationContext"], e["data"]["ResultInfo"]["Subcode"])
                   for e in evs]
            expect(got == [("first", 0), ("second", 8508), ("third", 8508)], got)

            # a loop still playing when the far end drops ends cancelled, before Terminating
            status, _, _ = emu.call("POST", "/calling/calls/%s/PlayAudio" % call, {
                "audioFileUri": "https://x/hold.wav", "loop": True, "operationContext": "hold"})
            expect(status == 202, status)
            emu.control(call, "unmute", {"participant": ALICE})  # no change: no event
            emu.control(call, "hangup")
            wait_for(lambda: emu.state(call)["state"] == "Terminated", "Terminated", timeout=20)
            emu.settle(call)
            tail = [(type_of(e).split(".")[-1], e["data"].get("OperationContext"),
                     e["data"].get("CallState")) for e in rec.events()[n + 3:]]
            expect(tail == [("PlayAudioResult", "hold", None),
                            ("CallLegStateChanged", None, "Terminating"),
                            ("CallLegStateChanged", None, "Terminated")], tail)
    finally:
        rec.close()


# --- delivery -----------------------------------------------------------------------------


def test_retries_then_delivered_once():
    rec = Receiver()
    rec.script = [500, 500]
    try:
        with Emulator("--retry-max", "5") as emu:
            call = emu.create(rec)
            recs = emu.wait_delivered(3)
            expect(recs[0]["attempts"] == 3 and recs[0]["status"] == 200, recs[0])
            expect(all(r["attempts"] == 1 for r in recs[1:]), recs)
            with rec.lock:
                bodies = [b for _, _, b in rec.posts]
            # three tries of the first event, byte for byte, and then the rest in order
            expect(len(bodies) == 5 and bodies[0] == bodies[1] == bodies[2], bodies)
            states = [json.loads(b)["data"].get("CallState") for b in bodies[2:4]]
            expect(states == ["Establishing", "Established"], states)
            expect(emu.state(call)["pendingEvents"] == 0, "queue drained")
    finally:
        rec.close()


def test_retries_give_up_and_unreachable_receiver():
    rec = Receiver()
    rec.script = [503] * 3
    try:
        with Emulator("--retry-max", "1", "--format", "eventgrid") as emu:
            emu.create(rec)
            wait_for(lambda: len(emu.records()) >= 3 and emu.records()[2]["delivered"],
                     "third event delivered")
            recs = emu.records()
            expect(not recs[0]["delivered"] and recs[0]["attempts"] == 2 and
                   recs[0]["status"] == 503, recs[0])
            expect(recs[1]["delivered"] and recs[1]["attempts"] == 2 and recs[1]["status"] == 200,
                   recs[1])
            expect(recs[2]["delivered"] and recs[2]["attempts"] == 1, recs[2])
            counts = [h["aeg-delivery-count"] for _, h, _ in rec.posts[:2]]
            expect(counts == ["0", "1"], counts)
            # nobody listening: every attempt fails without an HTTP status
            dead = Receiver()
            dead.close()
            status, _, data = emu.call("POST", "/calling/calls", {
                "source": {"communicationUser": {"id": ALICE}},
                "targets": [{"communicationUser": {"id": BOB}}], "callbackUri": dead.url})
            call = json.loads(data)["callLegId"]
            wait_for(lambda: (lambda r: len(r) >= 3 and all(x["attempts"] == 2 for x in r) and
                              emu.state(call)["pendingEvents"] == 0)(
                [x for x in emu.records() if x["call_leg_id"] == call]), "gave up")
            for x in [x for x in emu.records() if x["call_leg_id"] == call]:
                expect(not x["delivered"] and x["status"] == 0, x)
            expect("given up" in emu.log_text(), "no warning logged")
    finally:
        rec.close()


# --- into the daemon ----------------------------------------------------------------------


def test_events_are_journaled_by_the_daemon():
    for fmt in ("preview", "eventgrid", "cloudevents"):
        with Daemon() as d:
            rec = type("R", (), {})()
            rec.url = "http://127.0.0.1:%d/events" % d.port
            with Emulator("--format", fmt) as emu:
                call = emu.create(rec)
                wait_for(lambda: emu.state(call)["state"] == "Established", "Established")
                status, _, _ = emu.call("POST", "/calling/calls/%s/PlayAudio" % call, {
                    "audioFileUri": "https://example.com/a.wav", "operationContext": "p1"})
                expect(status == 202, status)
                emu.control(call, "dtmf", {"tones": "42"})
                wait_for(lambda: emu.state(call)["play"] is None, "play done")
                emu.call("POST", "/calling/calls/%s/Hangup" % call)
                wait_for(lambda: emu.state(call)["state"] == "Terminated", "Terminated")
                recs = wait_for(lambda: (lambda r: r if r and all(
                    x["delivered"] for x in r) and emu.state(call)["pendingEvents"] == 0
                    else None)(emu.records()), "all delivered")
                expect(all(x["status"] == 200 and x["attempts"] == 1 for x in recs), recs)
                rows = d.query("SELECT format, event_type, call_id FROM events ORDER BY id")
                expect(len(rows) == len(recs), (fmt, rows, recs))
                expect([r["event_type"] for r in rows] == [x["type"] for x in recs], rows)
                expect(all(r["call_id"] == call for r in rows), rows)
                expect({r["format"] for r in rows} == {fmt}, (fmt, rows))
                want = 8 if fmt != "cloudevents" else 6
                expect(len(rows) == want, (fmt, len(rows), rows))


if __name__ == "__main__":
    chtest.run(globals())
