"""SIGHUP reloads the configuration file and the handler set: new requests
get the new endpoints, auth and limits; open connections and requests in
flight carry on; a file that is invalid, or changes what needs a restart, is
refused with one log line and the running configuration goes on; nothing
acknowledged is lost across reloads under load.
"""

import http.client
import json
import os
import re
import signal
import socket
import threading
import time
import uuid

import chtest
from chtest import Daemon, expect

PROBE = os.path.join(os.environ.get("TEST_HANDLERS_DIR", "tests/handlers/.libs"), "th_probe.so")
OLD = "a" * 24
NEW = "b" * 24


def secret_config(secret, extra=""):
    return ("[handlers]\ndefaults = no\n" + extra +
            "[endpoint /events]\nauth = secret\nquery_param = code\nsecret = %s\n" % secret)


def event(eid=None, pad=0):
    """A CloudEvents batch of one event with a unique id (and pad bytes more)."""
    eid = eid or str(uuid.uuid4())
    return json.dumps([{
        "specversion": "1.0", "id": eid, "source": "test/reload",
        "type": "Microsoft.Communication.CallConnected", "time": "2025-06-16T20:52:32Z",
        "data": {"callConnectionId": "c-" + eid, "pad": "p" * pad}}])


def post_as(d, secret, body=None):
    status, _, data = d.post(body or event(), path="/events?code=" + secret)
    return status, data


class ReloadDaemon(Daemon):
    def write_config(self, text):
        """Replace the file the daemon was started with (atomically)."""
        path = os.path.join(self.dir, "callhookd.conf")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    def reload(self, text=None, outcome="reload: done"):
        """Write text (if any), send SIGHUP, wait for the outcome line; return
        the log lines the reload added."""
        if text is not None:
            self.write_config(text)
        before = len(self.log_text().splitlines())
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15 * chtest.SLOW
        while time.monotonic() < deadline:
            # logfmt escapes the quotes of quoted values: compare unescaped
            lines = [l.replace('\\"', '"') for l in self.log_text().splitlines()[before:]]
            if any("reload: done" in l or "reload: refused" in l for l in lines):
                expect(any(outcome in l for l in lines), "wanted %r:\n%s" % (outcome, lines))
                return lines
            time.sleep(0.02)
        raise AssertionError("no reload outcome logged:\n" + self.log_text())


def test_new_secret_takes_effect_for_new_requests():
    with ReloadDaemon(config=secret_config(OLD)) as d:
        expect(post_as(d, OLD)[0] == 200, "old secret before")
        expect(post_as(d, NEW)[0] == 401, "new secret before")
        d.reload(secret_config(NEW))
        expect(post_as(d, NEW)[0] == 200, "new secret after the reload")
        status, data = post_as(d, OLD)
        expect(status == 401 and chtest.error_of(data)["code"] == "Unauthorized", (status, data))
        expect(d.count() == 2, "two events journaled")
        expect(OLD not in d.log_text() and NEW not in d.log_text(), "a secret was logged")


def test_open_connections_and_requests_in_flight_survive_a_reload():
    config = "[handlers]\ndefaults = no\n"
    with ReloadDaemon(config=config) as d:
        # a keep-alive connection opened before the reload
        keep = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10 * chtest.SLOW)
        keep.request("POST", "/events", body=event(), headers={"Content-Type": "application/json"})
        resp = keep.getresponse()
        expect(resp.status == 200, resp.status)
        resp.read()
        # a request half sent when the reload happens
        body = event().encode()
        raw = socket.create_connection(("127.0.0.1", d.port), timeout=10 * chtest.SLOW)
        raw.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body) + body[:20])
        time.sleep(0.1)
        d.reload(config + "[endpoint /events]\n[endpoint /more]\n")
        raw.sendall(body[20:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = raw.recv(4096)
            if not chunk:
                break
            answer += chunk
        raw.close()
        expect(chtest.status_line(answer) == 200, answer)
        # the connection from before the reload still works
        keep.request("POST", "/events", body=event(), headers={"Content-Type": "application/json"})
        resp = keep.getresponse()
        expect(resp.status == 200, resp.status)
        resp.read()
        keep.close()
        expect(d.post(event(), path="/more")[0] == 200, "the new endpoint serves")
        expect(d.count() == 4, "every answered event journaled: %d" % d.count())


def test_invalid_files_are_refused_with_one_line_and_the_old_config_serves():
    with ReloadDaemon(config=secret_config(OLD)) as d:
        bad = [
            (secret_config(NEW) + "not a setting\n", "callhookd.conf:7: "),  # file:line
            (secret_config(NEW) + "[limits]\nmax_bodyy = 1k\n", 'unknown key "max_bodyy"'),
            (secret_config(NEW, "[handler x]\nmodule = /nonexistent/x.so\n"),
             'handler "x" (/nonexistent/x.so): no such module file'),
            (secret_config(NEW, "[handler probe]\nmodule = %s\ninit_fail = yes\n" % PROBE),
             'handler "probe"'),
        ]
        for text, why in bad:
            lines = d.reload(text, outcome="reload: refused")
            expect(len(lines) == 1, "one log line, got %r" % lines)
            expect("the running configuration stays" in lines[0] and why in lines[0], lines)
            expect(post_as(d, OLD)[0] == 200, "the old secret still works after %r" % why)
            expect(post_as(d, NEW)[0] == 401, "the refused file's secret is not used")
        # and a good file is still taken afterwards
        d.reload(secret_config(NEW))
        expect(post_as(d, NEW)[0] == 200, "new secret after a good reload")


def test_a_handler_added_by_reload_gets_new_events():
    d = ReloadDaemon()
    out = os.path.join(d.dir, "events.jsonl")
    d.config = "[handlers]\ndefaults = no\n"
    with d:
        expect(d.post(event("before"))[0] == 200, "posted")
        lines = d.reload(d.config + "[handler jsonl]\npath = %s\n" % out)
        expect(any("handler_set=replaced handlers=1" in l for l in lines), lines)
        expect(d.post(event("after"))[0] == 200, "posted")
        got = chtest.wait_lines(out, 1)
        expect([json.loads(l)["id"] for l in got] == ["after"], got)
        active = d.query("SELECT name FROM handlers WHERE active = 1")
        expect([r["name"] for r in active] == ["jsonl"], active)
        # replacing it by another instance: the old one stops getting events
        other = os.path.join(d.dir, "other.jsonl")
        d.reload(d.config + "[handler other]\nmodule = jsonl\npath = %s\n" % other)
        expect(d.post(event("later"))[0] == 200, "posted")
        expect([json.loads(l)["id"] for l in chtest.wait_lines(other, 1)] == ["later"], "other")
        with open(out) as f:
            expect(len(f.read().splitlines()) == 1, "a removed handler still delivers")
        active = d.query("SELECT name FROM handlers WHERE active = 1")
        expect([r["name"] for r in active] == ["other"], active)
        # and removing the last one leaves none active
        d.reload(d.config)
        expect(d.query("SELECT name FROM handlers WHERE active = 1") == [], "still active")
        expect(len(d.query("SELECT name FROM handlers")) == 2, "their history is kept")


def test_new_limits_apply_to_new_requests():
    config = "[handlers]\ndefaults = no\n"
    with ReloadDaemon(config=config) as d:
        expect(d.post(event(pad=3000))[0] == 200, "3 KB fits the default 1 MiB")
        d.reload(config + "[limits]\nmax_body = 2k\n")
        status, _, data = d.post(event(pad=3000))
        expect(status == 413 and chtest.error_of(data)["code"] == "BodyTooLarge", (status, data))


class ListenDaemon(ReloadDaemon):
    """listen comes from the file, not --listen, so a reload can change it."""

    def command(self):
        cmd = ReloadDaemon.command(self)
        i = cmd.index("--listen")
        return cmd[:i] + cmd[i + 2:]


def test_settings_that_need_a_restart_are_refused():
    listen = "[server]\nlisten = 127.0.0.1:0\n"
    with ListenDaemon(config=listen + secret_config(OLD)) as d:
        lines = d.reload("[server]\nlisten = 127.0.0.1:1\n" + secret_config(NEW),
                         outcome="reload: refused")
        expect(len(lines) == 1 and "[server] listen cannot change without a restart" in lines[0],
               lines)
        expect(post_as(d, OLD)[0] == 200, "nothing of the refused file applies")
        lines = d.reload(listen + "[store]\nsynchronous = off\nmax_batch = 7\n" +
                         secret_config(NEW), outcome="reload: refused")
        expect("[store] synchronous, [store] max_batch cannot change" in lines[0], lines)
        expect(post_as(d, OLD)[0] == 200, "still the old secret")


def test_nothing_acknowledged_is_lost_across_reloads_under_load():
    with_jsonl = "[handler jsonl]\npath = %s\n"
    d = ReloadDaemon(config="[handlers]\ndefaults = no\n")
    out = os.path.join(d.dir, "events.jsonl")
    with d:
        acked, errors, stop = [], [], threading.Event()

        def poster():
            conn = None
            while not stop.is_set():
                eid = str(uuid.uuid4())
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", d.port,
                                                          timeout=10 * chtest.SLOW)
                    conn.request("POST", "/events", body=event(eid),
                                 headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status == 200:
                        acked.append(eid)
                    else:
                        errors.append(resp.status)
                except (OSError, http.client.HTTPException) as e:
                    errors.append(repr(e))
                    conn = None

        threads = [threading.Thread(target=poster) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for i in range(6):
                time.sleep(0.15 * chtest.SLOW)
                text = "[handlers]\ndefaults = no\n"
                if i % 2 == 0:  # every other reload swaps the handler set
                    text += with_jsonl % out
                d.reload(text)
        finally:
            time.sleep(0.15 * chtest.SLOW)
            stop.set()
            for t in threads:
                t.join(30 * chtest.SLOW)
        expect(not errors, "requests failed across reloads: %r" % errors[:5])
        expect(len(acked) >= 30, "only %d requests under load" % len(acked))
        rows = d.query("SELECT event_id, count(*) AS n FROM events GROUP BY event_id")
        counts = {r["event_id"]: r["n"] for r in rows}
        missing = [e for e in acked if counts.get(e) != 1]
        expect(not missing, "%d of %d acknowledged events not journaled exactly once"
               % (len(missing), len(acked)))
        expect(len(counts) == len(acked), "journaled %d, acknowledged %d"
               % (len(counts), len(acked)))
        expect(len(re.findall(r"reload: done", d.log_text())) == 6, d.log_text())
        expect(len(re.findall(r"handler_set=replaced", d.log_text())) == 6, d.log_text())


if __name__ == "__main__":
    chtest.run(globals())
