"""End to end over loopback: callhookd-emulator + the daemon + the built-in
handlers + the ivr handler, in each of the three event formats.

A signed POST /calling/calls creates a call whose callbackUri is the
daemon's /events.  The emulator establishes it; the ivr plays its prompt
(an action the daemon signs and sends back to the emulator); a guest joins
and leaves; the callee presses 1 2 #; the ivr cancels the prompt, plays the
confirmation and hangs up once it has played.  Then the reports
(callhookctl report calls|participants|dtmf|media --call ID) and the journal
must show the whole call, with every event the emulator emitted journaled
exactly once, and the emulator must have served the ivr's requests.
"""

import base64
import http.client
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time

import chtest
from chtest import Daemon, expect

BIN_DIR = os.path.dirname(os.path.abspath(chtest.CALLHOOKD))
EMULATOR = os.environ.get("CALLHOOKD_EMULATOR", os.path.join(BIN_DIR, "callhookd-emulator"))
CALLHOOKCTL = os.environ.get("CALLHOOKCTL", os.path.join(BIN_DIR, "callhookctl"))
API_VERSION = "2021-06-15-preview"
KEY = base64.b64encode(b"callhookd end-to-end test key!!!").decode()
PROMPT = "https://media.example/incident-prompt.wav"
CONFIRM = "https://media.example/incident-confirm.wav"
CALLER = "8:acs:e2e-caller"
CALLEE = "8:acs:e2e-callee"
GUEST = "8:acs:e2e-guest"


def wait(what, probe, timeout=20, interval=0.05):
    """Poll probe() until it returns something true (bounded); return it."""
    deadline = time.monotonic() + timeout * chtest.SLOW
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Emulator:
    """callhookd-emulator on 127.0.0.1 port 0; the port from its one stdout line."""

    def __init__(self, fmt, extra=()):
        self.dir = tempfile.mkdtemp(prefix="callhookd-emu-")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [EMULATOR, "--listen", "127.0.0.1:0", "--access-key", KEY, "--format", fmt]
            + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log)
        self.port = None
        line = b""
        deadline = time.monotonic() + 15 * chtest.SLOW
        while b"\n" not in line and time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        text = line.decode("utf-8", "replace").strip()
        expect(text.startswith("listening on 127.0.0.1:"),
               "emulator did not start: %r\n%s" % (text, self.log_text()))
        self.port = int(text.rsplit(":", 1)[1])
        # Whatever else it prints must not fill the pipe and stall it.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        """Stop it; like chtest's Daemon.finish, no sanitizer may have reported anything."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10 * chtest.SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        log = self.log_text()
        shutil.rmtree(self.dir, ignore_errors=True)
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            expect(marker not in log, "emulator sanitizer report:\n" + log)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10 * chtest.SLOW)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data
        finally:
            conn.close()

    def control(self, method, path, doc=None):
        body = json.dumps(doc).encode() if doc is not None else None
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        status, data = self.request(method, path, body, hdrs)
        expect(200 <= status < 300, "%s %s: %d %r" % (method, path, status, data))
        return json.loads(data) if data.strip() else None

    def signed(self, method, path, doc, key=KEY):
        """A request signed as ACS does it (chtest.acs_sign)."""
        body = json.dumps(doc).encode()
        host = "127.0.0.1:%d" % self.port
        headers = chtest.acs_sign(key, method, path, host, body)
        headers.update({"Content-Type": "application/json", "Host": host})
        return self.request(method, path, body, headers)

    def call(self, call_id):
        return self.control("GET", "/emulator/calls/" + call_id)

    def events(self):
        return self.control("GET", "/emulator/events?since=0")

    def served(self, call_id):
        """The REST requests on a call the emulator logged (-v): [(method, action, status)]."""
        out = []
        for m in re.finditer(r'msg="emulator: request" method=(\S+) uri="?/calling/calls/'
                             r'([^/?\s"]+)/(\w+)\?[^\s"]*"? status=(\d+)', self.log_text()):
            if m.group(2) == call_id:
                out.append((m.group(1), m.group(3), int(m.group(4))))
        return out


def daemon_config(emu_port):
    return "\n".join([
        "[handlers]", "retry_base = 50ms", "retry_max = 500ms",
        "[actions]",
        "connection_string = endpoint=http://127.0.0.1:%d/;accesskey=%s" % (emu_port, KEY),
        "timeout = 5s",
        "[handler ivr]", "prompt_uri = " + PROMPT, "confirm_uri = " + CONFIRM, ""])


def ctl_json(db, *args):
    proc = subprocess.run([CALLHOOKCTL, "--db", db] + list(args) + ["--format", "json"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=30 * chtest.SLOW)
    expect(proc.returncode == 0, "callhookctl %r: %d %s" % (args, proc.returncode, proc.stderr))
    return json.loads(proc.stdout)


def current_play(state):
    """The operationContext of the play the emulator says is running, or None."""
    return (state.get("play") or {}).get("operationContext")


def participants(state):
    return [p["rawId"] for p in state["participants"]]


def delivered(emu, call):
    """The emulator's record of the call's events once every one was delivered, else None."""
    mine = [e for e in emu.events() if e["call_leg_id"] == call]
    return mine if mine and all(e["delivered"] for e in mine) else None


def whole_call(fmt):
    emu = Emulator(fmt, ["--step-delay", "50ms", "--play-duration", "3s", "-v"])
    try:
        with Daemon(config=daemon_config(emu.port)) as d:
            run_call(emu, d, fmt)
    finally:
        emu.close()


def run_call(emu, d, fmt):
    # --- the call, created the way an application does ---
    status, data = emu.signed("POST", "/calling/calls?api-version=" + API_VERSION, {
        "source": {"communicationUser": {"id": CALLER}},
        "targets": [{"communicationUser": {"id": CALLEE}}],
        "subject": "incident report",
        "callbackUri": "http://127.0.0.1:%d/events" % d.port,
        "requestedModalities": ["audio"],
        "requestedCallEvents": ["participantsUpdated", "dtmfReceived"]})
    expect(status in (200, 201), "create call: %d %r\n%s" % (status, data, emu.log_text()))
    call = json.loads(data)["callLegId"]
    bad_signature(emu)

    # The ivr's prompt is playing (the daemon signed and sent PlayAudio).
    wait("the prompt", lambda: current_play(emu.call(call)) == "ivr:prompt")
    emu.control("POST", "/emulator/calls/%s/join" % call, {"participant": GUEST})
    wait("the guest", lambda: GUEST in participants(emu.call(call)))
    emu.control("POST", "/emulator/calls/%s/leave" % call, {"participant": GUEST})
    wait("the guest to leave", lambda: GUEST not in participants(emu.call(call)))
    emu.control("POST", "/emulator/calls/%s/dtmf" % call, {"tones": "12#"})

    # The ivr hangs up once the confirmation has played.
    wait("the hangup", lambda: emu.call(call).get("state") == "Terminated", timeout=30)
    emitted = wait("every event delivered", lambda: delivered(emu, call))
    wait("the handlers", lambda: all(r["backlog"] == 0 for r in ctl_json(d.db, "handlers"))
         and d.count("call_id = ?", (call,)) >= len(emitted))
    check_journal(d, fmt, call, emitted)
    check_reports(d, call)
    check_ivr(d, emu, call)
    check_replay(d, emu, call)


def bad_signature(emu):
    """The emulator verifies what it serves: the same request under another key is a 401."""
    status, data = emu.signed("POST", "/calling/calls?api-version=" + API_VERSION, {
        "source": {"communicationUser": {"id": CALLER}},
        "targets": [{"communicationUser": {"id": CALLEE}}],
        "callbackUri": "http://127.0.0.1:9/events", "requestedModalities": ["audio"]},
        key=base64.b64encode(b"not the key of this emulator....").decode())
    expect(status == 401 and "code" in json.loads(data), (status, data))


def check_journal(d, fmt, call, emitted):
    """Every emitted event journaled exactly once, in the format asked for."""
    rows = d.query("SELECT format, event_type, event_id FROM events WHERE call_id = ?", (call,))
    expect(all(r["format"] == fmt for r in rows), rows)
    expect(len(rows) == len(emitted),
           "journal has %d events of the call, the emulator emitted %d:\n%r\n%r"
           % (len(rows), len(emitted), rows, emitted))
    for e in emitted:
        if e["id"]:
            n = d.count("event_id = ? AND call_id = ?", (e["id"], call))
            expect(n == 1, "event %s (%s) journaled %d times" % (e["id"], e["type"], n))
    by_type = {}
    for e in emitted:
        by_type[e["type"]] = by_type.get(e["type"], 0) + 1
    for t, n in by_type.items():
        got = d.count("event_type = ? AND call_id = ?", (t, call))
        expect(got == n, "%s: journaled %d, emitted %d" % (t, got, n))
    dead = d.query("SELECT handler, event_id, last_error FROM deliveries WHERE state != 'done'")
    expect(dead == [], "deliveries not done: %r" % dead)


def check_reports(d, call):
    calls = ctl_json(d.db, "report", "calls", "--call", call)
    expect(len(calls) == 1, calls)
    c = calls[0]
    expect(c["established_at"] and c["ended_at"] and c["final_state"] == "Terminated", c)

    people = ctl_json(d.db, "report", "participants", "--call", call)
    guest = [(p["action"]) for p in people if p["participant_key"] == GUEST]
    expect(guest == ["join", "leave"], "guest: %r in %r" % (guest, people))
    expect(len(people) == len({(p["participant_key"], p["action"], p["event_id"])
                               for p in people}), "repeated participant rows: %r" % people)

    dtmf = ctl_json(d.db, "report", "dtmf", "--call", call)
    expect([(r["tones"], r["tone_count"]) for r in dtmf] == [("12#", 3)], dtmf)

    media = {r["operation_context"]: r for r in ctl_json(d.db, "report", "media", "--call", call)}
    expect(set(media) == {"ivr:prompt", "ivr:confirm"}, media)
    prompt, confirm = media["ivr:prompt"], media["ivr:confirm"]
    expect((prompt["outcome"], prompt["code"], prompt["subcode"]) == ("cancelled", 400, 8508)
           or prompt["outcome"] == "completed", prompt)
    expect(confirm["outcome"] == "completed", confirm)


def check_ivr(d, emu, call):
    choice = d.query("SELECT digits, completed_by, confirm_outcome, hung_up FROM ivr_choices"
                     " WHERE call_id = ?", (call,))
    expect(choice == [{"digits": "12", "completed_by": "terminator",
                       "confirm_outcome": "completed", "hung_up": 1}], choice)
    # What the ivr asked for, each sent once, signed (the emulator answers 401
    # otherwise) and accepted.
    acts = d.query("SELECT kind, state, http_status, json_extract(body, '$.operationContext') AS ctx,"
                   " json_extract(body, '$.audioFileUri') AS uri FROM actions"
                   " WHERE handler = 'ivr' AND call_id = ? ORDER BY id", (call,))
    kinds = [(a["kind"], a["ctx"], a["uri"]) for a in acts]
    # The prompt is cancelled when the tones come before it ends (it plays 3 s);
    # a slow run may see it complete first, and then there is nothing to cancel.
    cancelled = d.query("SELECT prompt_outcome AS o FROM ivr_calls WHERE call_id = ?",
                        (call,))[0]["o"] == "cancelled"
    want = [("play_audio", "ivr:prompt", PROMPT)]
    want += [("cancel_media", "ivr:cancel", None)] if cancelled else []
    want += [("play_audio", "ivr:confirm", CONFIRM), ("hangup", None, None)]
    expect(kinds == want, "actions %r, wanted %r" % (acts, want))
    expect(all(a["state"] == "sent" and a["http_status"] == 202 for a in acts), acts)
    # The emulator's side: each request arrived once and passed its signature check.
    want = [("POST", "PlayAudio", 202)]
    want += [("POST", "CancelMediaProcessing", 202)] if cancelled else []
    want += [("POST", "PlayAudio", 202), ("POST", "Hangup", 202)]
    served = emu.served(call)
    expect(served == want, "emulator served %r, wanted %r" % (served, want))


def check_replay(d, emu, call):
    """`callhookctl replay --handler ivr` over the whole call, with the daemon
    stopped: the ivr's state and its outbox stay as they are, nothing is
    sent again."""
    expect(d.stop() == 0, d.log_text())
    before = (d.query("SELECT * FROM ivr_calls"), d.query("SELECT * FROM ivr_tones"),
              d.query("SELECT * FROM actions"))
    served = emu.served(call)
    cmd = [CALLHOOKCTL, "-c", os.path.join(d.dir, "callhookd.conf"), "--db", d.db, "replay",
           "--handler", "ivr"]
    if chtest.HANDLERS_DIR is not None:
        cmd += ["--handlers-dir", chtest.HANDLERS_DIR]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=60 * chtest.SLOW)
    expect(proc.returncode == 0, "replay: %d %s" % (proc.returncode, proc.stderr))
    after = (d.query("SELECT * FROM ivr_calls"), d.query("SELECT * FROM ivr_tones"),
             d.query("SELECT * FROM actions"))
    expect(after == before, "replay changed the ivr's rows:\n%r\n%r" % (before, after))
    n = d.query("SELECT count(*) AS n FROM deliveries WHERE handler = 'ivr' AND state = 'done'")
    expect(n[0]["n"] == d.count("call_id = ? AND event_type NOT LIKE '%ParticipantsUpdated'",
                                (call,)), "ivr deliveries after the replay: %r" % n)
    time.sleep(0.2 * chtest.SLOW)
    expect(emu.served(call) == served, "requests after the replay: %r" % emu.served(call))


def test_preview():
    whole_call("preview")


def test_eventgrid():
    whole_call("eventgrid")


def test_cloudevents():
    whole_call("cloudevents")


if __name__ == "__main__":
    chtest.run(globals())
