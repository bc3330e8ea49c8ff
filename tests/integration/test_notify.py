"""systemd integration: readiness, watchdog and stopping notifications
(sd_notify over a Unix datagram socket the test binds, as systemd would) and
socket activation (a listening socket passed as fd 3 with LISTEN_FDS).

The daemon is started through `sh -c '... exec callhookd'` so that
WATCHDOG_PID and LISTEN_PID can name its own pid ($$ survives the exec).
"""

import json
import os
import re
import signal
import socket
import subprocess
import time

import chtest
from chtest import Daemon, expect, fixture


class Notifier:
    """The NOTIFY_SOCKET side: an AF_UNIX datagram socket in a temp dir."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # every datagram, each a dict of its KEY=VALUE lines

    def wait_for(self, key, value=None, timeout=10):
        """Read datagrams until one holds key (=value); return it (bounded)."""
        deadline = time.monotonic() + timeout * chtest.SLOW
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            msg = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            self.messages.append(msg)
            if key in msg and (value is None or msg[key] == value):
                return msg
        raise AssertionError("no %s=%s from the daemon; got %r" % (key, value, self.messages))

    def count(self, key, seconds):
        """How many datagrams holding key arrive within seconds."""
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            n += ("\n" + data.decode() + "\n").count("\n%s=" % key)
        return n

    def close(self):
        self.sock.close()


class SystemdDaemon(Daemon):
    """A Daemon started the way systemd starts a service: extra environment,
    the pid variables set by a shell that then execs callhookd, and
    optionally listening sockets passed from fd 3 on."""

    def __init__(self, env=None, pid_vars=(), sockets=(), bind=True, **kw):
        Daemon.__init__(self, **kw)
        self.env = dict(env or {})
        self.pid_vars = pid_vars
        self.sockets = list(sockets)
        self.bind = bind

    def command(self):
        cmd = Daemon.command(self)
        if not self.bind:  # socket activation: no --listen at all
            i = cmd.index("--listen")
            del cmd[i:i + 2]
        prefix = " ".join("%s=$$" % v for v in self.pid_vars)
        return ["sh", "-c", '%s exec "$@"' % prefix, "sh"] + cmd

    def spawn(self):
        self.log = open(self.log_path, "ab")
        self.log_offset = os.path.getsize(self.log_path)
        env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"):
            env.pop(k, None)
        env.update(self.env)
        fds = [s.fileno() for s in self.sockets]

        def pass_sockets():  # in the child, before exec: fds 3, 4, ...
            tmp = [os.dup(fd) for fd in fds]  # out of the way of the targets
            for i, fd in enumerate(tmp):
                os.dup2(fd, 3 + i)
                os.set_inheritable(3 + i, True)

        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env,
                                     close_fds=not fds, preexec_fn=pass_sockets if fds else None)
        return self

    def wait_listening(self, timeout=15):
        deadline = time.monotonic() + timeout * chtest.SLOW
        while time.monotonic() < deadline:
            m = re.search(r"listening on \S+:(\d+)", self.log_text(since_start=True))
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("callhookd exited with %d:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            time.sleep(0.02)
        raise AssertionError("callhookd did not start listening:\n" + self.log_text())

    def start(self, timeout=15):
        return self.spawn().wait_listening(timeout)


def test_ready_after_listening_then_stopping_on_sigterm():
    d = SystemdDaemon()
    n = Notifier(d.dir)
    try:
        d.env["NOTIFY_SOCKET"] = n.path
        d.spawn()
        ready = n.wait_for("READY", "1")
        # READY=1 comes after the socket listens: the port is in the log and
        # a connection is answered at once, with no waiting.
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", d.log_text())
        expect(m is not None, "READY=1 before the listening line:\n" + d.log_text())
        d.port = int(m.group(1))
        status, _, body = d.request("GET", "/readyz")
        expect(status == 200, (status, body))
        expect(ready.get("STATUS", "").startswith("listening on 127.0.0.1:%d;" % d.port), ready)
        expect(d.post(fixture("seed/calllegstate-established.json"))[0] == 200, "serves")
        d.proc.send_signal(signal.SIGTERM)
        stopping = n.wait_for("STOPPING", "1")
        expect("draining" in stopping.get("STATUS", ""), stopping)
        code = d.proc.wait(30 * chtest.SLOW)
        expect(code == 0, "exit %s after SIGTERM:\n%s" % (code, d.log_text()))
        d.finish()
    finally:
        n.close()
        d.cleanup()


def test_reload_says_reloading_then_ready():
    d = SystemdDaemon(config="[handlers]\ndefaults = no\n")
    n = Notifier(d.dir)
    try:
        d.env["NOTIFY_SOCKET"] = n.path
        d.start()
        n.wait_for("READY", "1")
        d.proc.send_signal(signal.SIGHUP)
        reloading = n.wait_for("RELOADING", "1")
        expect(int(reloading.get("MONOTONIC_USEC", "0")) > 0, reloading)
        again = n.wait_for("READY", "1")
        expect("1 reloads" in again.get("STATUS", ""), again)
        d.finish()
    finally:
        n.close()
        d.cleanup()


def test_watchdog_pings_every_half_interval():
    d = SystemdDaemon(pid_vars=("WATCHDOG_PID",))
    n = Notifier(d.dir)
    try:
        d.env.update(NOTIFY_SOCKET=n.path, WATCHDOG_USEC="200000")
        d.start()
        expect('msg="systemd: watchdog" interval_ms=100' in d.log_text(), d.log_text())
        n.wait_for("READY", "1")
        # every 100 ms: about 15 in 1.5 s; a slow machine may drop a few
        pings = n.count("WATCHDOG", 1.5)
        expect(pings >= 5, "%d WATCHDOG=1 in 1.5 s, wanted about 15" % pings)
        expect(pings <= 20, "%d WATCHDOG=1 in 1.5 s: faster than every 100 ms" % pings)
        d.finish()
    finally:
        n.close()
        d.cleanup()


def test_no_watchdog_when_it_is_meant_for_another_process():
    d = SystemdDaemon()  # WATCHDOG_PID names the test, not the daemon
    n = Notifier(d.dir)
    try:
        d.env.update(NOTIFY_SOCKET=n.path, WATCHDOG_USEC="200000", WATCHDOG_PID=str(os.getpid()))
        d.start()
        n.wait_for("READY", "1")
        expect(n.count("WATCHDOG", 0.6) == 0, "pinged a watchdog that is not ours")
        expect("watchdog" not in d.log_text(), d.log_text())
        d.finish()
    finally:
        n.close()
        d.cleanup()


def listening_inodes(pid):
    """Inodes of the TCP sockets in LISTEN state that process pid holds."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":
                    listening.add(int(fields[9]))
    held = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m and int(m.group(1)) in listening:
            held.add(int(m.group(1)))
    return held


def listener(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(16)
    return s


def test_socket_activation_serves_on_the_passed_socket():
    sock = listener()
    port = sock.getsockname()[1]
    inode = os.fstat(sock.fileno()).st_ino
    d = SystemdDaemon(pid_vars=("LISTEN_PID",), env={"LISTEN_FDS": "1"}, sockets=[sock],
                      bind=False)
    try:
        d.start()
        sock.close()  # the daemon holds its own copy now
        log = d.log_text()
        expect(d.port == port, "listening on %s, passed %d:\n%s" % (d.port, port, log))
        expect("serving on the passed socket\" fd=3 address=127.0.0.1:%d" % port in log, log)
        held = listening_inodes(d.proc.pid)
        expect(held == {inode}, "listening sockets %r, wanted only the passed %d" % (held, inode))
        status, _, body = d.post(fixture("seed/calllegstate-established.json"))
        expect(status == 200 and json.loads(body)["accepted"] == 1, (status, body))
        expect(d.count() == 1, "journaled")
        d.finish()
    finally:
        sock.close()
        d.cleanup()


def test_socket_activation_refuses_what_it_cannot_serve():
    def run(sockets, fds="1"):
        d = SystemdDaemon(pid_vars=("LISTEN_PID",), env={"LISTEN_FDS": fds}, sockets=sockets,
                          bind=False)
        try:
            d.spawn()
            code = d.proc.wait(30 * chtest.SLOW)
            return code, d.log_text().strip().splitlines()
        finally:
            for s in sockets:
                s.close()
            d.cleanup()

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    code, lines = run([udp])
    expect(code == 1 and len(lines) == 1, (code, lines))
    expect("fd 3 is not a listening TCP socket" in lines[0], lines)

    unconnected = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # not listening
    code, lines = run([unconnected])
    expect(code == 1 and "fd 3 is not a listening TCP socket" in lines[-1], (code, lines))

    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0callhookd-test-%d" % os.getpid())
    unix.listen(1)
    code, lines = run([unix])
    expect(code == 1 and "fd 3 is not a listening TCP socket" in lines[-1], (code, lines))

    code, lines = run([listener(), listener()], fds="2")
    expect(code == 1 and "2 sockets passed; callhookd takes exactly one" in lines[-1],
           (code, lines))


def test_socket_activation_keeps_the_loopback_rule():
    # auth = none on a socket bound to every address is refused, as with
    # listen = 0.0.0.0:PORT: the passed socket's address is what counts.
    sock = listener("0.0.0.0")
    d = SystemdDaemon(pid_vars=("LISTEN_PID",), env={"LISTEN_FDS": "1"}, sockets=[sock],
                      bind=False)
    try:
        d.spawn()
        sock.close()
        code = d.proc.wait(30 * chtest.SLOW)
        log = d.log_text()
        expect(code == 2, "exit %s:\n%s" % (code, log))
        expect("auth = none is only allowed when listening on loopback, not on 0.0.0.0:" in log,
               log)
    finally:
        sock.close()
        d.cleanup()


if __name__ == "__main__":
    chtest.run(globals())
