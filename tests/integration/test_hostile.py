"""Hostile requests: a catalogue of malformed, oversized, slow, mislabelled and
forged requests thrown at the real daemon over raw sockets.

Every case states the answer callhookd(8) documents (HTTP INTERFACE, LIMITS,
AUTHENTICATION): the status, the error code in the {"code","message"} shape,
whether the connection is closed afterwards (a connection left open must still
serve a request, proving the framing did not go out of step), and how many
journal rows the case may add (none, for every refused request).  Afterwards
/healthz and a valid POST must still work and SIGTERM must give exit 0.

The same catalogue runs a second time with the daemon under valgrind
(memcheck, --leak-check=full), unless valgrind is missing or the binary is
built with AddressSanitizer (they cannot be combined).

test_limits.py covers the basic limits (one long header, an announced or
chunked oversized body, Expect: 100-continue, Content-Length larger than the
body, the connection limit, the idle keep-alive close, duplicate and negative
Content-Length); this file goes around and beyond them.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
import uuid

import chtest
from chtest import Daemon, expect

KEY = base64.b64encode(b"hostile-test-key-" + b"k" * 15).decode()

CONFIG = """
[server]
request_timeout = 1s
idle_timeout = 1s

[endpoint /events]

[endpoint /signed]
auth = hmac
tolerance = 60s
secret = whsec_{key}
""".format(key=KEY)

# Problems known to come from a bug outside this file: (case name pattern,
# text of the problem, where the bug is).  They are reported as XFAIL; any
# other problem of the same case still fails.  An entry that no longer
# matches anything fails the run, so a fixed bug is taken off the list.
KNOWN_ISSUES = []

ALLOW_EVENTS = "POST, OPTIONS"
ALLOW_HEALTH = "GET, HEAD"
# callhookd(8) LIMITS, Connections: these answers close the connection.
CLOSING = {(400, "BadRequest"), (408, "RequestTimeout"), (413, "BodyTooLarge"),
           (429, "TooManyConnections"), (431, "HeadersTooLarge"),
           (505, "HTTPVersionNotSupported")}


# --- requests ------------------------------------------------------------------


def event():
    return [{"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/calling/x",
             "type": "Microsoft.Communication.CallConnected",
             "time": "2025-06-16T20:52:32Z", "data": {"callConnectionId": "x"}}]


def event_bytes():
    return json.dumps(event()).encode()


def request(method, path, body=b"", headers=(), content_type=b"application/json",
            length=None):
    head = b"%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
    if length is None:
        length = bool(body) or method == b"POST"
    if content_type is not None and body:
        head += b"Content-Type: " + content_type + b"\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    for h in headers:
        head += h + b"\r\n"
    return head + b"\r\n" + body


def post(body, **kw):
    return request(b"POST", b"/events", body, **kw)


def get(path=b"/healthz"):
    return request(b"GET", path)


def chunked(parts, path=b"/events", headers=()):
    out = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path
    out += b"".join(h + b"\r\n" for h in headers)
    out += b"Transfer-Encoding: chunked\r\n\r\n"
    for p in parts:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n\r\n"


def sign(msg_id, ts, body, key=KEY):
    mac = hmac.new(base64.b64decode(key), msg_id + b"." + ts + b"." + body,
                   hashlib.sha256).digest()
    return b"v1," + base64.b64encode(mac)


def signed(body, msg_id=b"msg_1", ts=None, sig=None, send_ts=None, send_id=None):
    """Headers of a Standard Webhooks request; send_* override what is sent
    without changing what was signed."""
    ts = b"%d" % int(time.time()) if ts is None else ts
    sig = sign(msg_id, ts, body) if sig is None else sig
    return (b"webhook-id: " + (msg_id if send_id is None else send_id),
            b"webhook-timestamp: " + (ts if send_ts is None else send_ts),
            b"webhook-signature: " + sig)


# --- one exchange on a raw socket ------------------------------------------------


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def parse_answer(buf, head_only):
    """One complete answer from the front of buf: (Answer, rest) or (None, buf)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, buf
    lines = buf[:end].split(b"\r\n")
    m = re.match(rb"HTTP/1\.1 (\d{3}) [^\r\n]*$", lines[0])
    if not m:
        raise AssertionError("not an HTTP/1.1 status line: %r" % buf[:200])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise AssertionError("bad header line %r" % line)
        headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
    if "content-length" not in headers:
        raise AssertionError("answer without Content-Length: %r" % buf[:end])
    n = 0 if head_only else int(headers["content-length"])
    if len(buf) < end + 4 + n:
        return None, buf
    body = buf[end + 4:end + 4 + n]
    return Answer(int(m.group(1)), headers, body), buf[end + 4 + n:]


class Exchange:
    """Send data (at once, or trickled: a list of (bytes, pause) pairs) from a
    thread while reading answers, the way a client that streams does; a
    refusal can come back while the upload is still going on."""

    def __init__(self, d, timeout):
        self.d, self.timeout = d, timeout
        self.sock = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
        self.buf = b""
        self.eof = False
        self.stop = threading.Event()

    def send(self, data):
        def run():
            try:
                if isinstance(data, list):
                    for piece, pause in data:
                        if self.stop.is_set():
                            break
                        self.sock.sendall(piece)
                        self.stop.wait(pause)
                else:
                    self.sock.sendall(data)
            except OSError:
                pass  # the server answered and closed: what we read says if that was right

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def _recv(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return False
        except ConnectionResetError:
            chunk = b""  # a reset after the answers is a close; before them it is a loss
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def answers(self, n, head_only=()):
        out = []
        deadline = time.monotonic() + self.timeout
        while len(out) < n:
            a, self.buf = parse_answer(self.buf, len(out) in head_only)
            if a is not None:
                out.append(a)
                continue
            if self.eof or time.monotonic() >= deadline:
                break
            self._recv(deadline)
        return out

    def closed(self):
        deadline = time.monotonic() + self.timeout
        while not self.eof and time.monotonic() < deadline:
            self._recv(deadline)
        return self.eof

    def close(self):
        self.stop.set()
        self.sock.close()


# --- the catalogue ---------------------------------------------------------------


class Catalogue:
    """Runs cases against one daemon and collects what went wrong, so one run
    reports every broken case, not just the first."""

    def __init__(self, d, slow=1.0):
        self.d, self.slow = d, slow
        self.failures, self.xfail, self.passed = [], [], 0
        self.known_seen = set()

    def case(self, name, data, *expected, close=None, rows=0, head_only=(), check=None,
             timeout=10):
        """expected: per answer, a status or (status, code); code None = not an error."""
        before = self.d.count()
        problems = []
        case_start = time.monotonic()
        ex = Exchange(self.d, timeout * self.slow)
        try:
            start = time.monotonic()
            sender = ex.send(data)
            got = ex.answers(len(expected), head_only)
            took = time.monotonic() - start
            if len(got) != len(expected):
                problems.append("%d answers instead of %d (read %r)"
                                % (len(got), len(expected), ex.buf[:200]))
            for i, (a, want) in enumerate(zip(got, expected)):
                problems += check_answer(a, want, i in head_only)
            must_close = close if close is not None else bool(
                got and answer_key(got[-1]) in CLOSING)
            if got and len(got) == len(expected):
                problems += check_connection(ex, got[-1], must_close)
            if check is not None and not problems:
                problems += check(got, took) or []
            ex.stop.set()
            sender.join(timeout * self.slow)
        except (AssertionError, OSError, ValueError) as e:
            problems.append("%s: %s" % (type(e).__name__, e))
        finally:
            ex.close()
        after = self.d.count()
        if after != before + rows:
            problems.append("journal rows %d -> %d, expected +%d" % (before, after, rows))
        if time.monotonic() - case_start > 2 * self.slow:
            print("slow  %s: %.1fs" % (name, time.monotonic() - case_start))
        self.record(name, problems)

    def record(self, name, problems):
        unknown = []
        for p in problems:
            known = [k for k in KNOWN_ISSUES if re.search(k[0], name) and k[1] in p]
            if known:
                self.known_seen.add(known[0])
                self.xfail.append(name)
                print("XFAIL %s: %s (known: %s)" % (name, p[:120], known[0][2]))
            else:
                unknown.append(p)
        problems = unknown
        if problems:
            self.failures.append("%s: %s" % (name, "; ".join(problems)))
            print("FAIL  %s: %s" % (name, "; ".join(problems)))
        else:
            self.passed += 1


def answer_key(a):
    """(status, code) of an answer; code None when it is not the error shape."""
    try:
        return a.status, json.loads(a.body.decode("utf-8")).get("code")
    except (ValueError, AttributeError):
        return a.status, None


def check_answer(a, want, head_only):
    status, code = want if isinstance(want, tuple) else (want, None)
    problems = []
    if a.status != status:
        return ["status %d instead of %d: %r" % (a.status, status, a.body[:200])]
    if "x-request-id" not in a.headers or not a.headers["x-request-id"].isdigit():
        problems.append("no X-Request-Id")
    if head_only:
        return problems
    if a.headers.get("content-type", "").split(";")[0] != "application/json":
        problems.append("Content-Type %r" % a.headers.get("content-type"))
    try:
        doc = json.loads(a.body.decode("utf-8"))
    except ValueError as e:
        return problems + ["body is not UTF-8 JSON (%s): %r" % (e, a.body[:200])]
    if status >= 400:
        if not (isinstance(doc, dict) and set(doc) == {"code", "message"}
                and isinstance(doc["code"], str) and isinstance(doc["message"], str)):
            problems.append("not the error shape: %r" % doc)
        elif code is not None and doc["code"] != code:
            problems.append("code %s instead of %s (%s)" % (doc["code"], code, doc["message"]))
        elif re.search(r"[\x00-\x1f\x7f]", doc["message"]):
            problems.append("message is not one line: %r" % doc["message"])
    return problems


def check_connection(ex, last, must_close):
    """A closing answer says so and closes; otherwise the same connection
    must serve the next request (nothing of the last one was left unread)."""
    if must_close:
        problems = []
        if last.headers.get("connection", "").lower() != "close":
            problems.append("no Connection: close on a closing answer")
        if not ex.closed():
            problems.append("connection still open after the answer")
        return problems
    if last.headers.get("connection", "").lower() == "close":
        return ["closed a connection the docs keep open"]
    ex.send(get())
    nxt = ex.answers(1)
    if not nxt or nxt[0].status != 200:
        return ["the connection is out of step afterwards: %r" % ex.buf[:200]]
    return []


def allow(value):
    def check(got, took):
        if got[0].headers.get("allow") != value:
            return ["Allow %r instead of %r" % (got[0].headers.get("allow"), value)]
    return check


def accepted(n, dups):
    def check(got, took):
        doc = json.loads(got[-1].body)
        if doc.get("accepted") != n or doc.get("duplicates") != dups:
            return ["answer %r, expected accepted=%d duplicates=%d" % (doc, n, dups)]
    return check


def took_between(lo, hi):
    def check(got, took):
        if not lo <= took <= hi:
            return ["answered after %.2fs, expected %.1f..%.1fs" % (took, lo, hi)]
    return check


# --- groups of cases ---------------------------------------------------------------


def request_lines(c):
    for name, data in [
            ("method only", b"GET\r\n\r\n"),
            ("space in the target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("junk after the version", b"GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n"),
            ("version HTTP/1.x", b"GET /healthz HTTP/1.x\r\nHost: x\r\n\r\n"),
            ("control character in the target", b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("DEL in the target", b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("unknown method", b"BREW /events HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("lower-case method", b"post /events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
            ("TLS ClientHello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32)),
            ("binary noise", b"\xff\xfe\xfd\x00\x01\x02\r\n\r\n")]:
        c.case(name, data, (400, "BadRequest"))
    c.case("absolute-form target", get(b"http://x/healthz"), (404, "NotFound"))
    c.case("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", (404, "NotFound"))
    c.case("404 for a path that is not UTF-8", get(b"/\xff\xfe"), (404, "NotFound"))
    c.case("404 for a long path cut inside a character", get(b"/" + "é".encode() * 100),
           (404, "NotFound"))


def versions(c):
    c.case("HTTP/0.9 simple request", b"GET /healthz\r\n\r\n", (505, "HTTPVersionNotSupported"))
    c.case("HTTP/0.9 by number", b"GET /healthz HTTP/0.9\r\n\r\n",
           (505, "HTTPVersionNotSupported"))
    c.case("HTTP/2.0 request line", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",
           (505, "HTTPVersionNotSupported"))
    c.case("HTTP/2 connection preface",
           b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00",
           (400, "BadRequest"))
    c.case("h2c upgrade is ignored", request(b"GET", b"/healthz", headers=(
        b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c",
        b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA")), 200)


def headers(c):
    too_large = (431, "HeadersTooLarge")
    c.case("a 20 KB header value", request(b"GET", b"/healthz",
                                           headers=(b"X-Big: " + b"v" * 20000,)), too_large)
    c.case("a 20 KB header name", request(b"GET", b"/healthz",
                                          headers=(b"X-" + b"n" * 20000 + b": v",)), too_large)
    c.case("a 20 KB target", get(b"/" + b"a" * 20000), too_large)
    c.case("128 header lines are fine", request(b"GET", b"/healthz", headers=tuple(
        b"X-%d: v" % i for i in range(127))), 200)
    c.case("129 header lines", request(b"GET", b"/healthz", headers=tuple(
        b"X-%d: v" % i for i in range(128))), too_large)
    c.case("5000 tiny headers", request(b"GET", b"/healthz", headers=(b"a: b",) * 5000),
           too_large)
    c.case("1 MB of header lines, streamed", request(b"GET", b"/healthz", headers=tuple(
        b"X-%d: %s" % (i, b"h" * 1000) for i in range(1000))), too_large)
    c.case("header block that never ends", [(b"GET /healthz HTTP/1.1\r\n", 0)] +
           [(b"X-%d: %s\r\n" % (i, b"s" * 200), 0.001) for i in range(200)], too_large)


def bodies(c):
    ten_mb = 10 * 1024 * 1024
    c.case("10 MB body, announced and sent", post(b"[" + b" " * (ten_mb - 2) + b"]"),
           (413, "BodyTooLarge"), timeout=30)
    c.case("10 MB body, chunked", chunked([b" " * 65536] * (ten_mb // 65536)),
           (413, "BodyTooLarge"), timeout=30)
    c.case("Content-Length 2^64 - 1", post(b"{}", length=False, headers=(
        b"Content-Length: 18446744073709551615",)), (400, "BadRequest"))


def chunked_framing(c):
    head = b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = event_bytes()
    for name, tail in [("chunk size not hex", b"zz\r\n" + body + b"\r\n0\r\n\r\n"),
                       ("negative chunk size", b"-1\r\n" + body + b"\r\n0\r\n\r\n"),
                       ("chunk size overflowing 64 bits", b"1" * 20 + b"\r\n" + body),
                       ("chunk size with a leading space", b" 2\r\n{}\r\n0\r\n\r\n"),
                       ("empty chunk size line", b"\r\n" + body),
                       ("chunk size smaller than its data",
                        b"%x\r\n" % (len(body) - 5) + body + b"\r\n0\r\n\r\n")]:
        c.case(name, head + tail, (400, "BadRequest"))
    c.case("chunk size larger than its data", head + b"%x\r\n" % (len(body) + 100) + body +
           b"\r\n0\r\n\r\n", (408, "RequestTimeout"))
    c.case("no last chunk", head + b"%x\r\n" % len(body) + body + b"\r\n",
           (408, "RequestTimeout"))
    c.case("chunk announcing 2 GB", head + b"7fffffff\r\n" + body, (408, "RequestTimeout"))
    c.case("transfer codings chunked, gzip", head.replace(b"chunked", b"chunked, gzip") +
           b"2\r\n{}\r\n0\r\n\r\n", (400, "BadRequest"))


def content_length(c):
    body = event_bytes()
    bad = (400, "BadRequest")
    c.case("Content-Length smaller than the body",
           post(body, length=False, headers=(b"Content-Length: %d" % (len(body) - 1),)),
           (400, "InvalidJson"), bad)
    c.case("Content-Length and Transfer-Encoding",
           post(body, headers=(b"Transfer-Encoding: chunked",)), bad)
    for value in (b"12abc", b"+2", b"1e3", b"0x10", b"2, 2", b"", b"99999999999999999999999"):
        c.case("Content-Length %r" % value,
               post(body, length=False, headers=(b"Content-Length: " + value,)), bad)


def utf8(c):
    def with_data(raw):
        return b'[{"specversion":"1.0","id":"%s","source":"/s","type":"t","data":{"x":"%s"}}]' % (
            uuid.uuid4().hex.encode(), raw)

    for name, raw in [("overlong encoding", b"\xc0\xaf"),
                      ("UTF-16 surrogate encoded in UTF-8", b"\xed\xa0\x80"),
                      ("code point above U+10FFFF", b"\xf4\x90\x80\x80"),
                      ("truncated sequence", b"\xe2\x82"),
                      ("stray continuation byte", b"\x80"),
                      ("0xFF byte", b"\xff")]:
        c.case("invalid UTF-8: " + name, post(with_data(raw)), (400, "InvalidUtf8"))
    c.case("invalid UTF-8 in a key",
           post(b'[{"specversion":"1.0","id":"1","source":"/s","type":"t","\xfe":1}]'),
           (400, "InvalidUtf8"))
    c.case("invalid UTF-8 outside strings", post(b"[\xff]"), (400, "InvalidJson"))
    c.case("invalid UTF-8 in a binary-mode ce- header", post(b"{}", headers=(
        b"ce-specversion: 1.0", b"ce-id: 1", b"ce-source: /s", b"ce-type: t",
        b"ce-x: \xff\xfe")), (400, "InvalidEvent"))
    c.case("percent-encoded invalid UTF-8 in a ce- header", post(b"{}", headers=(
        b"ce-specversion: 1.0", b"ce-id: 1", b"ce-source: /s%C0%AF", b"ce-type: t")),
        (400, "InvalidEvent"))


def nesting(c):
    deep = 100000
    too_deep = (400, "TooDeep")
    c.case("arrays nested 100k deep", post(b"[" * deep + b"]" * deep), too_deep)
    c.case("objects nested 100k deep", post(b'{"a":' * deep + b"1" + b"}" * deep), too_deep)
    c.case("100k unclosed arrays", post(b"[" * deep), too_deep)
    ev = event_bytes()
    c.case("an event whose data nests 100k deep",
           post(ev[:-3] + b', "deep": ' + b"[" * deep + b"]" * deep + b"}}]"), too_deep)


def nul_bytes(c):
    c.case("NUL in a header value", request(b"GET", b"/healthz", headers=(b"X-A: a\x00b",)),
           (400, "BadRequest"))
    c.case("NUL in a header name", request(b"GET", b"/healthz", headers=(b"X-\x00: a",)),
           (400, "BadRequest"))
    c.case("NUL in the body, outside strings", post(b"[\x00]"), (400, "InvalidJson"))
    ev = event_bytes()
    c.case("raw NUL inside a JSON string", post(ev.replace(b'"/calling/x"', b'"/call\x00ing"')),
           (400, "InvalidJson"))
    c.case("escaped NUL in an id", post(ev.replace(b'"id": "', b'"id": "\\u0000')),
           (400, "InvalidEvent"))
    c.case("NUL in a ce- header, percent-encoded", post(b"{}", headers=(
        b"ce-specversion: 1.0", b"ce-id: a%00b", b"ce-source: /s", b"ce-type: t")),
        (400, "InvalidEvent"))


def methods(c):
    for m in (b"GET", b"PUT", b"DELETE", b"PATCH"):
        c.case("%s on /events" % m.decode(), request(m, b"/events", event_bytes()),
               (405, "MethodNotAllowed"), check=allow(ALLOW_EVENTS))
    c.case("HEAD on /events", request(b"HEAD", b"/events"), 405, head_only={0},
           check=allow(ALLOW_EVENTS))
    for m, path in ((b"POST", b"/healthz"), (b"PUT", b"/healthz"), (b"DELETE", b"/healthz"),
                    (b"OPTIONS", b"/healthz"), (b"POST", b"/readyz")):
        c.case("%s on %s" % (m.decode(), path.decode()), request(m, path, event_bytes()),
               (405, "MethodNotAllowed"), check=allow(ALLOW_HEALTH))


def content_types(c):
    for ct in (b"text/plain", b"application/xml", b"application/x-www-form-urlencoded",
               b"multipart/form-data; boundary=x", b"application/json; charset=utf-16",
               b"application/json; charset=latin1", b"application/", b"json",
               b"application/json; charset", b"x/" + b"y" * 8000):
        c.case("Content-Type %r" % ct[:40], post(event_bytes(), content_type=ct),
               (415, "UnsupportedMediaType"))
    c.case("empty Content-Type", post(event_bytes(), content_type=b""),
           (415, "UnsupportedMediaType"))


def signatures(c):
    unauthorized = (401, "Unauthorized")
    body = event_bytes()
    now = b"%d" % int(time.time())

    def signed_post(b, hdrs, **kw):
        return request(b"POST", b"/signed", b, headers=hdrs, **kw)

    mac = sign(b"msg_1", now, body)
    cases = [
        ("no signature headers", ()),
        ("signature not base64", signed(body, sig=b"v1,!!!!not-base64!!!!")),
        ("only a v2 signature", signed(body, sig=b"v2," + mac[3:])),
        ("signature without a version", signed(body, sig=mac[3:])),
        ("valid signature after 16 bogus ones",
         signed(body, sig=b" ".join([b"v1,AAAA"] * 16 + [mac]))),
        ("1500 bogus signatures", signed(body, sig=b" ".join([b"v1,AAAA"] * 1500))),
        ("empty webhook-id", signed(body, msg_id=b"")),
        ("257-byte webhook-id", signed(body, msg_id=b"i" * 257)),
        ("signed with the key's text, not its bytes",
         signed(body, sig=b"v1," + base64.b64encode(hmac.new(
             KEY.encode(), b"msg_1." + now + b"." + body, hashlib.sha256).digest()))),
        ("signature of another body", signed(body, sig=sign(b"msg_1", now, event_bytes()))),
        ("signature of another webhook-id", signed(body, send_id=b"msg_2")),
        ("signature of another timestamp", signed(body, send_ts=b"%d" % (int(now) - 1))),
        ("timestamp 2 minutes old", signed(body, ts=b"%d" % (int(now) - 120))),
        ("timestamp 2 minutes ahead", signed(body, ts=b"%d" % (int(now) + 120))),
        ("timestamp 0", signed(body, ts=b"0")),
        ("timestamp with letters", signed(body, ts=now + b"a")),
        ("negative timestamp", signed(body, ts=b"-" + now)),
        ("timestamp with a sign", signed(body, ts=b"+" + now)),
        ("timestamp with a fraction", signed(body, ts=now + b".0")),
        ("timestamp of 40 digits", signed(body, ts=b"9" * 40)),
        ("timestamp in milliseconds", signed(body, ts=now + b"000")),
    ]
    for name, hdrs in cases:
        c.case("/signed: " + name, signed_post(body, hdrs), unauthorized)
    c.case("/signed: one byte more than was signed",
           signed_post(body + b" ", signed(body)), unauthorized)
    c.case("/signed: invalid JSON and no signature", signed_post(b"{", ()),
           unauthorized)

    # Replays are not refused (AUTHENTICATION): dedupe makes them harmless.
    good = signed(body, msg_id=b"msg_replay")
    c.case("/signed: a valid request", signed_post(body, good), 200, rows=1,
           check=accepted(1, 0))
    c.case("/signed: the same request replayed", signed_post(body, good), 200, rows=0,
           check=accepted(0, 1))
    chunk_body = event_bytes()
    c.case("/signed: valid signature over a chunked body",
           chunked([chunk_body[:10], chunk_body[10:]], path=b"/signed",
                   headers=signed(chunk_body, msg_id=b"msg_chunked")),
           200, rows=1, check=accepted(1, 0))


def slow(c):
    timeout = (408, "RequestTimeout")
    line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 40 + b"\r\n\r\n"
    c.case("headers trickled a byte every 0.1 s", [(line[i:i + 1], 0.1) for i in range(len(line))],
           timeout, check=took_between(0.8, 3 * c.slow))
    body = event_bytes()
    c.case("body trickled a byte every 0.1 s",
           [(post(body)[:-len(body)], 0)] + [(body[i:i + 1], 0.1) for i in range(len(body))],
           timeout, check=took_between(0.8, 3 * c.slow))
    head = b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    c.case("one-byte chunks every 0.1 s",
           [(head, 0)] + [(b"1\r\n" + body[i:i + 1] + b"\r\n", 0.1) for i in range(len(body))],
           timeout, check=took_between(0.8, 3 * c.slow))

    # A connection that never sends a byte is closed without an answer.
    s = socket.create_connection(("127.0.0.1", c.d.port), timeout=10 * c.slow)
    problems = []
    try:
        start = time.monotonic()
        data = s.recv(1024)
        took = time.monotonic() - start
        if data != b"":
            problems.append("answered a connection that sent nothing: %r" % data[:100])
        if not 0.8 <= took <= 4 * c.slow:
            problems.append("closed after %.2fs, idle_timeout is 1s" % took)
    except (socket.timeout, ConnectionResetError) as e:
        problems.append("idle connection: %r" % e)
    finally:
        s.close()
    c.record("a connection that sends nothing", problems)


def pipelined(c):
    a = event_bytes()
    c.case("pipelined: POST, GET, bad POST, GET",
           post(a) + get() + post(b"[1,") + get(b"/readyz"),
           200, 200, (400, "InvalidJson"), 200, rows=1)

    def increasing(got, took):
        ids = [int(x.headers["x-request-id"]) for x in got]
        if ids != sorted(set(ids)):
            return ["X-Request-Id not increasing: %r" % ids]

    c.case("pipelined: 50 GETs in one write", get() * 50, *([200] * 50), check=increasing)
    c.case("pipelined: a request after a malformed one is not served",
           b"BREW / HTTP/1.1\r\n\r\n" + post(event_bytes()), (400, "BadRequest"))
    c.case("pipelined: a request after Connection: close is not served",
           post(event_bytes(), headers=(b"Connection: close",)) + post(event_bytes()),
           200, rows=1, close=True)
    c.case("pipelined: a request after 413 is not served",
           post(b"x" * (2 << 20)) + post(event_bytes()), (413, "BodyTooLarge"))
    c.case("pipelined: a request after 431 is not served",
           request(b"GET", b"/healthz", headers=(b"X: " + b"y" * 20000,)) +
           post(event_bytes()), (431, "HeadersTooLarge"))


GROUPS = (request_lines, versions, headers, bodies, chunked_framing, content_length, utf8,
          nesting, nul_bytes, methods, content_types, signatures, slow, pipelined)


def run_catalogue(d, slow=1.0):
    c = Catalogue(d, slow)
    for group in GROUPS:
        group(c)
    for k in KNOWN_ISSUES:
        if k not in c.known_seen:
            c.failures.append("known issue no longer seen, remove it from KNOWN_ISSUES: %s"
                              % k[2])
    print("catalogue: %d cases passed, %d known issues, %d failed"
          % (c.passed, len(c.xfail), len(c.failures)))
    return c


def still_serving(d, timeout=10):
    status, _, b = d.request("GET", "/healthz", timeout=timeout)
    expect(status == 200, "healthz after the catalogue: %s %r" % (status, b))
    before = d.count()
    status, _, b = d.request("POST", "/events", body=event_bytes(),
                             headers={"Content-Type": "application/json"}, timeout=timeout)
    expect(status == 200 and json.loads(b) == {"accepted": 1, "duplicates": 0},
           "valid POST after the catalogue: %s %r" % (status, b))
    expect(d.count() == before + 1, "the valid POST was not journaled")


def test_hostile_catalogue():
    with Daemon(config=CONFIG) as d:
        c = run_catalogue(d, chtest.SLOW)
        expect(d.alive(), "callhookd died:\n" + d.log_text()[-3000:])
        still_serving(d)
        expect(not c.failures, "%d cases failed:\n  %s" % (len(c.failures),
                                                        "\n  ".join(c.failures)))
    # Daemon.__exit__ -> finish(): SIGTERM must give exit 0, no sanitizer report.


# --- the same under valgrind -------------------------------------------------------

VALGRIND_SLOW = 20.0


class ValgrindDaemon(Daemon):
    """callhookd under memcheck; valgrind writes its report to its own file."""

    def command(self):
        self.vg_log = os.path.join(self.dir, "valgrind.log")
        return ["valgrind", "--leak-check=full", "--error-exitcode=99", "--num-callers=30",
                "--log-file=" + self.vg_log] + super().command()

    def stop(self, sig=None, timeout=None):
        return super().stop(sig or signal.SIGTERM, timeout or 30 * VALGRIND_SLOW)

    def valgrind_report(self):
        with open(self.vg_log, encoding="utf-8", errors="replace") as f:
            return f.read()


def valgrind_unusable():
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (apt-get install valgrind)"
    with open(chtest.CALLHOOKD, "rb") as f:
        binary = f.read()
    if binary.startswith(b"#!"):
        return "%s is a libtool wrapper script, not the binary" % chtest.CALLHOOKD
    if b"__asan_init" in binary:
        return "callhookd is built with AddressSanitizer, which valgrind cannot run"
    return None


def test_hostile_catalogue_under_valgrind():
    why = valgrind_unusable()
    if why:
        print("SKIP test_hostile_catalogue_under_valgrind: " + why)
        return
    d = ValgrindDaemon(config=CONFIG)
    try:
        d.start(timeout=30 * VALGRIND_SLOW / 10)
        c = run_catalogue(d, VALGRIND_SLOW)
        expect(d.alive(), "callhookd died under valgrind:\n" + d.log_text()[-3000:])
        still_serving(d, timeout=10 * VALGRIND_SLOW)
        code = d.stop()
        report = d.valgrind_report()
        tail = report[-4000:]
        expect(not c.failures, "%d cases failed under valgrind:\n  %s"
               % (len(c.failures), "\n  ".join(c.failures)))
        expect(code == 0, "exit status %s under valgrind (99: memcheck found errors):\n%s"
               % (code, tail))
        expect("ERROR SUMMARY: 0 errors" in report, "memcheck errors:\n" + tail)
        expect("definitely lost: 0 bytes" in report or "no leaks are possible" in report,
               "memory definitely lost:\n" + tail)
    finally:
        d.cleanup()


if __name__ == "__main__":
    chtest.run(globals())
