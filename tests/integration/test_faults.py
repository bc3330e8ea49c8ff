"""Faults, each against the real daemon: kill -9 under sustained load with the
handlers running, a journal that stops taking writes (immutable files, a full
disk, another process's lock), and handlers that hang, leak or crash.  The
rule every test checks: nothing acknowledged is lost or doubled, intake keeps
answering (200, or 503 with Retry-After while the journal cannot take
writes), and the daemon recovers by itself.

test_durability.py has the plain kill -9, the SIGTERM drain and the locked
store's answers; this file adds the handlers' side of each fault.  Faults
that need root or a kernel feature (chattr, mount) are skipped with a printed
note when the machine does not allow them.
"""

import errno
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid

import chtest
from chtest import Daemon, error_of, expect

TEST_HANDLERS = os.environ.get("TEST_HANDLERS_DIR", "tests/handlers/.libs")
PROBE = os.path.join(TEST_HANDLERS, "th_probe.so")          # on the shared worker
PROBE_OWN = os.path.join(TEST_HANDLERS, "th_probe_own.so")  # a worker of its own
CONNECTED = "Microsoft.Communication.CallConnected"
DTMF = "Microsoft.Communication.DtmfReceived"
SLOW = chtest.SLOW


def ce(eid, type_=CONNECTED, pad=0):
    """One CloudEvent; a CallConnected makes the callstate handler write a
    calls row keyed by its id."""
    data = {"callConnectionId": eid}
    if pad:
        data["pad"] = "x" * pad
    return {"id": eid, "source": "calling/callConnections/" + eid, "type": type_,
            "specversion": "1.0", "data": data}


def post(d, *events):
    return d.post(list(events))


def ids_in_journal(d):
    return [r["event_id"] for r in d.query("SELECT event_id FROM events")]


def wait_until(what, fn, timeout=10):
    """Poll fn() until it is truthy (bounded); return its value."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        try:
            got = fn()
        except sqlite3.OperationalError:  # a table not created yet
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def handler_caught_up(d, handler):
    """Every journal row the handler matches has been delivered (done)."""
    rows = d.query("SELECT (SELECT cursor FROM handlers WHERE name = ?1) AS cursor, "
                   "(SELECT MAX(id) FROM events) AS last, "
                   "(SELECT COUNT(*) FROM deliveries WHERE handler = ?1 "
                   " AND state != 'done') AS open", (handler,))[0]
    return rows["cursor"] == rows["last"] and rows["open"] == 0


def expect_delivered_once(d, acked):
    """Every acknowledged event is journaled, no event twice; and the
    callstate handler has exactly one calls row and one call_states row for
    every journaled CallConnected (acknowledged or not: a commit whose answer
    was lost counts too), and no other."""
    wait_until("callstate to catch up", lambda: handler_caught_up(d, "callstate"))
    journal = ids_in_journal(d)
    expect(len(journal) == len(set(journal)), "an event was journaled twice")
    missing = set(acked) - set(journal)
    expect(not missing, "%d acknowledged events lost, e.g. %r" % (len(missing),
                                                                  sorted(missing)[:3]))
    connected = sorted(r["event_id"] for r in d.query(
        "SELECT event_id FROM events WHERE event_type = ?", (CONNECTED,)))
    calls = sorted(r["call_id"] for r in d.query("SELECT call_id FROM calls"))
    expect(calls == connected, "calls rows %d, CallConnected journal rows %d"
           % (len(calls), len(connected)))
    states = d.query("SELECT call_id, COUNT(*) AS n FROM call_states GROUP BY call_id")
    doubled = [r for r in states if r["n"] != 1]
    expect(len(states) == len(connected) and not doubled,
           "call_states: %d calls, doubled %r" % (len(states), doubled[:3]))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class Posters:
    """Threads posting distinct CallConnected events, each on a keep-alive
    connection to whatever port the daemon has now (it may be restarted),
    until stopped (or limit posts each).  Every answer is recorded: (event id,
    status, seconds, headers, body); a connection that died is recorded with
    status None."""

    def __init__(self, d, threads=4, pause=0.0, limit=None):
        self.d = d
        self.pause = pause
        self.limit = limit
        self.answers = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, n):
        conn, port, i = None, None, 0
        while not self.stop_flag.is_set() and (self.limit is None or i < self.limit):
            eid = "p%d-%d-%s" % (n, i, uuid.uuid4().hex[:8])
            i += 1
            start = time.monotonic()
            try:
                if conn is None or port != self.d.port:
                    port = self.d.port
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
                conn.request("POST", "/events", body=json.dumps([ce(eid)]),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                body = resp.read()
                record = (eid, resp.status, time.monotonic() - start,
                          {k.lower(): v for k, v in resp.getheaders()}, body)
            except (OSError, http.client.HTTPException):
                conn = None  # the daemon went away: not acknowledged
                record = (eid, None, time.monotonic() - start, {}, b"")
                time.sleep(0.02)
            with self.lock:
                self.answers.append(record)
            if self.pause:
                time.sleep(self.pause)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30 * SLOW)
        return self

    def acked(self):
        with self.lock:
            return [a[0] for a in self.answers if a[1] == 200]

    def since(self, n):
        with self.lock:
            return self.answers[n:]

    def count(self):
        with self.lock:
            return len(self.answers)


def expect_all_ok(answers, bound, what):
    """Every answer a 200, none slower than bound seconds."""
    bad = [a[:3] for a in answers if a[1] != 200]
    slowest = max((a[2] for a in answers), default=0)
    expect(answers, what + ": nothing was posted")
    expect(not bad, "%s: %d of %d not 200, e.g. %r" % (what, len(bad), len(answers), bad[:3]))
    expect(slowest < bound, "%s: slowest answer %.2fs (bound %.2fs)" % (what, slowest, bound))
    print("  %s: %d answers, all 200, slowest %.3fs" % (what, len(answers), slowest))


def write_locked(d):
    """Does someone hold the journal's write lock right now?"""
    db = sqlite3.connect(d.db, timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as e:
        if "locked" not in str(e):
            raise
        time.sleep(0.05)
        return True
    finally:
        db.close()


def stop_within(d, seconds):
    """SIGTERM: exit status 0 within seconds (scaled); returns how long it took."""
    start = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    try:
        code = d.proc.wait(seconds * SLOW)
    except subprocess.TimeoutExpired:
        d.kill9()
        raise AssertionError("no exit %.1fs after SIGTERM:\n%s" % (seconds * SLOW, d.log_text()))
    took = time.monotonic() - start
    expect(code == 0, "exit status %s:\n%s" % (code, d.log_text()))
    return took


# --- kill -9 under load, handlers included -------------------------------------


def test_kill_9_under_sustained_load_every_acknowledged_event_once_with_handlers():
    d = Daemon(config="[handlers]\nretry_base = 50ms\n")  # built-in handlers on
    try:
        d.start()
        posters = Posters(d, threads=8).start()
        # several seconds of load, and enough of it acknowledged
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline or len(posters.acked()) < 300:
            expect(time.monotonic() < deadline + 20 * SLOW, "too little load: %d acknowledged"
                   % len(posters.acked()))
            time.sleep(0.05)
        d.kill9()  # requests, commits and handler batches in flight die with it
        posters.stop()
        acked = posters.acked()
        print("  acknowledged %d events from 8 clients before kill -9" % len(acked))
        d.start()  # the same journal
        expect_delivered_once(d, acked)
        expect(d.count("event_id = ?", (acked[0],)) == 1, "redelivery is a duplicate")
        d.finish()
    finally:
        d.cleanup()


# --- the journal stops taking writes ------------------------------------------

UNWRITABLE_CONFIG = "[store]\nbusy_timeout = 200ms\n[server]\nretry_after = 3s\n"


def expect_503(answer, words):
    status, headers, body = answer
    expect(status == 503, "status %s %r" % (status, body))
    expect(headers.get("retry-after") == "3", headers)
    err = error_of(body)
    expect(err["code"] == "StoreUnavailable", err)
    expect(any(w in err["message"] for w in words), err)


def unwritable(d, name, fault_on, fault_off, words, fill=None):
    """One fault, start to end: acknowledged events before it; answers 503
    while it lasts (with Retry-After and the error shape), /readyz 503,
    /healthz 200; recovery without any request once it is removed; then new
    events are journaled and delivered to the handlers, and every
    acknowledged one is there exactly once."""
    acked = []
    for i in range(20):  # handlers have work to do when the fault strikes
        eid = "%s-before-%d" % (name, i)
        expect(post(d, ce(eid))[0] == 200, "before the fault")
        acked.append(eid)
    fault_on()
    try:
        first = None
        for i in range(2000 if fill else 1):  # a full disk takes filling first
            eid = "%s-during-%d" % (name, i)
            answer = post(d, ce(eid, pad=fill or 0))
            if answer[0] != 200:
                first = answer
                break
            acked.append(eid)
        expect(first is not None, "the journal still takes writes")
        expect_503(first, words)
        for i in range(3):  # and stays so while the fault lasts
            expect_503(post(d, ce("%s-refused-%d" % (name, i), pad=fill or 0)), words)
        status, headers, body = d.request("GET", "/readyz")
        expect(status == 503 and error_of(body)["code"] == "StoreUnavailable", body)
        expect(d.request("GET", "/healthz")[0] == 200, "liveness must not flap")
    finally:
        fault_off()
    start = time.monotonic()
    wait_until(name + ": /readyz 200 again", lambda: d.request("GET", "/readyz")[0] == 200)
    print("  %s: %d acknowledged before the 503s, ready again %.2fs after the fault ended"
          % (name, len(acked), time.monotonic() - start))
    expect(post(d, ce(name + "-after"))[0] == 200, "intake after recovery")
    acked.append(name + "-after")
    expect_delivered_once(d, acked)
    expect(d.count("event_id LIKE ?", (name + "-refused-%",)) == 0, "a 503 was journaled")
    log = d.log_text()
    expect("journal not writable" in log and "writable again" in log, log)


def tool(*argv):
    """Run a system tool; a missing one is a failure like any other (a skip)."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    except OSError as e:
        return subprocess.CompletedProcess(argv, 127, "", str(e))


def chattr(flag, paths):
    return tool("chattr", flag, *paths)


def test_immutable_journal_files_answer_503_then_recover():
    # Root ignores file modes, not the immutable attribute.
    d = Daemon(config=UNWRITABLE_CONFIG)
    try:
        d.start()
        expect(post(d, ce("warm-up"))[0] == 200, "warm-up")  # the WAL file exists
        files = [f for f in (d.db, d.db + "-wal") if os.path.exists(f)]
        probe = chattr("+i", files[:1])
        if probe.returncode != 0:
            print("SKIP immutable files: chattr +i does not work here: " + probe.stderr.strip())
            return
        chattr("-i", files[:1])
        unwritable(d, "immutable", lambda: chattr("+i", files), lambda: chattr("-i", files),
                   ["disk I/O error", "readonly", "read-only"])
        d.finish()
    finally:
        chattr("-i", [f for f in (d.db, d.db + "-wal") if os.path.exists(f)])
        d.cleanup()


def test_full_disk_answers_503_then_recovers():
    mnt = tempfile.mkdtemp(prefix="callhookd-tmpfs-")
    d = Daemon(config=UNWRITABLE_CONFIG)
    mounted = False
    try:
        r = tool("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mnt)
        if r.returncode != 0:
            print("SKIP full disk: cannot mount a tmpfs here: " + (r.stderr or r.stdout).strip())
            return
        mounted = True
        d.db = os.path.join(mnt, "journal.db")
        d.start()
        filler = os.path.join(mnt, "filler")

        def fill():  # all but 192 KiB (the events fill the rest), or all of it
            st = os.statvfs(mnt)
            left = st.f_bavail * st.f_frsize - (192 << 10)
            with open(filler, "wb", buffering=0) as f:
                try:
                    while left > 0:  # the handlers' writes may take some meanwhile
                        left -= f.write(b"\0" * min(left, 64 << 10))
                except OSError as e:
                    expect(e.errno == errno.ENOSPC, "filling: %s" % e)

        unwritable(d, "full", fill, lambda: os.unlink(filler), ["full"], fill=4000)
        d.finish()
    finally:
        d.cleanup()
        if mounted and tool("umount", mnt).returncode != 0:
            tool("umount", "-l", mnt)  # busy: detach it now, freed when unused
        os.rmdir(mnt)


def test_write_lock_held_elsewhere_handlers_catch_up_after_it():
    d = Daemon(config=UNWRITABLE_CONFIG)
    holder = None
    try:
        d.start()

        def lock():
            nonlocal holder
            holder = sqlite3.connect(d.db, timeout=1, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")

        def unlock():
            holder.execute("ROLLBACK")
            holder.close()

        unwritable(d, "locked", lock, unlock, ["locked"])
        d.finish()
    finally:
        d.cleanup()


# --- handlers that hang, leak or crash ----------------------------------------


def test_hanging_handler_on_its_own_worker_neither_stops_intake_nor_shutdown():
    # Built-in handlers on the shared worker, "stuck" and "slow" on workers
    # of their own.
    config = ("[server]\ndrain_timeout = 1s\nretry_after = 3s\n"
              "[handler stuck]\nmodule = %s\nhang_type = %s\n"
              "[handler slow]\nmodule = %s\nslow_ms = 2\nevents = %s\n"
              % (PROBE_OWN, DTMF, PROBE_OWN, CONNECTED))
    d = Daemon(config=config)
    try:
        d.start()
        # One request, one batch for "stuck": it writes for the first event,
        # then never returns from the second.
        expect(post(d, ce("first"), ce("hang", DTMF))[0] == 200, "the hanging event")
        wait_until("stuck to take the hanging event", lambda: d.query(
            "SELECT attempts FROM deliveries WHERE handler = 'stuck' AND state = 'pending' "
            "AND event_id = (SELECT id FROM events WHERE event_id = 'hang')"))
        posters = Posters(d, threads=4).start()
        time.sleep(2)
        health = [d.request("GET", "/healthz")[0] for _ in range(5)]
        posters.stop()
        expect_all_ok(posters.answers, 2.0 * SLOW, "intake while a handler hangs")
        expect(health == [200] * 5, health)
        expect(d.request("GET", "/readyz")[0] == 200, "still ready")
        # the other handlers go on: every event reaches callstate
        expect_delivered_once(d, posters.acked() + ["first"])
        stuck = d.query("SELECT COUNT(*) AS n FROM deliveries WHERE handler = 'stuck' "
                        "AND state = 'done'")[0]["n"]
        expect(stuck == 1, "the hung handler went on: %d done" % stuck)
        slow = d.query("SELECT COUNT(*) AS n FROM deliveries WHERE handler = 'slow' "
                       "AND state = 'done'")[0]["n"]
        expect(slow >= 50, "the other own-thread handler stalled: %d done" % slow)
        # SIGTERM: the hung worker is left behind after drain_timeout
        took = stop_within(d, 1 + 3)
        print("  exit %.2fs after SIGTERM with a handler hung (drain_timeout 1s)" % took)
        expect('handler still running at the deadline, abandoned" handler=stuck'
               in d.log_text(), d.log_text())
        # the next start runs the hung delivery again, here without the hang
        d.config = config.replace("hang_type", "label")
        d.start()
        wait_until("stuck to catch up", lambda: handler_caught_up(d, "stuck"))
        retried = d.query("SELECT d.attempts FROM deliveries d JOIN events e "
                          "ON e.id = d.event_id WHERE d.handler = 'stuck' "
                          "AND e.event_id = 'hang'")
        expect(retried == [{"attempts": 2}], retried)
        done = d.query("SELECT COUNT(*) AS n FROM deliveries WHERE handler = 'stuck' "
                       "AND state = 'done'")[0]["n"]
        expect(done == d.count(), "stuck: %d done, journal %d" % (done, d.count()))
        d.finish()
    finally:
        d.cleanup()


def test_handler_hanging_inside_its_transaction_gets_503_not_a_stall():
    # On the shared worker, batched: the first event's writes are still
    # uncommitted when the second call hangs, so the write lock stays taken.
    # Intake must answer (503, as for a lock held by another process) and
    # SIGTERM must still end the process.
    config = ("[handlers]\ndefaults = no\n[store]\nbusy_timeout = 300ms\n"
              "[server]\ndrain_timeout = 1s\nretry_after = 3s\n"
              "[handler probe]\nmodule = %s\nhang_type = %s\n" % (PROBE, DTMF))
    d = Daemon(config=config)
    try:
        d.start()
        expect(post(d, ce("first"), ce("hang", DTMF))[0] == 200, "the hanging event")
        wait_until("the batch to be claimed", lambda: d.query(
            "SELECT COUNT(*) AS n FROM deliveries WHERE attempts = 1")[0]["n"] == 2)
        wait_until("the handler to hang with the lock taken",
                   lambda: all(write_locked(d) for _ in range(3)))
        start = time.monotonic()
        answer = post(d, ce("blocked"))
        took = time.monotonic() - start
        expect_503(answer, ["waited 300 ms for the handlers to release the write lock"])
        expect(took < 0.3 + 2 * SLOW, "answered after %.2fs" % took)
        expect(d.request("GET", "/healthz")[0] == 200, "alive")
        expect(d.request("GET", "/readyz")[0] == 503, "not ready while the lock is held")
        exit_took = stop_within(d, 1 + 3)
        print("  503 after %.2fs; exit %.2fs after SIGTERM" % (took, exit_took))
        # nothing was acknowledged that is not there; the next start delivers both
        d.config = config.replace("hang_type", "label")
        d.start()
        wait_until("probe to catch up", lambda: handler_caught_up(d, "probe"))
        expect(sorted(ids_in_journal(d)) == ["first", "hang"], ids_in_journal(d))
        expect(post(d, ce("blocked"))[0] == 200, "the sender's retry")
        d.finish()
    finally:
        d.cleanup()


def test_leaking_handler_does_not_stop_intake():
    leak = 512 << 10  # per event
    config = "[handler leaky]\nmodule = %s\nleak_bytes = %d\n" % (PROBE, leak)
    d = Daemon(config=config)
    # The leak is the point here: a sanitizer build must not fail the exit on it.
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "detect_leaks=0"
    try:
        d.start()
    finally:
        if saved is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = saved
    try:
        expect(post(d, ce("warm-up"))[0] == 200, "warm-up")
        wait_until("leaky to start", lambda: handler_caught_up(d, "leaky"))
        before = rss_kib(d.proc.pid)
        posters = Posters(d, threads=2, limit=40).start()
        wait_until("80 events", lambda: posters.count() >= 80)
        posters.stop()
        expect_all_ok(posters.answers, 2.0 * SLOW, "intake while a handler leaks")
        wait_until("leaky to catch up", lambda: handler_caught_up(d, "leaky"))
        grown = rss_kib(d.proc.pid) - before
        n = len(posters.acked())
        print("  RSS grew %d KiB over %d events leaking %d KiB each" % (grown, n, leak >> 10))
        expect(grown >= n * (leak >> 10) * 3 // 4, "the module did not leak: %d KiB" % grown)
        expect(d.request("GET", "/healthz")[0] == 200, "alive")
        expect_delivered_once(d, posters.acked() + ["warm-up"])
        d.finish()
    finally:
        d.cleanup()


def test_intake_keeps_acknowledging_while_a_handler_crash_loops():
    # A supervisor restarts the daemon each time the handler kills it (as
    # systemd's Restart=on-failure does); clients post all along.  The event
    # is quarantined after max_attempts crashes, and then every post gets 200.
    config = ("[handlers]\nmax_attempts = 3\nretry_base = 50ms\n"
              "[handler crashy]\nmodule = %s\ncrash_type = %s\n" % (PROBE, DTMF))
    d = Daemon(config=config)
    posters = None
    try:
        d.start()
        posters = Posters(d, threads=2, pause=0.01).start()
        wait_until("some load", lambda: len(posters.acked()) >= 20)
        try:
            post(d, ce("poison", DTMF))  # journaled, then kills the daemon
        except (OSError, http.client.HTTPException):
            pass
        crashes = 0
        deadline = time.monotonic() + 30 * SLOW
        while time.monotonic() < deadline and crashes < 6:
            if d.alive():
                quarantined = d.query("SELECT COUNT(*) AS n FROM deliveries "
                                      "WHERE handler = 'crashy' AND state = 'dead'")[0]["n"]
                if quarantined:
                    break
                time.sleep(0.05)
                continue
            expect(d.proc.returncode == -6, "died of SIGABRT, not %s" % d.proc.returncode)
            crashes += 1
            try:
                d.start()
            except AssertionError:
                pass  # it died again before it listened: the loop sees it
        expect(d.alive() and crashes == 3, "crashes %d, alive %s" % (crashes, d.alive()))
        time.sleep(0.2)  # each poster's next connection goes to the new port
        mark = posters.count()
        time.sleep(1)
        posters.stop()
        expect_all_ok(posters.since(mark), 2.0 * SLOW, "intake once quarantined")
        acked = posters.acked()
        print("  %d crashes, %d events acknowledged meanwhile" % (crashes, len(acked)))
        dead = d.query("SELECT e.event_id FROM deliveries d JOIN events e ON e.id = d.event_id "
                       "WHERE d.state = 'dead'")
        expect(dead == [{"event_id": "poison"}], dead)
        expect_delivered_once(d, acked)
        d.finish()
    finally:
        if posters is not None:
            posters.stop()
        d.cleanup()


if __name__ == "__main__":
    chtest.run(globals())
