"""GET /metrics and the key=value log: the exposition parses, every counter
moves by exactly what was done, label sets stay bounded whatever is posted,
access follows [server] metrics, and no secret reaches the log."""

import http.client
import json
import os
import random
import re
import socket
import time
import uuid

import chtest
from chtest import Daemon, expect

PROBE = os.path.join(os.environ.get("TEST_HANDLERS_DIR", "tests/handlers/.libs"), "th_probe.so")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FAMILIES = {
    "callhookd_build_info": "gauge",
    "process_start_time_seconds": "gauge",
    "callhookd_http_requests_total": "counter",
    "callhookd_http_connections": "gauge",
    "callhookd_http_connections_refused_total": "counter",
    "callhookd_rejections_total": "counter",
    "callhookd_events_total": "counter",
    "callhookd_events_duplicate_total": "counter",
    "callhookd_commit_duration_seconds": "histogram",
    "callhookd_commit_batch_requests": "histogram",
    "callhookd_commit_batch_events": "histogram",
    "callhookd_store_up": "gauge",
    "callhookd_handler_deliveries_total": "counter",
    "callhookd_handler_backlog": "gauge",
    "callhookd_actions_total": "counter",
}

# --- the text format, parsed strictly ------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{(%s(?:,%s)*)\})? (\S+)$" % (NAME, LABEL, LABEL))
ONE_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)


def parse(text):
    """Text format 0.0.4 -> {(name, frozenset(labels)): value}.  Asserts the
    structure: lines end in \\n, each family has # HELP then # TYPE exactly
    once before its samples, every sample belongs to the family above it,
    every name matches [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total,
    no series twice, histograms cumulative with +Inf equal to _count."""
    expect(text.endswith("\n"), "no final newline")
    families, samples, family = {}, {}, None
    for line in text[:-1].split("\n"):
        expect(line != "", "empty line")
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            expect(re.fullmatch(NAME, name), "bad family name %r" % name)
            expect(name not in families, "family %s twice" % name)
            expect(help_ != "", "empty HELP for " + name)
            families[name] = None
            family = name
        elif line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            expect(name == family and families[name] is None, "TYPE without its HELP: " + line)
            expect(type_ in ("counter", "gauge", "histogram"), line)
            expect(type_ != "counter" or name.endswith("_total"), "counter %s" % name)
            families[name] = type_
        else:
            expect(not line.startswith("#"), "stray comment " + line)
            m = SAMPLE.match(line)
            expect(m, "not a sample line: %r" % line)
            name = m.group(1)
            expect(family is not None and families[family] is not None, "sample before TYPE")
            suffixes = ("", "_bucket", "_sum", "_count") if families[family] == "histogram" else ("",)
            expect(any(name == family + s for s in suffixes),
                   "sample %s under family %s" % (name, family))
            labels = frozenset((k, unescape(v)) for k, v in ONE_LABEL.findall(m.group(2) or ""))
            expect(len(labels) == len(ONE_LABEL.findall(m.group(2) or "")), "label twice")
            key = (name, labels)
            expect(key not in samples, "series twice: " + line)
            samples[key] = float(m.group(3))
    for name, type_ in families.items():
        if type_ == "histogram":
            check_histogram(samples, name)
    return families, samples


def check_histogram(samples, name):
    groups = {}
    for (n, labels), v in samples.items():
        if n == name + "_bucket":
            rest = frozenset(kv for kv in labels if kv[0] != "le")
            le = dict(labels)["le"]
            groups.setdefault(rest, []).append((float(le), v))
    expect(groups, "histogram %s has no buckets" % name)
    for rest, buckets in groups.items():
        buckets.sort()
        expect(buckets[-1][0] == float("inf"), "%s: no +Inf bucket" % name)
        counts = [v for _, v in buckets]
        expect(counts == sorted(counts), "%s: buckets not cumulative %r" % (name, counts))
        expect(samples.get((name + "_count", rest)) == counts[-1], "%s: +Inf != _count" % name)
        expect((name + "_sum", rest) in samples, "%s: no _sum" % name)


def value(samples, name, **labels):
    """A sample's value; 0 when absent (sparse families)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def series_of(samples, name):
    return [dict(labels) for (n, labels) in samples if n == name]


def get(port, path, method="GET", host="127.0.0.1", headers=None):
    conn = http.client.HTTPConnection(host, port, timeout=10 * chtest.SLOW)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def scrape(d, status_out=None):
    status, headers, body = get(d.port, "/metrics")
    if status_out is not None:
        status_out.append(status)
        if status != 200:
            return None
    expect(status == 200, (status, body))
    expect(headers["content-type"] == CONTENT_TYPE, headers)
    families, samples = parse(body.decode("utf-8"))
    expect(families == FAMILIES, "families: %r" % families)
    return samples


def wait_for(d, sql, want, timeout=15):
    deadline = time.monotonic() + timeout * chtest.SLOW
    got = None
    while time.monotonic() < deadline:
        try:
            got = d.query(sql)[0]["v"]
        except Exception:  # a table the handlers create may not exist yet
            got = None
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError("%s: got %r, wanted %r\n%s" % (sql, got, want, d.log_text()))


# --- events ---------------------------------------------------------------------

def cloud_event(type_="Microsoft.Communication.CallConnected", eid=None):
    conn = str(uuid.uuid4())
    return {"id": eid or str(uuid.uuid4()), "source": "calling/callConnections/" + conn,
            "type": type_, "specversion": "1.0", "time": "2025-06-16T20:52:32Z",
            "data": {"callConnectionId": conn}}


def eventgrid_event(type_="Microsoft.Communication.IncomingCall"):
    return {"id": str(uuid.uuid4()), "topic": "/subscriptions/0/resourceGroups/rg/providers/"
            "Microsoft.Communication/communicationServices/acs",
            "subject": "/caller/4:+15551234567/recipient/8:acs:abc",
            "data": {"serverCallId": "c2VydmVy"}, "eventType": type_, "dataVersion": "1.0",
            "metadataVersion": "1", "eventTime": "2025-06-16T20:52:32.123Z"}


def post_ok(d, body, accepted, duplicates=0, path="/events", headers=None):
    status, _, raw = d.post(body, path=path, headers=headers)
    expect(status == 200, (status, raw))
    doc = json.loads(raw)
    expect((doc["accepted"], doc["duplicates"]) == (accepted, duplicates), doc)


# --- tests -----------------------------------------------------------------------

def test_scrape_parses_and_answers_get_and_head_only():
    with Daemon() as d:
        samples = scrape(d)
        expect(value(samples, "callhookd_store_up") == 1, "store down")
        expect(len(series_of(samples, "callhookd_build_info")) == 1, "build_info")
        start = value(samples, "process_start_time_seconds")
        expect(abs(start - time.time()) < 120 * chtest.SLOW, "start time %r" % start)
        expect(value(samples, "callhookd_http_connections") >= 1, "our own connection")
        status, headers, body = get(d.port, "/metrics", method="HEAD")
        expect(status == 200 and body == b"" and int(headers["content-length"]) > 1000,
               (status, headers))
        expect(headers["content-type"] == CONTENT_TYPE, headers)
        status, headers, body = get(d.port, "/metrics", method="POST")
        expect(status == 405 and headers.get("allow") == "GET, HEAD", (status, headers))
        expect(json.loads(body)["code"] == "MethodNotAllowed", body)


def test_counters_move_by_exactly_what_was_done():
    with Daemon() as d:
        before = scrape(d)
        a, b = cloud_event(), cloud_event("Microsoft.Communication.CallDisconnected")
        post_ok(d, [a], 1)                                       # commit 1
        post_ok(d, [eventgrid_event(), eventgrid_event()], 2)    # commit 2
        post_ok(d, [a], 0, 1)                                    # commit 3: a duplicate
        post_ok(d, [b, a], 1, 1)                                 # commit 4: one new, one not
        expect(d.post(b"{not json")[0] == 400, "invalid JSON")
        expect(d.post([{"specversion": "1.0", "id": "x"}])[0] == 400, "invalid event")
        expect(d.post([cloud_event()], content_type="text/html")[0] == 415, "media type")
        expect(d.post([cloud_event()], path="/nope?code=x")[0] == 404, "no such path")
        expect(get(d.port, "/healthz")[0] == 200, "healthz")
        after = scrape(d)

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        connected = "Microsoft.Communication.CallConnected"
        expect(delta("callhookd_events_total", type=connected, format="cloudevents") == 1, "a")
        expect(delta("callhookd_events_total", type="Microsoft.Communication.CallDisconnected",
                     format="cloudevents") == 1, "b")
        expect(delta("callhookd_events_total", type="Microsoft.Communication.IncomingCall",
                     format="eventgrid") == 2, "event grid")
        expect(delta("callhookd_events_duplicate_total") == 2, "duplicates")
        for code, n in (("200", 4), ("400", 2), ("415", 1)):
            got = delta("callhookd_http_requests_total", endpoint="/events", code=code)
            expect(got == n, "/events %s: %r" % (code, got))
        expect(delta("callhookd_http_requests_total", endpoint="other", code="404") == 1, "404")
        expect(delta("callhookd_http_requests_total", endpoint="/healthz", code="200") == 1, "hz")
        expect(delta("callhookd_http_requests_total", endpoint="/metrics", code="200") == 1,
               "the first scrape is counted once it is answered")
        for reason in ("InvalidJson", "InvalidEvent", "UnsupportedMediaType", "NotFound"):
            expect(delta("callhookd_rejections_total", reason=reason) == 1, reason)
        expect(delta("callhookd_rejections_total", reason="Unauthorized") == 0, "401")
        # one request at a time: every POST that reached the writer is a commit of its own
        expect(delta("callhookd_commit_duration_seconds_count") == 4, "commits")
        expect(delta("callhookd_commit_batch_requests_count") == 4, "batch count")
        expect(delta("callhookd_commit_batch_requests_bucket", le="1") == 4, "one request each")
        expect(delta("callhookd_commit_batch_events_sum") == 1 + 2 + 1 + 2, "rows written")
        expect(delta("callhookd_commit_duration_seconds_sum") > 0, "durations")
        expect(delta("callhookd_http_connections_refused_total") == 0, "refused")


def test_label_sets_stay_bounded_under_random_types():
    with Daemon() as d:
        before = scrape(d)
        rnd = random.Random(4)
        for _ in range(5):
            batch = []
            for i in range(100):
                junk = "".join(rnd.choice('ab"{}\\=,') for _ in range(8))
                type_ = ("Microsoft.Communication.Made%08x" % rnd.getrandbits(32) if i % 2
                         else "x%s%d" % (junk, rnd.getrandbits(32)))
                batch.append(cloud_event(type_))
            post_ok(d, batch, 100)
        after = scrape(d)
        other = (value(after, "callhookd_events_total", type="other", format="cloudevents") -
                 value(before, "callhookd_events_total", type="other", format="cloudevents"))
        expect(other == 500, "other: %r" % other)
        types = {s["type"] for s in series_of(after, "callhookd_events_total")}
        expect(types == {"other"}, "type labels: %r" % types)
        new = set(after) - set(before)
        # the events, and the first answers on /events and /metrics: nothing per input
        expect(len(new) <= 3, "new series: %r" % new)
        expect("Made" not in json.dumps(sorted(str(k) for k in after)), "a posted type leaked")


def test_handlers_counted_once_they_settle():
    with Daemon() as d:  # the built-in handlers (chtest passes --handlers-dir)
        before = scrape(d)
        handlers = {s["handler"] for s in series_of(before, "callhookd_handler_deliveries_total")}
        expect({"callstate", "participants", "dtmf", "media", "invite"} <= handlers, handlers)
        for _ in range(3):
            post_ok(d, [cloud_event()], 1)
        post_ok(d, [cloud_event("Microsoft.Communication.CallDisconnected")], 1)
        wait_for(d, "SELECT count(*) AS v FROM deliveries WHERE state != 'done'", 0)
        wait_for(d, "SELECT min(cursor) AS v FROM handlers WHERE active = 1",
                 d.query("SELECT max(id) AS v FROM events")[0]["v"])
        after = scrape(d)
        done = {r["handler"]: r["n"] for r in d.query(
            "SELECT handler, count(*) AS n FROM deliveries WHERE state = 'done' GROUP BY handler")}
        expect(done.get("callstate") == 4, "callstate handles all four: %r" % done)
        for h in handlers:
            got = (value(after, "callhookd_handler_deliveries_total", handler=h, outcome="done") -
                   value(before, "callhookd_handler_deliveries_total", handler=h, outcome="done"))
            expect(got == done.get(h, 0), "%s: %r done, journal says %r" % (h, got, done.get(h)))
            for outcome in ("failed", "dead"):
                expect(value(after, "callhookd_handler_deliveries_total", handler=h,
                             outcome=outcome) == 0, (h, outcome))
            expect(value(after, "callhookd_handler_backlog", handler=h) == 0, "backlog " + h)
            expect(("callhookd_handler_backlog", frozenset({("handler", h)})) in after,
                   "no backlog sample for " + h)


def probe_config(**options):
    lines = ["[handlers]", "defaults = no", "max_attempts = 3",
             "retry_base = %s" % options.pop("retry_base", "50ms"),
             "retry_max = %s" % options.pop("retry_max", "200ms"),
             "[handler probe]", "module = " + PROBE]
    return "\n".join(lines + ["%s = %s" % kv for kv in options.items()]) + "\n"


def test_failed_and_dead_outcomes_and_backlog():
    dtmf = "Microsoft.Communication.DtmfReceived"
    # each event is retried once, then done; DTMF fails for good
    with Daemon(config=probe_config(retries=1, fail_type=dtmf)) as d:
        # one at a time: th_probe counts attempts on a second connection,
        # which would wait for its own worker's open transaction in a batch
        for type_, settled in ((None, "done"), (None, "done,done"), (dtmf, "dead,done,done")):
            post_ok(d, [cloud_event(type_) if type_ else cloud_event()], 1)
            wait_for(d, "SELECT group_concat(state, ',') AS v FROM (SELECT state FROM "
                     "deliveries ORDER BY state)", settled)
        attempts = d.query("SELECT group_concat(attempts, ',') AS v FROM (SELECT attempts "
                           "FROM deliveries ORDER BY event_id)")[0]["v"]
        expect(attempts == "2,2,1", "attempts: %r" % attempts)
        samples = scrape(d)
        for outcome, n in (("done", 2), ("failed", 2), ("dead", 1)):
            got = value(samples, "callhookd_handler_deliveries_total", handler="probe",
                        outcome=outcome)
            expect(got == n, "%s: %r" % (outcome, got))
        expect(value(samples, "callhookd_handler_backlog", handler="probe") == 0,
               "dead deliveries are not backlog")
    # retries an hour apart: the failed deliveries wait, and are the backlog
    with Daemon(config=probe_config(retries=5, retry_base="1h", retry_max="1h")) as d:
        post_ok(d, [cloud_event() for _ in range(3)], 3)
        wait_for(d, "SELECT count(*) AS v FROM deliveries WHERE state = 'failed'", 3)
        samples = scrape(d)
        expect(value(samples, "callhookd_handler_backlog", handler="probe") == 3, samples)
        expect(value(samples, "callhookd_handler_deliveries_total", handler="probe",
                     outcome="failed") == 3, "failed")


def test_connections_gauge_and_refusals():
    with Daemon(config="[server]\nmax_connections = 2\n") as d:
        held = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(2)]
        statuses = []
        try:
            deadline = time.monotonic() + 10 * chtest.SLOW
            while True:  # until the loop has accepted both
                out = d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                statuses.append(chtest.status_line(out))
                if statuses[-1] == 429:
                    break
                expect(time.monotonic() < deadline, "never refused: %r" % statuses)
                time.sleep(0.05)
            held.pop().close()
            # the loop may not have seen that close yet: a scrape may still be refused
            samples, scrapes = None, []
            while samples is None:
                expect(time.monotonic() < deadline, "scrapes refused: %r" % scrapes)
                samples = scrape(d, scrapes)
            held.pop().close()
            while value(samples, "callhookd_http_connections") != 1:  # the scrape's own
                expect(time.monotonic() < deadline, "gauge stuck at %r" %
                       value(samples, "callhookd_http_connections"))
                time.sleep(0.05)
                samples = scrape(d)
        finally:
            for s in held:
                s.close()
        refused = 1 + scrapes.count(429)
        expect(value(samples, "callhookd_http_connections_refused_total") == refused, refused)
        expect(value(samples, "callhookd_rejections_total", reason="TooManyConnections") ==
               refused, "reason")
        expect(value(samples, "callhookd_http_requests_total", endpoint="/healthz",
                     code="429") == 1, "answer")
        expect(value(samples, "callhookd_http_requests_total", endpoint="/healthz",
                     code="200") == statuses.count(200), "answers before the limit")


def non_loopback_address():
    """This host's address on a non-loopback interface, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


SECRET_ENDPOINT = """
[endpoint /hook]
auth = secret
query_param = code
header = Authorization
secret = q-secret-0123456789abcdef
"""


def test_access_follows_the_metrics_key():
    other = non_loopback_address()
    # default (loopback): loopback clients only, also through an IPv4-mapped address
    with Daemon(config=SECRET_ENDPOINT, listen="[::]:0") as d:
        expect(get(d.port, "/metrics")[0] == 200, "mapped 127.0.0.1")
        expect(get(d.port, "/metrics", host="::1")[0] == 200, "::1")
        if other is not None:
            status, _, body = get(d.port, "/metrics", host=other)
            expect(status == 403 and json.loads(body)["code"] == "Forbidden",
                   (status, body[:200]))
        else:
            print("note: no non-loopback address; the refusal from one is not tested")
    with Daemon(config=SECRET_ENDPOINT + "[server]\nmetrics = yes\n", listen="0.0.0.0:0") as d:
        expect(get(d.port, "/metrics")[0] == 200, "loopback")
        if other is not None:
            expect(get(d.port, "/metrics", host=other)[0] == 200, "yes: anyone")
    with Daemon(config="[server]\nmetrics = no\n") as d:
        status, _, body = get(d.port, "/metrics")
        expect(status == 404 and json.loads(body)["code"] == "NotFound", (status, body))


LOGFMT_VALUE = r'(?:"(?:[^"\\]|\\[\\"nrt]|\\x[0-9a-f]{2})*"|[^\s"=\\]+)'
LOGFMT_LINE = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z '
                         r'level=(error|warn|info|debug|notice) msg="(?:[^"\\]|\\.)*"'
                         r'( [a-z_]+=%s)*$' % LOGFMT_VALUE)


def fields(line):
    """The key=value pairs after msg."""
    rest = re.sub(r'^ts=\S+ level=\S+ msg="(?:[^"\\]|\\.)*"', "", line)
    return dict(re.findall(r' ([a-z_]+)=(%s)' % LOGFMT_VALUE, rest))


def test_log_lines_are_key_value_and_never_hold_a_secret():
    good, wrong_q, wrong_h = "q-secret-0123456789abcdef", "WRONGquery7531", "WRONGheader8642"
    with Daemon(config=SECRET_ENDPOINT, args=["--log-level", "debug"]) as d:
        # either credential is enough; the other one is wrong
        post_ok(d, [cloud_event()], 1, path="/hook?code=" + good,
                headers={"Authorization": "Bearer " + wrong_h})
        post_ok(d, [cloud_event()], 1, path="/hook?code=" + wrong_q,
                headers={"Authorization": "Bearer " + good})
        status, headers, _ = d.post([cloud_event()], path="/hook?x=1&code=" + wrong_q,
                                    headers={"Authorization": "Bearer " + wrong_h})
        expect(status == 401, status)
        refused_id = headers["x-request-id"]
        expect(get(d.port, "/metrics?code=" + good)[0] == 200, "metrics")
        expect(get(d.port, "/nowhere?token=" + good,
                   headers={"Authorization": "Basic " + good})[0] == 404, "404")
        out = d.raw(b"POST /hook?code=" + good.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                    b"Authorization: " + good.encode() + b"\r\nContent-Length: zz\r\n\r\n")
        expect(chtest.status_line(out) == 400, out[:100])
        d.stop()
        log = d.log_text()
        for secret in (good, wrong_q, wrong_h):
            expect(secret not in log, "%s in the log:\n%s" % (secret, log))
        lines = log.splitlines()
        for line in lines:
            expect(LOGFMT_LINE.match(line), "not a key=value line: %r" % line)
        expect(any(re.search(r"listening on \S+:(\d+) pid=(\d+)", l) for l in lines),
               "the listening line scripts parse")
        refused = [fields(l) for l in lines if 'msg="auth: refused"' in l]
        expect(len(refused) == 1, refused)
        expect(refused[0]["request"] == refused_id and refused[0]["endpoint"] == "/hook" and
               refused[0]["remote"].startswith("127.0.0.1:"), refused)
        answered = [fields(l) for l in lines if 'msg="http: answered"' in l]
        expect(any(f.get("path") == "/hook" and f.get("status") == "401" and
                   f.get("request") == refused_id for f in answered), answered)
        expect(all("?" not in f.get("path", "") for f in answered), "a query was logged")
        events = [l for l in lines if 'msg="intake: event"' in l]
        expect(len(events) == 2, "one debug line per event: %r" % events)


if __name__ == "__main__":
    chtest.run(globals())
