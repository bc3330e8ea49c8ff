"""Durability: nothing acknowledged is ever lost, whatever happens to the process
or the database; group commit really groups."""

import http.client
import json
import re
import signal
import socket
import sqlite3
import threading
import time
import uuid

import chtest
from chtest import Daemon, error_of, expect


def event(eid):
    return json.dumps([{"id": eid, "source": "calling/callConnections/load",
                        "type": "Microsoft.Communication.CallConnected", "specversion": "1.0",
                        "data": {"callConnectionId": "load"}}])


class Load:
    """Threads posting distinct events over keep-alive connections until told to
    stop (or a bounded count); every 200 is recorded with its event id."""

    def __init__(self, port, threads=8, per_thread=200):
        self.port = port
        self.acked = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.per_thread = per_thread
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, n):
        conn = None
        for i in range(self.per_thread):
            if self.stop.is_set():
                break
            eid = "t%d-%d-%s" % (n, i, uuid.uuid4().hex[:8])
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=10 * chtest.SLOW)
                conn.request("POST", "/events", body=event(eid),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    with self.lock:
                        self.acked.append(eid)
            except (OSError, http.client.HTTPException):
                conn = None  # the daemon went away: this one was not acknowledged
                time.sleep(0.01)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30 * chtest.SLOW)


def journaled_ids(d):
    return [r["event_id"] for r in d.query("SELECT event_id FROM events")]


def test_kill_9_under_load_loses_nothing_acknowledged():
    d = Daemon().start()
    try:
        load = Load(d.port, threads=8, per_thread=100000).start()
        deadline = time.monotonic() + 10 * chtest.SLOW
        while len(load.acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        d.kill9()  # in the middle of the load: requests in flight die with it
        load.join()
        acked = set(load.acked)
        expect(len(acked) >= 300, "too little load before the kill: %d" % len(acked))
        d.start()  # same journal
        ids = journaled_ids(d)
        missing = acked - set(ids)
        expect(not missing, "%d acknowledged events lost, e.g. %r" % (len(missing),
                                                                      sorted(missing)[:3]))
        expect(len(ids) == len(set(ids)), "an event was journaled twice")
        # every acknowledged event is still answered as a duplicate when redelivered
        some = sorted(acked)[0]
        status, _, body = d.post(event(some))
        expect(status == 200 and json.loads(body)["duplicates"] == 1, body)
    finally:
        d.cleanup()


def test_sigterm_drains_in_flight_requests_and_exits_0():
    d = Daemon().start()
    try:
        load = Load(d.port, threads=16, per_thread=100000).start()
        deadline = time.monotonic() + 10 * chtest.SLOW
        while len(load.acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        code = d.stop(signal.SIGTERM)
        load.join()
        expect(code == 0, "exit status %s:\n%s" % (code, d.log_text()))
        log = d.log_text()
        expect("shutdown: SIGTERM received" in log and "shutdown: done" in log, log)
        acked = set(load.acked)
        d.start()
        missing = acked - set(journaled_ids(d))
        expect(not missing, "%d acknowledged events lost on SIGTERM" % len(missing))
    finally:
        d.cleanup()


def test_drain_refuses_new_connections_and_a_second_signal_cuts_it_short():
    config = "[server]\ndrain_timeout = 60s\nrequest_timeout = 60s\n"
    d = Daemon(config=config, args=["--log-level", "error"]).start()
    try:
        # the port line is printed whatever the log level
        expect(d.port, "no listening line at --log-level error")
        slow = socket.create_connection(("127.0.0.1", d.port))
        slow.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
        time.sleep(0.2)  # a request in progress: the drain waits for it
        d.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5 * chtest.SLOW
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                socket.create_connection(("127.0.0.1", d.port), timeout=1).close()
                time.sleep(0.05)
            except (ConnectionRefusedError, ConnectionResetError):
                # refused once the listener is closed; reset if the connect
                # raced into its backlog just before
                refused = True
        expect(refused, "new connections still accepted while draining")
        expect(d.alive(), "the drain did not wait for the request in progress")
        start = time.monotonic()
        code = d.stop(signal.SIGTERM)
        expect(code == 0 and time.monotonic() - start < 5 * chtest.SLOW,
               "second SIGTERM: exit %s after %.1fs" % (code, time.monotonic() - start))
        slow.close()
    finally:
        d.cleanup()


def test_locked_store_answers_503_then_recovers_by_itself():
    config = "[store]\nbusy_timeout = 100ms\n[server]\nretry_after = 7s\n"
    with Daemon(config=config) as d:
        expect(d.post(event("before"))[0] == 200, "baseline")
        holder = sqlite3.connect(d.db, timeout=1, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            status, headers, body = d.post(event("during"))
            expect(status == 503, "status %s %r" % (status, body))
            expect(headers.get("retry-after") == "7", headers)
            err = error_of(body)
            expect(err["code"] == "StoreUnavailable" and "locked" in err["message"], err)
            status, _, body = d.request("GET", "/readyz")
            expect(status == 503 and error_of(body)["code"] == "StoreUnavailable", body)
            expect(d.request("GET", "/healthz")[0] == 200, "liveness must not flap")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # the writer probes on its own; readiness returns without any new request
        deadline = time.monotonic() + 10 * chtest.SLOW
        while d.request("GET", "/readyz")[0] != 200:
            expect(time.monotonic() < deadline, "did not recover:\n" + d.log_text())
            time.sleep(0.1)
        expect(d.post(event("during"))[0] == 200, "the sender's retry succeeds")
        expect(sorted(journaled_ids(d)) == ["before", "during"], journaled_ids(d))
        log = d.log_text()
        expect("journal not writable" in log and "writable again" in log, log)


def test_concurrent_requests_share_transactions():
    with Daemon(args=["--log-level", "debug"]) as d:
        load = Load(d.port, threads=16, per_thread=40).start()
        for t in load.threads:
            t.join(60 * chtest.SLOW)
        expect(len(load.acked) == 16 * 40, "acknowledged %d" % len(load.acked))
        jobs = [int(m) for m in re.findall(r"committed jobs=(\d+)", d.log_text())]
        expect(sum(jobs) == 16 * 40, "jobs in commits: %d" % sum(jobs))
        expect(max(jobs) > 1, "no transaction held more than one request: %r" % jobs[:20])
        expect(len(jobs) < 16 * 40, "one transaction per request: no group commit")
        expect(d.count() == 16 * 40, "rows")


if __name__ == "__main__":
    chtest.run(globals())
