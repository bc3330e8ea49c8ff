#!/usr/bin/env python3
"""bench/calls.py - scripted calls through callhookd-emulator into callhookd.

Drives CALLS calls, CONCURRENCY at a time, each through the emulator's REST
API (HMAC-signed like the service wants) and its control surface:

    create -> wait Established -> a participant joins -> DTMF tones ->
    PlayAudio -> wait for the play to end -> the participant leaves ->
    Hangup -> wait Terminated

while a poller thread reads the daemon's journal and derived tables
read-only every POLL_MS.  At the end it fetches every emission from
GET /emulator/events and prints, for the calls it made:

  - completed calls per second (scripts finished / wall time of the run);
  - events emitted, delivered, journaled, and with a derived row;
  - emission -> journal row latency (the daemon's own received_us: no poll
    involved), p50/p99;
  - emission -> derived row first seen by the poller, p50/p99, whose
    resolution is the poll interval (printed with it).

An event is matched to its journal row by its id (Event Grid, CloudEvents),
or, for the preview format that has none, as the k-th event of its type on
its call leg (the emulator delivers each leg's events in order).  A derived
row is any row of call_states, participant_snapshots, dtmf_tones,
media_events or invites pointing at that journal row: one per event for
every type the built-in handlers take.

Prints figures; asserts nothing.  Exit status 0 when it ran (even if calls
failed: that is a figure too), 2 when it could not.  Settings come from the
environment (bench/calls.sh sets them): EMULATOR_URL, ACCESS_KEY,
CALLBACK_URL, DB, and optionally CALLS, CONCURRENCY, POLL_MS, TONES,
WAIT_TIMEOUT, DRAIN_TIMEOUT.  Python 3 standard library only.
"""

import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import math
import os
import queue
import sqlite3
import sys
import threading
import time
import urllib.parse

DERIVED = ("call_states", "participant_snapshots", "dtmf_tones", "media_events", "invites")


def env(name, default=None, kind=str):
    value = os.environ.get(name, default)
    if value is None:
        sys.exit("calls.py: %s is not set" % name)
    try:
        return kind(value)
    except ValueError:
        sys.exit("calls.py: %s=%r is not a %s" % (name, value, kind.__name__))


class Emulator:
    """One keep-alive connection to the emulator (one per thread)."""

    def __init__(self, url, key):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.host_header = "%s:%d" % (self.host, self.port)
        self.key = key
        self.conn = None

    def request(self, method, path, body=None, signed=False):
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Host": self.host_header, "Content-Type": "application/json",
                   "Content-Length": str(len(data))}
        if signed:
            date = email.utils.formatdate(usegmt=True)
            digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
            to_sign = "%s\n%s\n%s;%s;%s" % (method, path, date, self.host_header, digest)
            sig = base64.b64encode(hmac.new(self.key, to_sign.encode(), hashlib.sha256).digest())
            headers.update({"x-ms-date": date, "x-ms-content-sha256": digest,
                            "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;"
                                             "x-ms-content-sha256&Signature=" + sig.decode()})
        for attempt in (1, 2):  # once more on a connection the server closed
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, data, headers)
                resp = self.conn.getresponse()
                text = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, text
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def api(self, method, path, body=None):
        sep = "&" if "?" in path else "?"
        return self.request(method, path + sep + "api-version=2021-06-15-preview", body, True)

    def get_json(self, path):
        status, text = self.request("GET", path)
        if status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, status, text[:200]))
        return json.loads(text)


class CallFailed(Exception):
    pass


def expect_status(what, got, text, *wanted):
    if got not in wanted:
        raise CallFailed("%s: HTTP %d %s" % (what, got, text[:200].decode("utf-8", "replace")))


def wait_call(emu, call_id, pred, what, timeout):
    deadline = time.monotonic() + timeout
    doc = None
    while time.monotonic() < deadline:
        doc = emu.get_json("/emulator/calls/%s" % call_id)
        if pred(doc):
            return doc
        time.sleep(0.01)
    raise CallFailed("%s: still %s after %.0f s" % (what, doc and doc.get("state"), timeout))


def script(emu, n, settings, created):
    """One call from create to Terminated; raises CallFailed.  The call's id
    goes into created as soon as it exists (its events count even if a later
    step fails)."""
    wait = settings["wait_timeout"]
    status, text = emu.api("POST", "/calling/calls", {
        "source": {"communicationUser": {"id": "8:acs:bench-app"}},
        "targets": [{"communicationUser": {"id": "8:acs:bench-callee-%d" % n}}],
        "subject": "bench call %d" % n,
        "callbackUri": settings["callback"],
        "requestedModalities": ["audio"],
        "requestedCallEvents": ["participantsUpdated", "dtmfReceived"]})
    expect_status("create", status, text, 200, 201)
    call_id = json.loads(text)["callLegId"]
    created.append(call_id)
    base = "/emulator/calls/%s" % call_id
    wait_call(emu, call_id, lambda d: d["state"] == "Established", "Established", wait)
    joiner = "8:acs:bench-joiner-%d" % n
    status, text = emu.request("POST", base + "/join", {"participant": joiner})
    expect_status("join", status, text, 200, 202)
    status, text = emu.request("POST", base + "/dtmf", {"tones": settings["tones"]})
    expect_status("dtmf", status, text, 200, 202)
    status, text = emu.api("POST", "/calling/calls/%s/PlayAudio" % call_id, {
        "audioFileUri": "https://media.example/bench.wav", "loop": False,
        "operationContext": "bench-%d" % n})
    expect_status("PlayAudio", status, text, 200, 202)
    wait_call(emu, call_id, lambda d: d.get("play") is None, "play end", wait)
    status, text = emu.request("POST", base + "/leave", {"participant": joiner})
    expect_status("leave", status, text, 200, 202)
    status, text = emu.api("POST", "/calling/calls/%s/Hangup" % call_id)
    expect_status("Hangup", status, text, 200, 202)
    wait_call(emu, call_id, lambda d: d["state"] == "Terminated", "Terminated", wait)
    return call_id


class Poller(threading.Thread):
    """Reads the journal and the derived tables every interval, read-only,
    and notes when each journal row and each derived row was first seen."""

    def __init__(self, db_path, interval):
        super().__init__(daemon=True)
        self.db_path, self.interval = db_path, interval
        self.journal = {}  # journal id -> (event_id, call_id, event_type, received_us)
        self.derived_at = {}  # journal id -> time.time() first seen derived
        self.max_id = 0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.error = None
        self.polls = 0

    def run(self):
        try:
            uri = "file:%s?mode=ro" % urllib.parse.quote(self.db_path)
            db = sqlite3.connect(uri, uri=True, timeout=5)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            self.tables = [t for t in DERIVED if t in tables]
            while not self.stop_flag.is_set():
                self.poll(db)
                self.stop_flag.wait(self.interval)
            self.poll(db)
            db.close()
        except sqlite3.Error as e:
            self.error = str(e)

    def poll(self, db):
        now = time.time()
        rows = db.execute("SELECT id, event_id, call_id, event_type, received_us FROM events "
                          "WHERE id > ? ORDER BY id", (self.max_id,)).fetchall()
        with self.lock:
            for r in rows:
                self.journal[r[0]] = r[1:]
                self.max_id = r[0]
            pending = [j for j in self.journal if j not in self.derived_at]
        if pending:
            low = min(pending)
            for t in self.tables:
                for (jid,) in db.execute("SELECT event_id FROM %s WHERE event_id >= ?" % t,
                                         (low,)):
                    if jid not in self.derived_at:
                        with self.lock:
                            self.derived_at[jid] = now
        self.polls += 1


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def ms(v):
    return "n/a" if v is None else "%.1f ms" % (v / 1000.0)


def main():
    settings = {
        "emulator": env("EMULATOR_URL"),
        "key": base64.b64decode(env("ACCESS_KEY")),
        "callback": env("CALLBACK_URL"),
        "db": env("DB"),
        "calls": env("CALLS", "200", int),
        "concurrency": env("CONCURRENCY", "20", int),
        "poll_ms": env("POLL_MS", "5", float),
        "tones": env("TONES", "123#"),
        "wait_timeout": env("WAIT_TIMEOUT", "60", float),
        "drain_timeout": env("DRAIN_TIMEOUT", "60", float),
    }
    if settings["calls"] < 1 or settings["concurrency"] < 1 or settings["poll_ms"] <= 0:
        sys.exit("calls.py: CALLS, CONCURRENCY and POLL_MS must be positive")

    poller = Poller(settings["db"], settings["poll_ms"] / 1000.0)
    poller.start()
    work = queue.Queue()
    for n in range(settings["calls"]):
        work.put(n)
    done, failed, durations, created = [], [], [], []
    lock = threading.Lock()

    def worker():
        emu = Emulator(settings["emulator"], settings["key"])
        while True:
            try:
                n = work.get_nowait()
            except queue.Empty:
                return
            start = time.monotonic()
            try:
                call_id = script(emu, n, settings, created)
            except (CallFailed, RuntimeError, OSError, http.client.HTTPException,
                    ValueError, KeyError) as e:
                with lock:
                    failed.append("call %d: %s" % (n, e))
                continue
            with lock:
                done.append(call_id)
                durations.append((time.monotonic() - start) * 1e6)

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(settings["concurrency"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start

    # every emission of our calls, then wait (bounded) for the daemon to catch up
    emu = Emulator(settings["emulator"], settings["key"])
    ours = set(created)
    deadline = time.monotonic() + settings["drain_timeout"]
    while True:
        records = [r for r in emu.get_json("/emulator/events?since=0")
                   if r["call_leg_id"] in ours]
        matched = match(records, poller)
        if all(j is not None and j in poller.derived_at for j in matched.values()) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    poller.stop_flag.set()
    poller.join(10)
    if poller.error:
        print("bench: reading the journal failed: %s" % poller.error, file=sys.stderr)
        return 2
    matched = match(records, poller)
    report(settings, elapsed, done, failed, durations, records, matched, poller)
    return 0


def match(records, poller):
    """seq of each emission -> its journal id (None when not journaled)."""
    with poller.lock:
        journal = dict(poller.journal)
    by_id, by_order = {}, {}
    for jid in sorted(journal):
        event_id, call_id, event_type, _ = journal[jid]
        if event_id is not None:
            by_id[event_id] = jid
        by_order.setdefault((call_id, event_type), []).append(jid)
    out, seen = {}, {}
    for r in records:
        if r.get("id"):
            out[r["seq"]] = by_id.get(r["id"])
            continue
        k = (r["call_leg_id"], r["type"])
        i = seen.get(k, 0)
        seen[k] = i + 1
        lst = by_order.get(k, [])
        out[r["seq"]] = lst[i] if i < len(lst) else None
    return out


def report(settings, elapsed, done, failed, durations, records, matched, poller):
    journal_lat, derived_lat, not_derived = [], [], {}
    for r in records:
        jid = matched.get(r["seq"])
        if jid is None:
            continue
        received_us = poller.journal[jid][3]
        journal_lat.append(received_us - r["emitted_at_us"])
        if jid in poller.derived_at:
            derived_lat.append(poller.derived_at[jid] * 1e6 - r["emitted_at_us"])
        else:
            not_derived[r["type"]] = not_derived.get(r["type"], 0) + 1
    journaled = sum(1 for j in matched.values() if j is not None)
    print("calls:            %d requested, %d completed, %d failed; concurrency %d; %.2f s" % (
        settings["calls"], len(done), len(failed), settings["concurrency"], elapsed))
    print("completed calls/s: %.1f" % (len(done) / elapsed if elapsed > 0 else 0.0))
    print("call script:      p50 %s, p99 %s (create to Terminated)" % (
        ms(percentile(durations, 50)), ms(percentile(durations, 99))))
    print("events emitted:   %d (delivered with a 2xx: %d)" % (
        len(records), sum(1 for r in records if r.get("delivered"))))
    print("events journaled: %d" % journaled)
    print("events derived:   %d%s" % (len(derived_lat), "" if not not_derived else
                                      "  (journaled, no derived row: %s)" % ", ".join(
                                          "%s %d" % kv for kv in sorted(not_derived.items()))))
    print("emission -> journal row (daemon's received_us): p50 %s, p99 %s" % (
        ms(percentile(journal_lat, 50)), ms(percentile(journal_lat, 99))))
    print("emission -> derived row first seen: p50 %s, p99 %s "
          "(resolution: polled every %g ms, %d polls)" % (
              ms(percentile(derived_lat, 50)), ms(percentile(derived_lat, 99)),
              settings["poll_ms"], poller.polls))
    for line in failed[:5]:
        print("failed: %s" % line)
    if len(failed) > 5:
        print("failed: ... and %d more" % (len(failed) - 5))


if __name__ == "__main__":
    sys.exit(main())
