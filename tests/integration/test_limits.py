"""Limits: each answered with the error shape and a status that steers the sender,
never a crash, a reset that eats the answer, or a hang."""

import json
import socket
import threading
import time
import uuid

import chtest
from chtest import Daemon, error_of, expect, status_line

LIMITS = """
[server]
max_connections = 4
request_timeout = 1s
idle_timeout = 2s
[limits]
max_body = 64k
max_header = 4k
max_events = 3
max_depth = 16
max_id_length = 64
"""


def event(eid=None):
    return {"id": eid or str(uuid.uuid4()), "source": "calling/callConnections/x",
            "type": "Microsoft.Communication.CallConnected", "specversion": "1.0",
            "time": "2025-06-16T20:52:32Z", "data": {"callConnectionId": "x"}}


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""


def send_while_reading(d, data, timeout=10):
    """Send data from a thread while reading the answer, as a real client does:
    the answer to an oversized upload can arrive while the upload is going on."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout * chtest.SLOW)
    errors = []

    def sender():
        try:
            s.sendall(data)
        except OSError as e:  # the server may close after answering: fine
            errors.append(e)

    t = threading.Thread(target=sender)
    t.start()
    out = b""
    deadline = time.monotonic() + timeout * chtest.SLOW
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, socket.timeout) as e:
        raise AssertionError("answer lost (%r) after %r" % (e, out[:200]))
    finally:
        t.join(timeout * chtest.SLOW)
        s.close()
    return out


def test_announced_oversized_body_gets_413_not_a_reset():
    with Daemon(config=LIMITS) as d:
        body = b"[" + b" " * (2 * 1024 * 1024) + b"]"
        req = (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        out = send_while_reading(d, req)
        expect(status_line(out) == 413, out[:200])
        expect(error_of(body_of(out))["code"] == "BodyTooLarge", out)
        expect(b"Connection: close" in out, out)
        expect(d.request("GET", "/healthz")[0] == 200, "daemon unhealthy")


def test_chunked_oversized_body_gets_413():
    with Daemon(config=LIMITS) as d:
        chunk = b"x" * 8192
        req = b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        req += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 40 + b"0\r\n\r\n"
        out = send_while_reading(d, req)
        expect(status_line(out) == 413, out[:200])
        error_of(body_of(out))


def test_chunked_body_within_limit_is_accepted():
    with Daemon(config=LIMITS) as d:
        body = json.dumps([event()]).encode()
        half = len(body) // 2
        req = (b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
        for part in (body[:half], body[half:]):
            req += b"%x\r\n" % len(part) + part + b"\r\n"
        req += b"0\r\n\r\n"
        out = d.raw(req)
        expect(status_line(out) == 200, out)
        expect(d.count() == 1, "not stored")


def test_oversized_headers_get_431():
    with Daemon(config=LIMITS) as d:
        req = (b"POST /events HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 +
               b"\r\nContent-Length: 2\r\n\r\n{}")
        out = send_while_reading(d, req)
        expect(status_line(out) == 431, out[:200])
        expect(error_of(body_of(out))["code"] == "HeadersTooLarge", out)
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(300))
        out = send_while_reading(d, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        expect(status_line(out) == 431, out[:200])


def test_expect_continue():
    with Daemon(config=LIMITS) as d:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5 * chtest.SLOW)
        try:
            s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 999999\r\n\r\n")
            out = s.recv(65536)  # the refusal comes before any body is sent
            expect(status_line(out) == 413, out)
        finally:
            s.close()
        body = json.dumps([event()]).encode()
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5 * chtest.SLOW)
        try:
            s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                      % len(body))
            out = s.recv(65536)
            expect(out.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), out)
            s.sendall(body)
            out = s.recv(65536)
            expect(status_line(out) == 200, out)
        finally:
            s.close()


def test_content_length_larger_than_body_times_out_with_408():
    with Daemon(config=LIMITS) as d:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * chtest.SLOW)
        try:
            start = time.monotonic()
            s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
            out = s.recv(65536)
            took = time.monotonic() - start
            expect(status_line(out) == 408, out)
            expect(error_of(body_of(out))["code"] == "RequestTimeout", out)
            expect(0.8 <= took < 5 * chtest.SLOW, "answered after %.2fs" % took)
        finally:
            s.close()


def test_connection_limit_answers_429_and_recovers():
    with Daemon(config=LIMITS) as d:
        idle = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(4)]
        try:
            time.sleep(0.2)  # let the daemon accept them all
            out = d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            expect(status_line(out) == 429, out)
            expect(b"Retry-After: " in out, out)
            expect(error_of(body_of(out))["code"] == "TooManyConnections", out)
        finally:
            for s in idle:
                s.close()
        deadline = time.monotonic() + 5 * chtest.SLOW
        while time.monotonic() < deadline:
            if status_line(d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                 read_until_close=False)) == 200:
                return
            time.sleep(0.05)
        raise AssertionError("closed connections were not released from the count")


def test_idle_keep_alive_connection_is_closed():
    with Daemon(config=LIMITS) as d:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * chtest.SLOW)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            first = s.recv(65536)
            expect(status_line(first) == 200, first)
            start = time.monotonic()
            rest = s.recv(65536)
            expect(rest == b"", rest)
            expect(time.monotonic() - start >= 1.5, "closed too early")
        finally:
            s.close()


def test_event_count_depth_and_id_limits():
    with Daemon(config=LIMITS) as d:
        status, _, body = d.post([event() for _ in range(4)])
        expect(status == 413 and error_of(body)["code"] == "TooManyEvents", body)
        deep = event()
        nested = []
        for _ in range(40):
            nested = [nested]
        deep["data"]["deep"] = nested
        status, _, body = d.post([deep])
        expect(status == 400 and error_of(body)["code"] == "TooDeep", body)
        status, _, body = d.post([event("x" * 65)])
        err = error_of(body)
        expect(status == 400 and "id" in err["message"], err)
        expect(d.count() == 0, "over-limit input stored")


def test_malformed_http_gets_400_and_the_daemon_carries_on():
    with Daemon(config=LIMITS) as d:
        out = d.raw(b"POST /events HTTP/9.9\r\n\r\n")
        expect(status_line(out) == 505, out[:200])
        for junk in [b"NOT HTTP AT ALL\r\n\r\n",
                     b"POST /events HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                     b"POST /events HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                     b"POST /events HTTP/1.1\r\nBad Header\r\n\r\n",
                     b"GET /\x00 HTTP/1.1\r\n\r\n"]:
            out = d.raw(junk)
            expect(status_line(out) == 400, "%r -> %r" % (junk, out[:200]))
            error_of(body_of(out))
        expect(d.request("GET", "/healthz")[0] == 200, "daemon unhealthy")


if __name__ == "__main__":
    chtest.run(globals())
