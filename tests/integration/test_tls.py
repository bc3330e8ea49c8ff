"""Native HTTPS ([server] tls_cert, tls_key): events journaled over TLS, TLS 1.2
minimum, plain HTTP on the TLS port answered 400 (and TLS on a plain port
refused), limits and their lingering close intact over TLS, keep-alive, a
SIGHUP that swaps the certificate for new connections, bad files refused at
start-up, by -t and on reload (the running certificate stays), and a
handshake that never comes closed after request_timeout.

Certificates are made at test time with the openssl CLI (P-256 keys: quick
to make, and above security level 2).
"""

import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
import warnings

import chtest
from chtest import Daemon, error_of, expect, run_once, status_line

CERTS = tempfile.mkdtemp(prefix="callhookd-tls-")


def make_cert(name, cn):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    cert = os.path.join(CERTS, name + ".crt")
    key = os.path.join(CERTS, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


CERT_A, KEY_A = make_cert("a", "callhookd test A")
CERT_B, KEY_B = make_cert("b", "callhookd test B")


def tls_config(cert, key, extra=""):
    return ("[server]\ntls_cert = %s\ntls_key = %s\n%s[handlers]\ndefaults = no\n"
            % (cert, key, extra))


def event(eid=None, pad=0):
    eid = eid or str(uuid.uuid4())
    return json.dumps([{"specversion": "1.0", "id": eid, "source": "test/tls",
                        "type": "Microsoft.Communication.CallConnected",
                        "time": "2025-06-16T20:52:32Z",
                        "data": {"callConnectionId": "c-" + eid, "pad": "p" * pad}}])


def client_context(cafile, minimum=None, maximum=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(cert):
    der = ssl.PEM_cert_to_DER_cert(open(cert).read())
    return hashlib.sha256(der).hexdigest()


class TLSDaemon(Daemon):
    """A daemon whose certificate and key live in its own directory, so a test
    can replace them (as certbot does) and reload."""

    def __init__(self, cert=CERT_A, key=KEY_A, extra="", args=()):
        super().__init__(args=list(args))
        self.cert = os.path.join(self.dir, "fullchain.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.install(cert, key)
        self.extra = extra
        self.config = tls_config(self.cert, self.key, extra)

    def install(self, cert, key):
        for src, dst in ((cert, self.cert), (key, self.key)):
            shutil.copyfile(src, dst + ".tmp")
            os.replace(dst + ".tmp", dst)

    def connect(self, cafile=None, ctx=None):
        ctx = ctx or client_context(cafile or self.cert)
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx,
                                           timeout=10 * chtest.SLOW)

    def https(self, method, path, body=None, headers=None, cafile=None):
        conn = self.connect(cafile)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def reload(self, outcome):
        before = len(self.log_text().splitlines())
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15 * chtest.SLOW
        while time.monotonic() < deadline:
            lines = [l.replace('\\"', '"') for l in self.log_text().splitlines()[before:]]
            done = [l for l in lines if "reload: done" in l or "reload: refused" in l]
            if done:
                expect(outcome in done[0], "wanted %r:\n%s" % (outcome, lines))
                return lines
            time.sleep(0.02)
        raise AssertionError("no reload outcome logged:\n" + self.log_text())


def test_post_over_https_is_journaled():
    with TLSDaemon() as d:
        expect("tls: serving certificate" in d.log_text(), d.log_text())
        status, headers, body = d.https("POST", "/events", event("https-1"),
                                        {"Content-Type": "application/json"})
        expect(status == 200, (status, body))
        expect(json.loads(body) == {"accepted": 1, "duplicates": 0}, body)
        expect(re.fullmatch(r"\d+", headers.get("x-request-id", "")), headers)
        rows = d.query("SELECT event_id, remote_addr FROM events")
        expect(len(rows) == 1 and rows[0]["event_id"] == "https-1", rows)
        expect(rows[0]["remote_addr"].startswith("127.0.0.1:"), rows)
        # the metrics, served over TLS like everything else, counted it
        status, _, text = d.https("GET", "/metrics")
        expect(status == 200, status)
        expect(b'callhookd_http_requests_total{endpoint="/events",code="200"} 1' in text, text)


def test_tls_versions():
    with TLSDaemon(args=["--log-level", "debug"]) as d:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            conn = d.connect(ctx=client_context(d.cert, version, version))
            conn.request("GET", "/healthz")
            expect(conn.getresponse().status == 200, version)
            expect(conn.sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                           ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version],
                   conn.sock.version())
            conn.close()
        # TLS 1.1: the client must be allowed to offer it at all (security level 0)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(d.cert)
        try:
            with warnings.catch_warnings():  # "TLSv1_1 is deprecated": that is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as e:
            print("note: TLS 1.1 case skipped, the local OpenSSL cannot offer it: %s" % e)
            return
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=10 * chtest.SLOW)
        try:
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            raise AssertionError("a TLS 1.1 handshake succeeded")
        except ssl.SSLError as e:
            if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
                print("note: TLS 1.1 case skipped, the local OpenSSL will not offer it: %s" % e)
                return
            expect("PROTOCOL_VERSION" in str(e).upper(), e)
        except (ConnectionResetError, BrokenPipeError):
            pass  # refused: closed
        finally:
            raw.close()
        deadline = time.monotonic() + 5 * chtest.SLOW
        while "unsupported protocol" not in d.log_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        expect('msg="tls: handshake failed"' in d.log_text() and
               "unsupported protocol" in d.log_text(), d.log_text())
        expect(d.https("GET", "/healthz")[0] == 200, "unhealthy after the refusal")


def read_all(sock, timeout):
    """Everything until the peer closes (b"" from recv) or timeout."""
    out = b""
    deadline = time.monotonic() + timeout * chtest.SLOW
    sock.settimeout(timeout * chtest.SLOW)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_plain_http_to_the_tls_port_gets_400():
    with TLSDaemon() as d:
        out = d.raw(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n[]")
        expect(status_line(out) == 400, out)
        doc = error_of(out.split(b"\r\n\r\n", 1)[1])
        expect(doc["code"] == "BadRequest" and "HTTPS" in doc["message"], doc)
        expect(b"Connection: close" in out and b"X-Request-Id: " in out, out)
        # bytes that are neither: handed to OpenSSL, which refuses them; closed
        try:
            out = d.raw(b"\x00\x01\x02garbage\r\n\r\n")
            expect(out == b"", out)
        except ConnectionResetError:
            pass
        expect(d.https("GET", "/healthz")[0] == 200, "unhealthy")
        expect(d.count() == 0, "journaled something")


def test_tls_to_a_plain_port_is_refused():
    with Daemon(config="[handlers]\ndefaults = no\n") as d:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=10 * chtest.SLOW)
        try:
            ctx.wrap_socket(raw)
            raise AssertionError("a handshake with a plain HTTP port succeeded")
        except (ssl.SSLError, ConnectionResetError):
            pass  # the ClientHello got a plain 400, which is no TLS record
        finally:
            raw.close()
        expect(d.request("GET", "/healthz")[0] == 200, "unhealthy")
        _, _, text = d.request("GET", "/metrics")
        expect(b'callhookd_rejections_total{reason="BadRequest"} 1' in text, text)


def exchange(s, data, timeout=15):
    """Send data on the TLS socket s while reading what comes back, as a real
    client does (the answer to an oversized upload can arrive while it is
    being sent), from one thread: an SSL object must not be used by two at
    once.  Returns (what was read, how it ended: "eof" for a clean TLS close,
    else the exception's name)."""
    s.setblocking(False)
    out, sent, ended = b"", 0, "timeout"
    deadline = time.monotonic() + timeout * chtest.SLOW
    while time.monotonic() < deadline:
        want_write = sent < len(data)
        readable, writable, _ = select.select([s], [s] if want_write else [], [], 0.1)
        if readable or s.pending():
            try:
                chunk = s.recv(65536)
                if not chunk:
                    return out, "eof"
                out += chunk
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (OSError, ssl.SSLError) as e:
                return out, type(e).__name__
        if writable and want_write:
            try:
                sent += s.send(data[sent:sent + 16384])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (OSError, ssl.SSLError):
                sent = len(data)  # the server stopped reading: just read now
    return out, ended


def test_413_over_tls_arrives_intact():
    with TLSDaemon() as d:
        ctx = client_context(d.cert)
        body = b"[" + b" " * (4 * 1024 * 1024) + b"]"
        announced = (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body)) + body
        chunk = b"x" * 65536
        chunked = (b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   b"%x\r\n%s\r\n" % (len(chunk), chunk) * 40)  # 2.5 MiB > the 1 MiB default
        for data in (announced, chunked):
            raw = socket.create_connection(("127.0.0.1", d.port), timeout=10 * chtest.SLOW)
            # ragged EOFs raise, so that a close without close_notify shows
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1", suppress_ragged_eofs=False)
            try:
                out, ended = exchange(s, data)
            finally:
                s.close()
            expect(status_line(out) == 413, (out[:300], ended))
            head, _, rest = out.partition(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            expect(len(rest) == length, "answer cut short: %r (%s)" % (out, ended))
            expect(error_of(rest)["code"] == "BodyTooLarge", out)
            expect(b"Connection: close" in head, out)
            # lingering close, the TLS way: close_notify, then the FIN
            expect(ended == "eof", "ended with %s, not a clean TLS close" % ended)
        expect(d.https("GET", "/healthz")[0] == 200, "unhealthy")


def test_keep_alive_over_tls():
    with TLSDaemon() as d:
        conn = d.connect()
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            sock = conn.sock
            for i in range(5):
                conn.request("POST", "/events", event("ka-%d" % i),
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                expect(resp.status == 200, resp.status)
                resp.read()
                expect(conn.sock is sock, "the connection was not kept alive")
        finally:
            conn.close()
        expect(d.count() == 5, "five events")


def test_reload_serves_the_new_certificate():
    with TLSDaemon() as d:
        old = d.connect(cafile=CERT_A)
        old.request("GET", "/healthz")
        expect(old.getresponse().read() and fingerprint(old.sock) == file_fingerprint(CERT_A),
               "certificate A first")
        d.install(CERT_B, KEY_B)
        lines = d.reload("reload: done")
        expect(any("tls: serving certificate" in l and "callhookd test B" in l for l in lines),
               lines)
        s = d.connect(cafile=CERT_B)
        s.request("GET", "/healthz")
        expect(s.getresponse().status == 200, "new connection")
        expect(fingerprint(s.sock) == file_fingerprint(CERT_B), "certificate B after the reload")
        s.close()
        # the connection made before the reload goes on with its session
        old.request("POST", "/events", event("before-reload"), {"Content-Type": "application/json"})
        expect(old.getresponse().status == 200, "old connection after the reload")
        old.close()
        # and a client that trusts only A is refused now
        try:
            d.https("GET", "/healthz", cafile=CERT_A)
            raise AssertionError("certificate A is still served")
        except ssl.SSLCertVerificationError:
            pass


def test_bad_key_refused_at_start_and_by_check():
    cases = [
        (tls_config(CERT_A, KEY_B), "does not match the certificate"),
        (tls_config(CERT_A, os.path.join(CERTS, "missing.key")), "cannot open"),
        (tls_config(KEY_A, KEY_A), "no PEM certificate"),
        (tls_config(CERT_A, CERT_A), "no usable PEM private key"),
        ("[server]\ntls_cert = %s\n" % CERT_A, "tls_cert without tls_key"),
        ("[server]\ntls_key = %s\n" % KEY_A, "tls_key without tls_cert"),
        ("[server]\ntls_cert = relative.pem\ntls_key = %s\n" % KEY_A, "not an absolute path"),
        (tls_config(CERT_A, "/dev/zero"), "not a regular file"),
    ]
    for config, why in cases:
        for args in (["-t"], []):
            r = run_once(config=config, args=args)
            expect(r.returncode == 2, (config, args, r.returncode, r.stderr))
            lines = r.stderr.strip().splitlines()
            expect(len(lines) == 1 and why in lines[0] and lines[0].startswith("callhookd: "),
                   (why, r.stderr))
            expect("listening" not in r.stderr, r.stderr)
    r = run_once(config=tls_config(CERT_A, KEY_A), args=["-t"])
    expect(r.returncode == 0 and "is OK" in r.stdout, (r.returncode, r.stdout, r.stderr))


def test_auth_none_stays_loopback_only_with_tls():
    r = run_once(config=tls_config(CERT_A, KEY_A), listen="0.0.0.0:0", args=["-t"])
    expect(r.returncode == 2 and "auth = none is only allowed" in r.stderr, r.stderr)


def test_bad_key_on_reload_keeps_the_running_certificate():
    with TLSDaemon() as d:
        shutil.copyfile(KEY_B, d.key)  # certbot half done: new key, old certificate
        lines = d.reload("reload: refused")
        refused = [l for l in lines if "reload: refused" in l]
        expect(len(refused) == 1 and "tls_key" in refused[0] and
               "does not match" in refused[0], lines)
        s = d.connect(cafile=CERT_A)
        s.request("POST", "/events", event("after-bad-reload"),
                  {"Content-Type": "application/json"})
        expect(s.getresponse().status == 200, "the old certificate stopped serving")
        expect(fingerprint(s.sock) == file_fingerprint(CERT_A), "not certificate A")
        s.close()
        # TLS cannot be switched off by a reload
        with open(os.path.join(d.dir, "callhookd.conf"), "w") as f:
            f.write("[handlers]\ndefaults = no\n")
        lines = d.reload("reload: refused")
        expect(any("HTTPS on or off" in l for l in lines), lines)
        expect(d.https("GET", "/healthz", cafile=CERT_A)[0] == 200, "unhealthy")


def test_slow_handshake_is_closed_after_request_timeout():
    with TLSDaemon(extra="request_timeout = 1s\nidle_timeout = 60s\n") as d:
        # nothing at all, and the first bytes of a ClientHello then nothing
        for first in (b"", b"\x16\x03\x01\x02\x00\x01"):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * chtest.SLOW)
            start = time.monotonic()
            try:
                if first:
                    s.sendall(first)
                out = read_all(s, 10)
            except ConnectionResetError:
                out = b""
            finally:
                s.close()
            took = time.monotonic() - start
            expect(out == b"", out)
            expect(0.8 <= took < 8 * chtest.SLOW, "closed after %.2fs" % took)
        expect(d.https("GET", "/healthz")[0] == 200, "unhealthy")


if __name__ == "__main__":
    try:
        chtest.run(globals())
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)
