"""callhookctl against a journal the real daemon wrote: reports over a whole
call, the journal, output formats, filters, dead deliveries, replay, errors.

One preview-format call (the seed's shapes, one CallLegId throughout, posted
partly out of order) and one GA CloudEvents call from the fixtures are
posted over HTTP; the built-in handlers derive their history; callhookctl
must then report exactly what the events say.
"""

import csv
import io
import json
import os
import sqlite3
import subprocess
import time

import chtest
from chtest import Daemon, expect, fixture

CALLHOOKCTL = os.environ.get(
    "CALLHOOKCTL", os.path.join(os.path.dirname(os.path.abspath(chtest.CALLHOOKD)), "callhookctl"))
HANDLERS_DIR = chtest.HANDLERS_DIR or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(chtest.CALLHOOKD))), "handlers")
PROBE = os.path.join(os.environ.get("TEST_HANDLERS_DIR", "tests/handlers/.libs"), "th_probe.so")

CALL = "531f3600-481f-41c8-8a75-3e8b2e8e6200"
CONVERSATION = ("aHR0cHM6Ly9jb252LXVzc2MtMDIuY29udi5za3lwZS5jb20vY29udi92RFNacTFyTEIwdVotM0dQdjBa"
                "bUpnP2k9OCZlPTYzNzU1NzQzNzg4NTgzMTgxMQ")
GA_CALL = "421f0b00-54a2-4c3b-8d1f-3e6a7b9c0d12"
USER = "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-"
ALICE, BOB, CAROL = USER + "7904-f8c2-51b9-a43a0d0010d9", USER + "547e-c56e-71bf-a43a0d002dc1", \
    USER + "de04-ee58-740a-113a0d00330d"
DTMF = "Microsoft.Communication.DtmfReceived"


# --- the preview call, in the seed's shapes -------------------------------
def preview(kind, event_type, time, data):
    body = {"CallLegId": CALL}
    body.update(data)
    return {"id": None, "topic": None, "subject": "callLeg/%s/%s" % (CALL, kind), "data": body,
            "eventType": event_type, "eventTime": time, "metadataVersion": None,
            "dataVersion": None}


def state(name, time):
    return preview("callState", "Microsoft.Communication.CallLegStateChanged", time,
                   {"ConversationId": None if name == "Establishing" else CONVERSATION,
                    "CallState": name})


def participants(time, *raw_ids):
    members = [{"Identifier": {"RawId": r, "CommunicationUser": {"Id": r}, "PhoneNumber": None,
                               "MicrosoftTeamsUser": None},
                "ParticipantId": "p-" + r[-4:], "IsMuted": False} for r in raw_ids]
    return preview("participantsUpdated", "Microsoft.Communication.ParticipantsUpdated", time,
                   {"Participants": members})


def tone(seq, name, time):
    return preview("dtmf", DTMF, time, {"ToneInfo": {"SequenceId": seq, "Tone": name}})


def play(context, code, subcode, message, time):
    return preview("playAudio", "Microsoft.Communication.PlayAudioResult", time,
                   {"ResultInfo": {"Code": code, "Subcode": subcode, "Message": message},
                    "OperationContext": context, "Status": "Completed"})


# Posting order: the third tone before the second, the leave before the
# last state changes, as the service's disorder allows.
PREVIEW_CALL = [
    state("Establishing", "2021-05-05T20:08:39.0157964Z"),
    state("Established", "2021-05-05T20:08:59.5783985Z"),
    participants("2021-05-05T20:09:00.0000000Z", ALICE, BOB),
    participants("2021-05-05T20:09:30.0000000Z", ALICE, BOB, CAROL),
    tone(1, "Tone1", "2021-05-05T20:10:00.0000000Z"),
    tone(3, "TonePound", "2021-05-05T20:10:02.0000000Z"),
    tone(2, "Tone2", "2021-05-05T20:10:01.0000000Z"),
    play("ctx-play-1", 200, 0, "Action completed successfully.", "2021-05-05T20:11:00.0000000Z"),
    play("ctx-play-2", 400, 8508, "Action falied, the operation was cancelled.",
         "2021-05-05T20:11:30.0000000Z"),
    participants("2021-05-05T20:12:00.0000000Z", ALICE, BOB),
    state("Terminating", "2021-05-05T20:13:45.7398707Z"),
    state("Terminated", "2021-05-05T20:13:46.1541814Z"),
]
GA_CALL_FILES = ["cloudevents/callconnected.json", "cloudevents/playfailed.json",
                 "cloudevents/calldisconnected.json"]
N_EVENTS = len(PREVIEW_CALL) + len(GA_CALL_FILES)


# --- running callhookctl ---------------------------------------------------
def ctl(db, *args, code=0, binary=False):
    """Run callhookctl; binary keeps stdout as bytes (text mode folds CR LF)."""
    cmd = [CALLHOOKCTL] + (["--db", db] if db else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=not binary, stdin=subprocess.DEVNULL,
                          timeout=30 * chtest.SLOW)
    expect(proc.returncode == code, "%r: exit %d, wanted %d\nstdout: %s\nstderr: %s"
           % (args, proc.returncode, code, proc.stdout, proc.stderr))
    return proc


def ctl_json(db, *args):
    proc = ctl(db, *(list(args) + ["--format", "json"]))
    doc = json.loads(proc.stdout)
    expect(isinstance(doc, list) and all(isinstance(r, dict) for r in doc), doc)
    return doc


def one_line_error(proc, *words):
    expect(proc.stderr.startswith("callhookctl: ") and proc.stderr.count("\n") == 1,
           "not one readable line: %r" % proc.stderr)
    expect(proc.stdout == "", "stdout on error: %r" % proc.stdout)
    for w in words:
        expect(w in proc.stderr, "%r not in %r" % (w, proc.stderr))


def settle(d, timeout=10):
    """Poll `callhookctl handlers` until every handler has caught up (bounded)."""
    deadline = time.monotonic() + timeout * chtest.SLOW
    rows = None
    while time.monotonic() < deadline:
        rows = ctl_json(d.db, "handlers")
        if rows and all(r["backlog"] == 0 for r in rows) and \
                d.count() == N_EVENTS and all(r["unqueued"] == 0 for r in rows):
            return rows
        time.sleep(0.1)
    raise AssertionError("handlers did not settle: %r\n%s" % (rows, d.log_text()))


def post_everything(d):
    for ev in PREVIEW_CALL:
        status, _, body = d.post(ev)
        expect(status == 200, (status, body))
    for name in GA_CALL_FILES:
        status, _, body = d.post(fixture(name))
        expect(status == 200, (status, body))


class Journal:
    """One daemon run with both calls posted and settled, shared by the tests
    that only read (they never change the journal)."""
    daemon = None

    @classmethod
    def get(cls):
        if cls.daemon is None:
            d = Daemon()
            d.start()
            try:
                post_everything(d)
                settle(d)
            except BaseException:
                d.cleanup()
                raise
            cls.daemon = d
        return cls.daemon

    @classmethod
    def close(cls):
        if cls.daemon is not None:
            try:
                cls.daemon.finish()
            finally:
                cls.daemon.cleanup()
                cls.daemon = None


# --- reports ----------------------------------------------------------------
def test_handlers_list_the_built_in_handlers_caught_up():
    d = Journal.get()
    rows = ctl_json(d.db, "handlers")
    names = [r["handler"] for r in rows]
    for h in ("callstate", "participants", "dtmf", "media"):
        expect(h in names, "%s missing from %r" % (h, names))
    for r in rows:
        expect(list(r) == ["handler", "module", "version", "event_types", "active", "loaded_at",
                           "cursor", "unqueued", "pending", "failed", "dead", "done",
                           "backlog"], list(r))
        expect(r["active"] == 1 and r["dead"] == 0 and r["cursor"] == N_EVENTS, r)
        expect(r["module"].endswith("/%s.so" % r["handler"]), r)
    by = {r["handler"]: r for r in rows}
    expect(by["dtmf"]["done"] == 3, by["dtmf"])  # three DtmfReceived
    truth = d.query("SELECT handler, count(*) AS n FROM deliveries WHERE state = 'done' "
                    "GROUP BY handler")
    done = {t["handler"]: t["n"] for t in truth}
    expect(all(r["done"] == done.get(r["handler"], 0) for r in rows), (truth, rows))


def test_report_calls():
    d = Journal.get()
    rows = ctl_json(d.db, "report", "calls")
    expect([r["call_id"] for r in rows] == [CALL, GA_CALL], rows)
    c = rows[0]
    expect(list(c) == ["call_id", "started_at", "established_at", "ended_at", "duration_s",
                       "final_state", "peak_participants", "conversation_id",
                       "correlation_id"], list(c))
    expect(c["started_at"] == "2021-05-05T20:08:39.015796Z", c)
    expect(c["established_at"] == "2021-05-05T20:08:59.578398Z", c)
    expect(c["ended_at"] == "2021-05-05T20:13:46.154181Z", c)
    expect(c["duration_s"] == 307.138, c)  # 5 min 7.138385 s
    expect(c["final_state"] == "Terminated", c)
    expect(c["peak_participants"] == 3, c)
    expect(c["conversation_id"] == CONVERSATION and c["correlation_id"] is None, c)
    g = rows[1]
    expect(g["started_at"] == "2025-06-16T20:52:32.989664Z", g)
    expect(g["ended_at"] == "2025-06-16T20:53:42.569117Z", g)
    expect(g["duration_s"] == 69.579, g)
    expect(g["correlation_id"] == "b1e9d7c5-3a2f-4e6d-8c1b-0a9f8e7d6c5b", g)
    expect(g["peak_participants"] is None, g)


def test_report_participants_is_a_timeline():
    d = Journal.get()
    rows = ctl_json(d.db, "report", "participants", "--call", CALL)
    got = [(r["event_time"], r["participant_key"], r["action"]) for r in rows]
    want = sorted([("2021-05-05T20:09:00.000000Z", ALICE, "join"),
                   ("2021-05-05T20:09:00.000000Z", BOB, "join"),
                   ("2021-05-05T20:09:30.000000Z", CAROL, "join"),
                   ("2021-05-05T20:12:00.000000Z", CAROL, "leave")])
    expect(got == want, got)
    expect(all(r["kind"] == "communicationUser" and r["call_id"] == CALL for r in rows), rows)
    # event_id points at the journal row of the snapshot that showed the change
    leave = rows[-1]
    shown = ctl_json(d.db, "events", "show", str(leave["event_id"]))[0]
    expect(shown["event_time"] == "2021-05-05T20:12:00.000000Z", shown)


def test_report_dtmf_in_sequence_order():
    d = Journal.get()
    rows = ctl_json(d.db, "report", "dtmf")
    expect(len(rows) == 1, rows)
    r = rows[0]
    expect(r == {"call_id": CALL, "tones": "12#", "tone_count": 3,
                 "first_at": "2021-05-05T20:10:00.000000Z",
                 "last_at": "2021-05-05T20:10:02.000000Z"}, r)


def test_report_media_outcomes():
    d = Journal.get()
    rows = ctl_json(d.db, "report", "media")
    got = [(r["call_id"], r["operation_context"], r["kind"], r["outcome"], r["code"],
            r["subcode"]) for r in rows]
    expect(got == [(CALL, "ctx-play-1", "play", "completed", 200, 0),
                   (CALL, "ctx-play-2", "play", "cancelled", 400, 8508),
                   (GA_CALL, "hold-music", "play", "failed", 400, 8535)], got)
    expect(rows[1]["message"] == "Action falied, the operation was cancelled.", rows[1])
    expect(rows[2]["started_at"] == "2025-06-16T20:52:44.200000Z", rows[2])
    expect(rows[2]["event_type"] == "Microsoft.Communication.PlayFailed", rows[2])


def test_report_daily():
    d = Journal.get()
    rows = ctl_json(d.db, "report", "daily")
    expect(rows == [
        {"day": "2021-05-05", "calls": 1, "completed": 1, "avg_duration_s": 307.138,
         "tones": 3, "failed_media": 0},
        {"day": "2025-06-16", "calls": 1, "completed": 1, "avg_duration_s": 69.579,
         "tones": 0, "failed_media": 1}], rows)
    rows = ctl_json(d.db, "report", "daily", "--since", "2025-06-16T23:00:00Z")
    expect([r["day"] for r in rows] == ["2025-06-16"], rows)  # the day overlaps the range


def test_report_filters():
    d = Journal.get()
    ids = lambda *a: [r["call_id"] for r in ctl_json(d.db, "report", "calls", *a)]
    expect(ids("--since", "2022-01-01") == [GA_CALL], "since")
    expect(ids("--until", "2022-01-01") == [CALL], "until")
    expect(ids("--since", "2021-05-05T20:08:39.015796Z") == [CALL, GA_CALL], "since inclusive")
    expect(ids("--until", "2021-05-05T20:08:39.015796Z") == [], "until exclusive")
    expect(ids("--since", "2021-05-05T22:08:39.015797+02:00") == [GA_CALL], "offset")
    expect(ids("--call", GA_CALL) == [GA_CALL], "call")
    expect(ids("--call", "nope") == [], "unknown call")
    rows = ctl_json(d.db, "report", "media", "--since", "2021-05-05T20:11:10Z",
                    "--until", "2022-01-01")
    expect([r["operation_context"] for r in rows] == ["ctx-play-2"], rows)
    rows = ctl_json(d.db, "report", "participants", "--since", "2021-05-05T20:10:00Z")
    expect([(r["participant_key"], r["action"]) for r in rows] == [(CAROL, "leave")], rows)
    expect(ctl_json(d.db, "report", "dtmf", "--call", GA_CALL) == [], "dtmf --call")


# --- formats ------------------------------------------------------------------
def test_csv_output():
    d = Journal.get()
    out = ctl(d.db, "report", "calls", "--format", "csv", binary=True).stdout.decode()
    expect(out.endswith("\r\n") and "\n" not in out.replace("\r\n", ""), repr(out))
    rows = list(csv.reader(io.StringIO(out, newline="")))
    expect(rows[0] == ["call_id", "started_at", "established_at", "ended_at", "duration_s",
                       "final_state", "peak_participants", "conversation_id",
                       "correlation_id"], rows[0])
    expect(rows[1][:7] == [CALL, "2021-05-05T20:08:39.015796Z", "2021-05-05T20:08:59.578398Z",
                           "2021-05-05T20:13:46.154181Z", "307.138", "Terminated", "3"], rows[1])
    expect(rows[1][8] == "" and rows[2][6] == "", "NULL is an empty field")
    # quoting: the cancelled play's message has a comma
    out = ctl(d.db, "report", "media", "--format", "csv", binary=True).stdout.decode()
    expect('"Action falied, the operation was cancelled."' in out, out)
    rows = list(csv.reader(io.StringIO(out, newline="")))
    expect(rows[2][6] == "Action falied, the operation was cancelled.", rows[2])


def test_table_output():
    d = Journal.get()
    lines = ctl(d.db, "report", "calls").stdout.split("\n")
    expect(lines[-1] == "" and len(lines) == 5, lines)
    head, rule, first, second = lines[:4]
    expect(head.split() == ["call_id", "started_at", "established_at", "ended_at",
                            "duration_s", "final_state", "peak_participants",
                            "conversation_id", "correlation_id"], head)
    expect(set(rule) == {"-", " "}, rule)
    # columns line up: each value starts where its header does
    col = head.index("final_state")
    expect(first[col:].startswith("Terminated") and second[col:].startswith("Terminated"),
           (first, second))
    expect(first.startswith(CALL + "  ") and "307.138" in first, first)
    expect(all(not l.endswith(" ") for l in lines), "trailing blanks")
    # values wider than the cap are cut, never wrapped
    out = ctl(d.db, "report", "calls", "--call", CALL).stdout
    expect(CONVERSATION not in out and CONVERSATION[:40] in out and "\u2026" in out, out)


def test_json_is_one_array_and_escapes():
    d = Journal.get()
    out = ctl(d.db, "events", "list", "--format", "json", "--limit", "0").stdout
    doc = json.loads(out)  # one document
    expect(len(doc) == N_EVENTS, len(doc))
    expect(isinstance(doc[0]["id"], int) and doc[0]["id"] == 1, doc[0])
    expect(doc[0]["subject"] == "callLeg/%s/callState" % CALL, doc[0])
    empty = ctl(d.db, "report", "calls", "--call", "nope", "--format", "json").stdout
    expect(empty == "[]\n", repr(empty))
    # options before the command words work the same
    before = json.loads(ctl(d.db, "--format", "json", "report", "dtmf").stdout)
    expect(before == ctl_json(d.db, "report", "dtmf") and len(before) == 1, before)


# --- the journal ----------------------------------------------------------------
def test_events_list():
    d = Journal.get()
    rows = ctl_json(d.db, "events", "list")
    expect([r["id"] for r in rows] == list(range(1, N_EVENTS + 1)), rows)
    expect(list(rows[0]) == ["id", "received_at", "event_time", "format", "event_type",
                             "call_id", "subject"], rows[0])
    last2 = ctl_json(d.db, "events", "list", "--limit", "2")
    expect([r["id"] for r in last2] == [N_EVENTS - 1, N_EVENTS], last2)  # newest, oldest first
    tones = ctl_json(d.db, "events", "list", "--type", "Microsoft.Communication.Dtmf*")
    expect([r["event_type"] for r in tones] == [DTMF] * 3, tones)
    ga = ctl_json(d.db, "events", "list", "--call", GA_CALL)
    expect([r["format"] for r in ga] == ["cloudevents"] * 3, ga)
    window = ctl_json(d.db, "events", "list", "--since", "2021-05-05T20:10:00Z",
                      "--until", "2021-05-05T20:10:02Z")
    expect([r["event_time"] for r in window] ==
           ["2021-05-05T20:10:00.000000Z", "2021-05-05T20:10:01.000000Z"], window)
    expect(ctl_json(d.db, "events", "list", "--since", "2030-01-01") == [], "future")


def test_events_show():
    d = Journal.get()
    row = ctl_json(d.db, "events", "show", "2")[0]
    expect(row["raw"] == PREVIEW_CALL[1], row["raw"])  # the event itself, not a string
    expect(row["format"] == "preview" and row["call_id"] == CALL, row)
    expect(row["event_time_us"] == 1620245339578398, row)
    expect(len(row["dedupe_key"]) == 64, row)
    expect(all(s.endswith(":done") for s in row["deliveries"].split()) and
           "callstate:done" in row["deliveries"], row)
    raw = ctl(d.db, "events", "show", "2", "--raw").stdout
    journaled = d.query("SELECT raw FROM events WHERE id = 2")[0]["raw"]
    expect(raw == journaled + "\n", (raw, journaled))
    table = ctl(d.db, "events", "show", "2").stdout
    expect("\nevent_type     Microsoft.Communication.CallLegStateChanged\n" in table, table)
    expect('\nraw\n{\n  "id": null,\n' in table, table)  # pretty-printed
    proc = ctl(d.db, "events", "show", "999", code=1)
    one_line_error(proc, "999")


# --- errors -----------------------------------------------------------------------
def test_missing_database_is_a_usage_error_and_not_created():
    d = Journal.get()
    missing = os.path.join(d.dir, "nope", "journal.db")
    proc = ctl(missing, "report", "calls", code=2)
    one_line_error(proc, missing)
    expect(not os.path.exists(missing) and not os.path.exists(os.path.dirname(missing)),
           "created")
    # the default path (var/callhookd.db) relative to the working directory
    proc = subprocess.run([CALLHOOKCTL, "handlers"], cwd=d.dir, capture_output=True, text=True,
                          timeout=30 * chtest.SLOW)
    expect(proc.returncode == 2 and "var/callhookd.db" in proc.stderr, proc)
    expect(not os.path.exists(os.path.join(d.dir, "var")), "created var/")


def test_config_file_path_and_db_override():
    d = Journal.get()
    conf = os.path.join(d.dir, "ctl.conf")
    with open(conf, "w") as f:
        f.write("[store]\npath = %s\n" % d.db)
    rows = ctl_json(None, "-c", conf, "report", "calls")
    expect(len(rows) == 2, rows)
    proc = ctl(os.path.join(d.dir, "other.db"), "-c", conf, "report", "calls", code=2)
    one_line_error(proc, "other.db")  # --db wins over [store] path
    proc = ctl(d.db, "-c", os.path.join(d.dir, "missing.conf"), "handlers", code=2)
    one_line_error(proc, "missing.conf")


def test_usage_errors():
    d = Journal.get()
    cases = [
        (["--format", "xml", "handlers"], ["--format", "xml"]),
        (["handlers", "--format", "yaml"], ["yaml"]),
        (["frobnicate"], ["frobnicate"]),
        (["report", "calls", "--bogus"], ["--bogus"]),
        (["report", "weekly"], ["weekly"]),
        (["report", "daily", "--call", CALL], ["--call"]),
        (["events", "list", "--handler", "dtmf"], ["--handler"]),
        (["events", "list", "--since", "yesterday"], ["--since", "yesterday"]),
        (["events", "list", "--limit", "-1"], ["--limit"]),
        (["events", "show"], ["events show"]),
        (["events", "show", "abc"], ["abc"]),
        (["dead", "retry"], ["--all"]),
        (["replay"], ["--handler"]),
        ([], ["command"]),
    ]
    for args, words in cases:
        proc = ctl(d.db, *args, code=2)
        one_line_error(proc, *words)
    proc = ctl(None, "--help")
    for word in ("report", "events list", "events show", "dead retry", "replay", "handlers",
                 "--format"):
        expect(word in proc.stdout, word)


def test_filters_are_bound_not_pasted():
    d = Journal.get()
    before = d.query("SELECT count(*) AS n FROM deliveries")[0]["n"]
    # a read-only connection cannot even be talked into writing
    proc = ctl(d.db, "dead", "list", "--handler", "x'); DELETE FROM deliveries; --")
    expect("handler" in proc.stdout, proc.stdout)
    expect(d.query("SELECT count(*) AS n FROM deliveries")[0]["n"] == before, "deliveries")


def test_zz_shared_daemon_stops_cleanly():
    Journal.close()


# --- dead deliveries and replay (own daemons: they change the journal) ------------
def probe_config(**options):
    lines = ["[handlers]", "defaults = no", "max_attempts = 2", "retry_base = 50ms",
             "retry_max = 100ms", "[handler probe]", "module = " + PROBE]
    lines += ["%s = %s" % kv for kv in options.items()]
    return "\n".join(lines) + "\n"


def wait_for(what, fn, timeout=10):
    deadline = time.monotonic() + timeout * chtest.SLOW
    got = None
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s: %r" % (what, got))


def test_dead_list_and_retry():
    expect(os.path.exists(PROBE), "test handler module missing: " + PROBE)
    d = Daemon(config=probe_config(fail_type=DTMF))
    try:
        d.start()
        for ev in (tone(1, "Tone1", "2021-05-05T20:10:00Z"), tone(2, "Tone2",
                                                                   "2021-05-05T20:10:01Z"),
                   state("Established", "2021-05-05T20:08:59Z")):
            expect(d.post(ev)[0] == 200, "post")
        dead = wait_for("two dead deliveries",
                        lambda: len(ctl_json(d.db, "dead", "list")) == 2 and
                        ctl_json(d.db, "dead", "list"))
        expect([(r["handler"], r["event_id"], r["event_type"], r["call_id"]) for r in dead] ==
               [("probe", 1, DTMF, CALL), ("probe", 2, DTMF, CALL)], dead)
        expect(all(r["attempts"] >= 1 and r["last_error"] for r in dead), dead)
        expect(ctl_json(d.db, "dead", "list", "--handler", "other") == [], "--handler")
        h = ctl_json(d.db, "handlers")
        expect(len(h) == 1 and h[0]["dead"] == 2 and h[0]["done"] == 1, h)
        expect(d.stop() == 0, "stop")

        # the daemon is down: retry one, then the rest, and look at the rows
        out = ctl(d.db, "dead", "retry", "--event", "2").stdout
        expect(out == "1 dead delivery set back to pending\n", out)
        rows = d.query("SELECT event_id, state, attempts, next_attempt_us, last_error "
                       "FROM deliveries ORDER BY event_id")
        expect(rows[1]["state"] == "pending" and rows[1]["attempts"] == 0 and
               rows[1]["next_attempt_us"] == 0 and rows[1]["last_error"], rows)
        expect(rows[0]["state"] == "dead" and rows[2]["state"] == "done", rows)
        out = ctl(d.db, "dead", "retry", "--handler", "probe", "--all").stdout
        expect(out == "1 dead delivery set back to pending\n", out)
        out = ctl(d.db, "dead", "retry", "--all").stdout
        expect(out == "0 dead deliveries set back to pending\n", out)

        # the daemon, no longer told to fail, delivers them
        d.config = probe_config()
        d.start()
        wait_for("retried deliveries done",
                 lambda: [r["backlog"] for r in ctl_json(d.db, "handlers")] == [0] and
                 ctl_json(d.db, "handlers")[0]["done"] == 3)
        expect(ctl_json(d.db, "dead", "list") == [], "still dead")
        d.finish()
    finally:
        d.cleanup()


def test_replay_backfills_a_handler():
    d = Daemon()
    try:
        d.start()
        post_everything(d)
        settle(d)
        expect(d.stop() == 0, "stop")
        db = sqlite3.connect(d.db)
        db.execute("DELETE FROM dtmf_tones")
        db.commit()
        db.close()
        expect(ctl_json(d.db, "report", "dtmf") == [], "tones deleted")

        args = ["replay", "--handler", "dtmf", "--handlers-dir", HANDLERS_DIR]
        proc = ctl(d.db, *args)
        # not a terminal: one summary line, no progress
        expect(proc.stderr == "replay dtmf: 3 events replayed\n", proc.stderr)
        rows = ctl_json(d.db, "report", "dtmf")
        expect([(r["tones"], r["tone_count"]) for r in rows] == [("12#", 3)], rows)
        proc = ctl(d.db, *args)  # again: nothing doubles
        expect(ctl_json(d.db, "report", "dtmf")[0]["tone_count"] == 3, "replayed twice")
        proc = ctl(d.db, *(args + ["--since", "2021-05-05T20:10:01Z"]))
        expect(proc.stderr == "replay dtmf: 2 events replayed\n", proc.stderr)
        proc = ctl(d.db, "replay", "--handler", "nosuch", "--handlers-dir", HANDLERS_DIR,
                   code=1)
        one_line_error(proc, "nosuch")
        d.finish()
    finally:
        d.cleanup()


if __name__ == "__main__":
    try:
        chtest.run(globals())
    finally:
        Journal.close()
