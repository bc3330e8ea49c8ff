"""Per-source limits ([server] max_connections_per_source, rate_limit,
rate_limit_burst, limit_loopback): one address over its connection cap gets
429 and then closed connections, over its request rate 429 with Retry-After
until its bucket refills; a slowloris holding its whole allowance with
trickling requests is timed out (408) while another client is served; the
table of addresses stays bounded; loopback is exempt unless configured.

Every 127.x.y.z address is loopback on Linux: clients bind their socket to
127.0.0.2, 127.0.0.3, ... before connecting, to play different sources, and
the tests that need limits on them set limit_loopback = yes.
"""

import json
import re
import socket
import threading
import time
import uuid

import chtest
from chtest import Daemon, error_of, expect, status_line

ATTACKER = "127.0.0.2"
NEIGHBOUR = "127.0.0.3"


def config(server):
    return "[server]\nlimit_loopback = yes\n%s[handlers]\ndefaults = no\n" % server


def event_body():
    return json.dumps([{"specversion": "1.0", "id": str(uuid.uuid4()), "source": "test/abuse",
                        "type": "Microsoft.Communication.CallConnected",
                        "time": "2025-06-16T20:52:32Z", "data": {"callConnectionId": "x"}}])


def post_bytes(keep_alive=False):
    body = event_body().encode()
    return (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%s\r\n" % (len(body), b"" if keep_alive else
                                               b"Connection: close\r\n")) + body


def connect(d, source, timeout=10):
    return socket.create_connection(("127.0.0.1", d.port), timeout=timeout * chtest.SLOW,
                                    source_address=(source, 0))


def read_answer(s, timeout=10):
    """One answer (headers and Content-Length body), or what came before the
    connection closed."""
    out = b""
    deadline = time.monotonic() + timeout * chtest.SLOW
    s.settimeout(timeout * chtest.SLOW)
    while time.monotonic() < deadline:
        head, sep, rest = out.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"Content-Length: (\d+)", head)
            if m and len(rest) >= int(m.group(1)):
                return out
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk
    return out


def request_from(d, source, data=None):
    """A fresh connection from source, one request: (status, headers, body)."""
    s = connect(d, source)
    try:
        s.sendall(data or post_bytes())
        out = read_answer(s)
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    headers = dict(l.split(b": ", 1) for l in head.split(b"\r\n")[1:] if b": " in l)
    return status_line(out), headers, body


def metric(d, name, **labels):
    _, _, text = d.request("GET", "/metrics")
    want = name + ("{%s}" % ",".join('%s="%s"' % kv for kv in labels.items())
                   if labels else "")
    for line in text.decode().splitlines():
        key, _, value = line.rpartition(" ")
        if key == want:
            return float(value)
    return 0.0


def wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout * chtest.SLOW
    while not cond():
        expect(time.monotonic() < deadline, what)
        time.sleep(0.05)


def test_connection_cap_per_source():
    with Daemon(config=config("max_connections = 64\nmax_connections_per_source = 4\n")) as d:
        held = []
        try:
            for _ in range(4):  # the allowance, each serving keep-alive requests
                s = connect(d, ATTACKER)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                expect(status_line(read_answer(s)) == 200, "within the cap")
                held.append(s)
            status, headers, body = request_from(d, ATTACKER)
            expect(status == 429, (status, body))
            err = error_of(body)
            expect(err["code"] == "TooManyConnections" and "from this address" in err["message"],
                   err)
            expect(headers.get(b"Retry-After") == b"5" and
                   headers.get(b"Connection") == b"close", headers)
            expect(request_from(d, NEIGHBOUR)[0] == 200, "another address was refused")
            # the refused connection and the neighbour's are gone (the
            # gauge counts the scrape's own connection too)
            wait_for(lambda: metric(d, "callhookd_http_connections") == 5, "connections gauge")
            # a few more are accepted and answered 429 (an eighth of the cap,
            # at least 4); past those, closed at once without an answer
            extra = [connect(d, ATTACKER) for _ in range(4)]
            held += extra
            time.sleep(0.2)
            s = connect(d, ATTACKER)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                out = read_answer(s, timeout=5)
            except (BrokenPipeError, ConnectionResetError):
                out = b""
            finally:
                s.close()
            expect(out == b"", "past the extra connections: %r" % out)
            for s in extra:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                expect(status_line(read_answer(s)) == 429, "an extra connection")
        finally:
            for s in held:
                s.close()
        # closed connections leave the count: the address is served again
        wait_for(lambda: metric(d, "callhookd_http_connections") == 1, "connections gauge")
        expect(request_from(d, ATTACKER)[0] == 200, "the count was not released")
        expect(metric(d, "callhookd_http_connections_refused_total") == 6, "refused: 1 + 4 + 1")
        expect(metric(d, "callhookd_rejections_total", reason="TooManyConnections") == 5,
               "five 429 answers")
        expect(d.count() >= 2, "events from the neighbour and the recovered attacker")


def test_rate_limit_with_burst_recovers_after_refill():
    with Daemon(config=config("rate_limit = 2/s\nrate_limit_burst = 4\n")) as d:
        served, start = 0, time.monotonic()
        while True:
            status, headers, body = request_from(d, ATTACKER)
            if status != 200:
                break
            served += 1
            expect(served < 50, "never limited")
        elapsed = time.monotonic() - start
        # the burst, plus what refilled (2/s) while the requests went on
        expect(4 <= served <= 4 + int(2 * elapsed) + 1, (served, elapsed))
        expect(status == 429, (status, body))
        err = error_of(body)
        expect(err["code"] == "TooManyRequests" and "2 requests per second (burst 4)" in
               err["message"], err)
        expect(headers.get(b"Retry-After") == b"1" and headers.get(b"Connection") == b"close",
               headers)
        expect(request_from(d, NEIGHBOUR)[0] == 200, "another address shares the bucket")
        time.sleep(1.05)  # Retry-After
        expect(request_from(d, ATTACKER)[0] == 200, "not served after Retry-After")
        expect(metric(d, "callhookd_rejections_total", reason="TooManyRequests") >= 1, "metric")
        expect(metric(d, "callhookd_http_requests_total", endpoint="/events", code="429") >= 1,
               "answers by status")


def test_slowloris_does_not_starve_other_clients():
    cap, timeout_s = 4, 2
    with Daemon(config=config("max_connections = 16\nmax_connections_per_source = %d\n"
                              "request_timeout = %ds\nidle_timeout = 30s\n"
                              % (cap, timeout_s))) as d:
        results = {}  # attacker connection -> what it got
        conns = []
        stop = threading.Event()

        def attacker():
            # twelve connections, each starting a request and sending one
            # more header byte every 200 ms: never complete
            for i in range(12):
                try:
                    s = connect(d, ATTACKER)
                except OSError as e:
                    results[i] = "connect failed: %s" % e
                    continue
                try:
                    s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    conns.append((i, s))
                except OSError:  # closed at once, and the reset came first
                    results[i] = "closed"
                    s.close()
            while conns and not stop.is_set():
                for i, s in list(conns):
                    try:
                        s.sendall(b"a")
                    except OSError:
                        pass
                    s.settimeout(0.01)
                    try:
                        out = s.recv(65536)
                    except socket.timeout:
                        continue
                    except OSError:
                        out = b""
                    results[i] = status_line(out) if out else "closed"
                    if out:
                        results[i] = (results[i], error_of(out.partition(b"\r\n\r\n")[2])["code"])
                    conns.remove((i, s))
                    s.close()
                time.sleep(0.2)

        t = threading.Thread(target=attacker)
        t.start()
        statuses, start = [], time.monotonic()
        try:
            # the neighbour posts throughout the attack, and a little beyond
            while time.monotonic() - start < (timeout_s + 1.5) * chtest.SLOW:
                statuses.append(request_from(d, NEIGHBOUR)[0])
                time.sleep(0.05)
        finally:
            t.join((timeout_s + 10) * chtest.SLOW)
            stop.set()
            for _, s in conns:
                s.close()
        expect(statuses and all(s == 200 for s in statuses), statuses)
        expect(len(statuses) >= 5, statuses)
        # the allowance and the extra few were held until request_timeout and
        # answered 408; the rest were closed at once
        timed_out = [i for i, r in results.items() if r == (408, "RequestTimeout")]
        closed = [i for i, r in results.items() if r == "closed"]
        expect(len(timed_out) == cap + 4 and len(closed) == 12 - cap - 4, results)
        expect(metric(d, "callhookd_rejections_total", reason="RequestTimeout") == cap + 4,
               "408s counted")
        expect(d.count() == len(statuses), "every 200 is in the journal")


def test_address_table_stays_bounded():
    # 1024 addresses are remembered (4 per max_connections, at least 1024):
    # an address's bucket is forgotten, oldest first, once more have come
    with Daemon(config=config("max_connections = 16\nrate_limit = 1/m\n"
                              "rate_limit_burst = 1\n")) as d:
        first = "127.1.0.1"
        expect(request_from(d, first)[0] == 200, "first request")
        status, headers, body = request_from(d, first)
        expect(status == 429 and error_of(body)["code"] == "TooManyRequests", body)
        expect(40 <= int(headers[b"Retry-After"]) <= 60, headers)
        for n in range(1100):  # every one its own bucket: all served
            source = "127.2.%d.%d" % (n // 250, n % 250 + 1)
            status = request_from(d, source, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n")[0]
            expect(status == 200, (source, status))
        # first's bucket was forgotten to make room: it starts full again
        expect(request_from(d, first)[0] == 200, "the table kept every address")
        expect(request_from(d, first)[0] == 429, "and is limited again")


def test_loopback_is_exempt_by_default():
    with Daemon(config="[server]\nmax_connections_per_source = 2\nrate_limit = 1/m\n"
                       "rate_limit_burst = 1\n[handlers]\ndefaults = no\n") as d:
        held = [connect(d, ATTACKER) for _ in range(4)]
        try:
            for _ in range(5):
                expect(request_from(d, ATTACKER)[0] == 200, "loopback was limited")
        finally:
            for s in held:
                s.close()
        expect(metric(d, "callhookd_http_connections_refused_total") == 0, "refused")


def test_limit_keys_are_checked():
    for line, why in [("rate_limit = 5", "is not N/s, N/m or 0"),
                      ("rate_limit = 0/s", "the count must be 1 to 1000000"),
                      ("rate_limit = 5/h", "is not N/s, N/m or 0"),
                      ("rate_limit_burst = 0", "between 1 and 1000000"),
                      ("max_connections_per_source = -1", "between 0 and 1000000"),
                      ("limit_loopback = maybe", "is not yes or no")]:
        r = chtest.run_once(config="[server]\n%s\n" % line, args=["-t"])
        expect(r.returncode == 2 and why in r.stderr and len(r.stderr.splitlines()) == 1,
               (line, r.returncode, r.stderr))
    r = chtest.run_once(config="[server]\nrate_limit = 600/m\nrate_limit_burst = 50\n"
                        "max_connections_per_source = 0\nlimit_loopback = no\n", args=["-t"])
    expect(r.returncode == 0, r.stderr)


if __name__ == "__main__":
    chtest.run(globals())
