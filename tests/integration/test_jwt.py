"""auth = jwt: RS256 bearer tokens the way Call Automation signs its callbacks.

Keys are generated at test time with the openssl CLI; tokens are signed in
Python by piping header.payload through `openssl dgst -sha256 -sign` (the
standard library has no RSA), so nothing here shares code with the daemon's
verifier.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import chtest
from chtest import Daemon, error_of, expect, run_once

ISS = "https://acscallautomation.communication.azure.com"
AUD = "0b5a7c1e-3f2d-4e8a-9c6b-1d2e3f4a5b6c"  # an ACS immutable resource id


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    """RSA keys in a temporary directory, and the JWKS file the daemon reads."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="callhookd-jwt-")
        self.jwks_path = os.path.join(self.dir, "jwks.json")
        self.pems = {}

    def generate(self, kid, bits=2048):
        pem = os.path.join(self.dir, kid + ".pem")
        subprocess.run(["openssl", "genrsa", "-out", pem, str(bits)], check=True,
                       capture_output=True, timeout=60 * chtest.SLOW)
        self.pems[kid] = pem
        return pem

    def jwk(self, kid):
        text = subprocess.run(["openssl", "rsa", "-in", self.pems[kid], "-noout", "-text"],
                              check=True, capture_output=True, text=True).stdout
        modulus = subprocess.run(["openssl", "rsa", "-in", self.pems[kid], "-noout", "-modulus"],
                                 check=True, capture_output=True, text=True).stdout
        n = int(modulus.strip().split("=", 1)[1], 16)
        e = int(re.search(r"publicExponent: (\d+)", text).group(1))
        as_bytes = lambda v: v.to_bytes((v.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64url(as_bytes(n)), "e": b64url(as_bytes(e))}

    def publish(self, *kids, text=None):
        """Replace the JWKS file the way an operator should: write, then rename."""
        if text is None:
            text = json.dumps({"keys": [self.jwk(k) for k in kids]})
        tmp = self.jwks_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.jwks_path)

    def public_pem(self, kid):
        return subprocess.run(["openssl", "rsa", "-in", self.pems[kid], "-pubout"],
                              check=True, capture_output=True).stdout

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def claims(iss=ISS, aud=AUD, iat=0, exp=300, nbf=0, now=None):
    now = int(time.time()) if now is None else now
    return {"iss": iss, "aud": aud, "iat": now + iat, "nbf": now + nbf, "exp": now + exp}


def token(keys, kid, payload=None, header=None, sign_with=None):
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"} if header is None else header
    payload = claims() if payload is None else payload
    signing_input = "%s.%s" % (b64url(json.dumps(header).encode()),
                               b64url(json.dumps(payload).encode()))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keys.pems[sign_with or kid]],
                         input=signing_input.encode(), check=True, capture_output=True).stdout
    return signing_input + "." + b64url(sig)


def config(keys, audience=AUD, extra=""):
    text = "[endpoint /acs]\nauth = jwt\njwks_file = %s\n" % keys.jwks_path
    if audience is not None:
        text += "jwt_audience = %s\n" % audience
    return text + extra


def body():
    return json.dumps([{"id": str(uuid.uuid4()), "source": "calling/callConnections/c1",
                        "type": "Microsoft.Communication.CallConnected", "specversion": "1.0",
                        "data": {"callConnectionId": "c1"}}]).encode()


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def refused(resp, code, words):
    status, headers, b = resp
    expect(status == 401, "expected 401, got %s %r" % (status, b))
    expect(headers.get("www-authenticate") == 'Bearer error="invalid_token"', headers)
    err = error_of(b)
    expect(err["code"] == code, err)
    expect(words in err["message"], "%r lacks %r" % (err, words))
    return err


def with_keys(test):
    """Run test(keys) with fresh keys "k1" (published) and "k2" (not yet)."""
    def run():
        keys = Keys()
        try:
            keys.generate("k1")
            keys.generate("k2")
            keys.publish("k1")
            test(keys)
        finally:
            keys.cleanup()
    run.__name__ = test.__name__
    return run


@with_keys
def test_valid_token_is_journaled(keys):
    with Daemon(config=config(keys)) as d:
        status, _, b = d.post(body(), path="/acs", headers=bearer(token(keys, "k1")))
        expect(status == 200, (status, b))
        expect(json.loads(b) == {"accepted": 1, "duplicates": 0}, b)
        rows = d.query("SELECT endpoint, event_type FROM events")
        expect(rows == [{"endpoint": "/acs",
                         "event_type": "Microsoft.Communication.CallConnected"}], rows)
        # an aud array holding our resource id; lower-case scheme
        tok = token(keys, "k1", claims(aud=["other", AUD]))
        expect(d.post(body(), path="/acs", headers={"authorization": "bearer " + tok})[0] == 200,
               "aud array")
        expect(d.count() == 2, "rows")


@with_keys
def test_invalid_tokens_are_refused(keys):
    now = int(time.time())
    good = token(keys, "k1")
    h, p, s = good.split(".")
    evil_payload = b64url(json.dumps(claims(aud="someone-else")).encode())
    # HS256 keyed with the public key: the algorithm confusion attack
    hs_input = "%s.%s" % (b64url(json.dumps({"alg": "HS256", "kid": "k1"}).encode()), p)
    hs = hs_input + "." + b64url(hmac.new(keys.public_pem("k1"), hs_input.encode(),
                                          hashlib.sha256).digest())
    none = "%s.%s." % (b64url(json.dumps({"alg": "none", "kid": "k1"}).encode()), p)
    flipped = s[:10] + ("B" if s[10] == "A" else "A") + s[11:]
    cases = [
        ("expired", token(keys, "k1", claims(iat=-400, nbf=-400, exp=-100, now=now)),
         "token expired"),
        ("not yet valid", token(keys, "k1", claims(nbf=200, now=now)), "not yet valid"),
        ("lifetime", token(keys, "k1", claims(exp=3600, now=now)), "lifetime"),
        ("issuer", token(keys, "k1", claims(iss="https://example.com", now=now)),
         "wrong issuer"),
        ("audience", token(keys, "k1", claims(aud="someone-else", now=now)), "wrong audience"),
        ("unknown kid", token(keys, "k2"), "unknown key id \"k2\""),
        ("right kid, other key", token(keys, "k1", sign_with="k2"), "signature does not verify"),
        ("alg none", none, "alg must be RS256"),
        ("HS256 with the public key", hs, "alg must be RS256"),
        ("tampered payload", "%s.%s.%s" % (h, evil_payload, s), "signature does not verify"),
        ("tampered signature", "%s.%s.%s" % (h, p, flipped), "signature does not verify"),
        ("truncated", "%s.%s" % (h, p), "not a compact JWS"),
        ("padded base64", good + "=", "not valid base64url"),
        ("oversized", good + "." + "A" * 8192, "longer than 8192 bytes"),
    ]
    with Daemon(config=config(keys), args=["--log-level", "debug"]) as d:
        for what, tok, words in cases:
            refused(d.post(body(), path="/acs", headers=bearer(tok)), "InvalidToken", words)
        refused(d.post(body(), path="/acs"), "Unauthorized", "missing header Authorization")
        refused(d.post(body(), path="/acs", headers={"Authorization": good}), "Unauthorized",
                "not a Bearer token")
        expect(d.count() == 0, "a refused request was journaled")
        # the daemon is fine afterwards, and never logged a token
        expect(d.post(body(), path="/acs", headers=bearer(good))[0] == 200, "good after bad")
        d.stop()
        log = d.log_text()
        expect(log.count("auth: refused") == len(cases) + 2, log)
        for what, tok, _ in cases:
            for part in tok.split("."):
                expect(len(part) < 16 or part[:16] not in log, "token (%s) in the log" % what)


def one_line_refusal(proc, words):
    expect(proc.returncode == 2, proc)
    expect(words in proc.stderr, (words, proc.stderr))
    expect(proc.stderr.count("\n") == 1, "one line: %r" % proc.stderr)


@with_keys
def test_misconfiguration_fails_closed(keys):
    # no audience: any token for anyone's resource would pass
    for args in ([], ["-t"]):
        one_line_refusal(run_once(config=config(keys, audience=None), args=args),
                         "jwt_audience")
    missing = config(keys).replace(keys.jwks_path, keys.jwks_path + ".missing")
    one_line_refusal(run_once(config=missing), "cannot open")
    one_line_refusal(run_once(config=missing, args=["-t"]), "cannot open")
    one_line_refusal(run_once(config=config(keys).replace(keys.jwks_path, "jwks.json")),
                     "absolute path")
    one_line_refusal(run_once(config=config(keys, extra="jwt_clock_skew = 10m\n")),
                     "jwt_clock_skew")
    one_line_refusal(run_once(config=config(keys, extra="secret = 0123456789abcdef01\n")),
                     "takes no secret")
    keys.publish(text='{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}')
    one_line_refusal(run_once(config=config(keys)), "modulus of 17 bits")
    keys.publish(text="{}")
    one_line_refusal(run_once(config=config(keys), args=["-t"]), "\"keys\" array")
    keys.publish("k1")
    # every endpoint authenticates: any listen address passes the check
    proc = run_once(config=config(keys), listen="0.0.0.0:0", args=["-t"])
    expect(proc.returncode == 0, proc)


@with_keys
def test_jwks_rotation(keys):
    with Daemon(config=config(keys)) as d:
        expect(d.post(body(), path="/acs", headers=bearer(token(keys, "k1")))[0] == 200, "k1")
        keys.publish("k2")
        # The file is looked at no more than once a second: wait past that,
        # then allow a generous, bounded time for the change to be seen.
        time.sleep(1.1)
        deadline = time.monotonic() + 10 * chtest.SLOW
        while True:
            status = d.post(body(), path="/acs", headers=bearer(token(keys, "k2")))[0]
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        expect(status == 200, "new kid not accepted after rotation:\n" + d.log_text())
        refused(d.post(body(), path="/acs", headers=bearer(token(keys, "k1"))), "InvalidToken",
                "unknown key id \"k1\"")
        # a broken file keeps the keys in use, and says so once
        keys.publish(text='{"keys": [')
        time.sleep(1.1)
        for _ in range(3):
            expect(d.post(body(), path="/acs", headers=bearer(token(keys, "k2")))[0] == 200,
                   "old keys kept")
        expect(d.count() == 5, "rows: %d" % d.count())
        d.stop()
        log = d.log_text()
        expect(re.search(r'msg="auth: jwks_file read again" path=\S+ keys=1\n', log), log)
        lines = [l for l in log.splitlines() if "still using the keys read before" in l]
        expect(len(lines) == 1, log)
        expect(" level=warn " in lines[0] and "keys=1 " in lines[0] and "not valid JSON" in lines[0],
               lines)


def wait_for_log(d, words, count=1):
    deadline = time.monotonic() + 15 * chtest.SLOW
    while d.log_text().count(words) < count:
        expect(time.monotonic() < deadline, "no %r in the log:\n%s" % (words, d.log_text()))
        time.sleep(0.05)


@with_keys
def test_sighup_reads_the_key_set_again(keys):
    with Daemon(config=config(keys)) as d:
        expect(d.post(body(), path="/acs", headers=bearer(token(keys, "k1")))[0] == 200, "k1")
        # an invalid key set refuses the reload; the running keys stay
        keys.publish(text='{"keys": 1}')
        d.proc.send_signal(signal.SIGHUP)
        wait_for_log(d, "reload: refused")
        line = [l for l in d.log_text().splitlines() if "reload: refused" in l][0]
        # (logfmt escapes the quotes around "keys")
        expect("jwks_file" in line and 'with a \\"keys\\" array' in line, line)
        expect(d.post(body(), path="/acs", headers=bearer(token(keys, "k1")))[0] == 200,
               "k1 after a refused reload")
        # a good one is in use as soon as the reload is done
        keys.publish("k2")
        d.proc.send_signal(signal.SIGHUP)
        wait_for_log(d, "reload: done")
        expect(d.post(body(), path="/acs", headers=bearer(token(keys, "k2")))[0] == 200, "k2")
        refused(d.post(body(), path="/acs", headers=bearer(token(keys, "k1"))), "InvalidToken",
                "unknown key id")
        expect(d.count() == 3, "rows: %d" % d.count())


if __name__ == "__main__":
    chtest.run(globals())
