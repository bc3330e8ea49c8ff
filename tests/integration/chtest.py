"""chtest - drive the real callhookd over loopback HTTP, for integration tests.

Each Daemon runs the built binary in the foreground on 127.0.0.1 port 0 (the
kernel picks a free port; we read it from the "listening on" log line) with
its journal in a fresh temporary directory.  Every wait is bounded, so a hung
daemon fails a test instead of hanging CI.

Run a test file directly: every function named test_* runs in order, and the
file exits non-zero if any fails.
"""

import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

CALLHOOKD = os.environ.get("CALLHOOKD", os.path.join(os.getcwd(), "src", "callhookd"))
FIXTURES = os.environ.get("FIXTURES", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
# Handler modules of the build tree (make check sets it); the installed
# directory otherwise.
HANDLERS_DIR = os.environ.get("HANDLERS_DIR")
# Sanitizer builds run several times slower; deadlines scale with this.
SLOW = float(os.environ.get("CHTEST_SLOW", "1"))


def fixture(path):
    with open(os.path.join(FIXTURES, path), "rb") as f:
        return f.read()


class Daemon:
    def __init__(self, config=None, args=(), listen="127.0.0.1:0"):
        self.dir = tempfile.mkdtemp(prefix="callhookd-test-")
        self.db = os.path.join(self.dir, "journal.db")
        self.config = config
        self.args = list(args)
        self.listen = listen
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "stderr.log")

    # --- process ---------------------------------------------------------
    def command(self):
        cmd = [CALLHOOKD, "-f", "--listen", self.listen, "--db", self.db]
        if HANDLERS_DIR is not None and "--handlers-dir" not in self.args:
            cmd += ["--handlers-dir", HANDLERS_DIR]
        if self.config is not None:
            path = os.path.join(self.dir, "callhookd.conf")
            with open(path, "w") as f:
                f.write(self.config)
            cmd += ["-c", path]
        return cmd + self.args

    def start(self, timeout=15):
        self.log = open(self.log_path, "ab")
        self.log_offset = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            m = re.search(r"listening on \S+:(\d+)", self.log_text(since_start=True))
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("callhookd exited with %d at start:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            time.sleep(0.02)
        raise AssertionError("callhookd did not start listening:\n" + self.log_text())

    def log_text(self, since_start=False):
        with open(self.log_path, "rb") as f:
            if since_start:
                f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal the daemon and return its exit status (bounded wait)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("callhookd did not exit after signal %d:\n%s"
                                 % (sig, self.log_text()))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.alive():
            self.kill9()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.finish()
        finally:
            self.cleanup()

    def finish(self):
        """End a test cleanly: SIGTERM must give exit 0, and no sanitizer (in a
        --enable-sanitizers build) may have reported anything, leaks included."""
        if self.alive():
            code = self.stop()
            expect(code == 0, "exit status %s after SIGTERM:\n%s" % (code, self.log_text()))
        log = self.log_text() if os.path.exists(self.log_path) else ""
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            expect(marker not in log, "sanitizer report:\n" + log)

    # --- HTTP --------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a fresh connection: (status, headers dict lower-cased, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def post(self, body, path="/events", content_type="application/json", headers=None):
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        return self.request("POST", path, body=body, headers=h)

    def raw(self, data, timeout=5, read_until_close=True):
        """Send raw bytes on a new socket; return everything read until close or timeout."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout * SLOW)
        try:
            s.sendall(data)
            out = b""
            deadline = time.monotonic() + timeout * SLOW
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
                if not read_until_close and b"\r\n\r\n" in out:
                    break
            return out
        finally:
            s.close()

    # --- journal -----------------------------------------------------------
    def query(self, sql, params=()):
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql, params)]
        finally:
            db.close()

    def count(self, where="1", params=()):
        return self.query("SELECT count(*) AS n FROM events WHERE " + where, params)[0]["n"]


def run_once(config=None, listen="127.0.0.1:0", args=()):
    """Run callhookd to completion (for start-up errors and -t); CompletedProcess."""
    d = Daemon(config=config, listen=listen)
    try:
        return subprocess.run(d.command() + list(args), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30 * SLOW)
    finally:
        d.cleanup()


def wait_lines(path, n, timeout=10):
    """The lines of a file once it has at least n (bounded wait), e.g. a jsonl handler's output."""
    deadline = time.monotonic() + timeout * SLOW
    lines = []
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()
            if len(lines) >= n:
                return lines
        time.sleep(0.05)
    raise AssertionError("%s: %d lines, wanted %d" % (path, len(lines), n))


def status_line(raw):
    """b'HTTP/1.1 413 Content Too Large\\r\\n...' -> 413 (None when nothing came back)."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def error_of(body):
    """Parse the error shape; assert it has exactly code and message strings."""
    doc = json.loads(body)
    assert isinstance(doc, dict) and set(doc) == {"code", "message"}, doc
    assert isinstance(doc["code"], str) and isinstance(doc["message"], str), doc
    return doc


def acs_sign(key_b64, method, path, host, body=b"", date=None):
    """The three headers of Azure Communication Services' HMAC-SHA256 request
    signing, computed here on their own: the tests hold src/acs_sign.c (and
    the emulator, the action sender, callhookctl call) against this."""
    date = date or email.utils.formatdate(usegmt=True)
    content = base64.b64encode(hashlib.sha256(body).digest()).decode()
    to_sign = "%s\n%s\n%s;%s;%s" % (method, path, date, host, content)
    sig = base64.b64encode(hmac.new(base64.b64decode(key_b64), to_sign.encode(),
                                    hashlib.sha256).digest()).decode()
    return {"x-ms-date": date, "x-ms-content-sha256": content,
            "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
                             "&Signature=" + sig}


def acs_check(key_b64, method, path, headers, body, skew_s=300):
    """None when a request carries a right acs_sign signature, else what is wrong."""
    date, content = headers.get("x-ms-date"), headers.get("x-ms-content-sha256")
    auth, host = headers.get("Authorization"), headers.get("Host")
    if not (date and content and auth and host):
        return "a signing header is missing"
    if content != base64.b64encode(hashlib.sha256(body).digest()).decode():
        return "content hash does not match the body"
    try:
        when = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return "bad x-ms-date %r" % date
    if abs(when - time.time()) > skew_s:
        return "x-ms-date %r is off by more than %d s" % (date, skew_s)
    want = acs_sign(key_b64, method, path, host, body, date)["Authorization"]
    if not hmac.compare_digest(auth, want):
        return "signature does not match: %r" % auth
    return None


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def run(module_globals):
    tests = [(n, f) for n, f in module_globals.items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, func in tests:
        start = time.monotonic()
        try:
            func()
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (name, time.monotonic() - start))
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok   %s (%.2fs)" % (name, time.monotonic() - start))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not tests else 0)
