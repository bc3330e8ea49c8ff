"""Authentication per endpoint: shared secrets and Standard Webhooks signatures,
checked by a sender that signs independently (hmac/hashlib here, not our C)."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import chtest
from chtest import Daemon, error_of, expect, run_once

SECRET = "s3cret+/with=symbols-0123456789"
HMAC_KEY = base64.b64encode(b"k" * 32).decode()
OLD_KEY = base64.b64encode(b"o" * 24).decode()

CONFIG = """
[endpoint /query]
auth = secret
query_param = code
secret = {secret}

[endpoint /header]
auth = secret
header = X-Callhookd-Secret
secret = {secret}

[endpoint /signed]
auth = hmac
tolerance = 60s
secret = whsec_{old}
secret = whsec_{new}
""".format(secret=SECRET, old=OLD_KEY, new=HMAC_KEY)


def body():
    return json.dumps([{"id": str(uuid.uuid4()), "source": "calling/callConnections/a",
                        "type": "Microsoft.Communication.CallConnected", "specversion": "1.0",
                        "data": {"callConnectionId": "a"}}]).encode()


def sign(key_b64, msg_id, ts, payload):
    mac = hmac.new(base64.b64decode(key_b64), b"%s.%d.%s" % (msg_id.encode(), ts, payload),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(payload, key=HMAC_KEY, ts=None, msg_id="msg_1"):
    ts = int(time.time()) if ts is None else ts
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(key, msg_id, ts, payload)}


def unauthorized(resp):
    status, _, b = resp
    expect(status == 401, "expected 401, got %s %r" % (status, b))
    err = error_of(b)
    expect(err["code"] == "Unauthorized", err)
    expect(SECRET not in err["message"], "secret leaked into the answer")
    return err


def test_secret_in_query_string():
    with Daemon(config=CONFIG) as d:
        enc = SECRET.replace("/", "%2F").replace("=", "%3D")
        expect(d.post(body(), path="/query?code=" + enc)[0] == 200, "encoded secret")
        expect(d.post(body(), path="/query?x=1&code=" + SECRET)[0] == 200, "literal secret")
        unauthorized(d.post(body(), path="/query?code=wrong"))
        unauthorized(d.post(body(), path="/query"))
        unauthorized(d.post(body(), path="/query?code=" + SECRET[:-1]))
        expect(d.count() == 2, "rows")


def test_secret_in_header():
    with Daemon(config=CONFIG) as d:
        expect(d.post(body(), path="/header",
                      headers={"X-Callhookd-Secret": SECRET})[0] == 200, "header secret")
        unauthorized(d.post(body(), path="/header", headers={"X-Callhookd-Secret": "nope"}))
        unauthorized(d.post(body(), path="/header?code=" + SECRET))


def test_standard_webhooks_signatures_with_rotation():
    with Daemon(config=CONFIG) as d:
        p = body()
        expect(d.post(p, path="/signed", headers=signed_headers(p))[0] == 200, "new key")
        p = body()
        expect(d.post(p, path="/signed", headers=signed_headers(p, key=OLD_KEY))[0] == 200,
               "old key during rotation")
        p = body()
        h = signed_headers(p)
        h["webhook-signature"] = "v1,AAAA" + " " + h["webhook-signature"]
        expect(d.post(p, path="/signed", headers=h)[0] == 200, "several signatures")
        # a retry of the same message inside the window is idempotent, not refused
        expect(d.post(p, path="/signed", headers=h)[0] == 200, "retry")
        expect(d.count() == 3, "rows: %d" % d.count())


def test_bad_signatures_are_refused():
    with Daemon(config=CONFIG) as d:
        p = body()
        h = signed_headers(p)
        unauthorized(d.post(p + b" ", path="/signed", headers=h))  # body changed
        wrong = base64.b64encode(b"w" * 32).decode()
        unauthorized(d.post(p, path="/signed", headers=signed_headers(p, key=wrong)))
        old = int(time.time()) - 3600
        err = unauthorized(d.post(p, path="/signed", headers=signed_headers(p, ts=old)))
        expect("window" in err["message"], err)
        future = int(time.time()) + 3600
        unauthorized(d.post(p, path="/signed", headers=signed_headers(p, ts=future)))
        for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            h = signed_headers(p)
            del h[missing]
            err = unauthorized(d.post(p, path="/signed", headers=h))
            expect(missing in err["message"], err)
        expect(d.count() == 0, "a refused request was stored")


def test_secrets_never_reach_the_log():
    with Daemon(config=CONFIG, args=["--log-level", "debug"]) as d:
        d.post(body(), path="/query?code=" + SECRET)
        d.post(body(), path="/query?code=guessing-" + SECRET)
        d.post(body(), path="/header", headers={"X-Callhookd-Secret": SECRET})
        d.request("GET", "/nowhere?code=" + SECRET)
        d.stop()
        log = d.log_text()
        expect(SECRET not in log and "guessing" not in log, "secret in log:\n" + log)
        expect(HMAC_KEY not in log, "hmac key in log")
        expect("auth: refused" in log, "refusals are logged")


def test_auth_none_is_refused_off_loopback():
    proc = run_once(listen="0.0.0.0:0")
    expect(proc.returncode == 2, proc)
    expect("auth = none" in proc.stderr and "loopback" in proc.stderr, proc.stderr)
    expect(proc.stderr.count("\n") == 1, "one readable line: %r" % proc.stderr)
    # every endpoint authenticated: any address is allowed (checked, not started)
    proc = run_once(config=CONFIG, listen="0.0.0.0:0", args=["-t"])
    expect(proc.returncode == 0, proc)


def test_misconfigured_auth_fails_at_start():
    cases = [
        ("[endpoint /e]\nauth = secret\n", "secret"),
        ("[endpoint /e]\nauth = secret\nquery_param = code\nsecret = short\n", "16"),
        ("[endpoint /e]\nauth = hmac\nsecret = whsec_!!!notbase64\n", "base64"),
        ("[endpoint /e]\nsecret = " + SECRET + "\n", "auth"),
        ("[endpoint /e]\nauth = magic\n", "magic"),
    ]
    for config, word in cases:
        proc = run_once(config=config)
        expect(proc.returncode == 2, (config, proc))
        expect(word in proc.stderr, (config, proc.stderr))
        expect(SECRET not in proc.stderr, "secret printed")


if __name__ == "__main__":
    chtest.run(globals())
