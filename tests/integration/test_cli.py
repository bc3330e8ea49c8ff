"""The command line: flags scripts rely on, one-line errors, exit codes, detaching."""

import os
import re
import signal
import socket
import subprocess
import time

import chtest
from chtest import CALLHOOKD, Daemon, expect, run_once


def run(args, timeout=30):
    if chtest.HANDLERS_DIR is not None:
        args = ["--handlers-dir", chtest.HANDLERS_DIR] + args
    return subprocess.run([CALLHOOKD] + args, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout * chtest.SLOW)


def one_line_error(proc, code, *words):
    expect(proc.returncode == code, "exit %s, wanted %s: %r" % (proc.returncode, code, proc))
    expect(proc.stderr.startswith("callhookd: ") and proc.stderr.count("\n") == 1,
           "not one readable line: %r" % proc.stderr)
    for w in words:
        expect(w in proc.stderr, "%r not in %r" % (w, proc.stderr))


def test_version_and_help():
    proc = run(["-V"])
    expect(proc.returncode == 0 and re.match(r"callhookd \d+\.\d+\.\d+\n$", proc.stdout), proc)
    proc = run(["--help"])
    expect(proc.returncode == 0, proc)
    for flag in ("--config", "--foreground", "--check-config", "--listen", "--db", "--version"):
        expect(flag in proc.stdout, flag)
    proc = run(["--no-such-flag"])
    expect(proc.returncode == 2 and "usage" in proc.stderr, proc)
    proc = run(["stray"])
    one_line_error(proc, 2, "unexpected argument")


def test_check_config():
    proc = run_once(args=["-t"])
    expect(proc.returncode == 0 and "OK" in proc.stdout, proc)
    proc = run_once(config="[server]\nlisten = 127.0.0.1:8080\nmax_bodyy = 1M\n", args=["-t"])
    one_line_error(proc, 2, "callhookd.conf:3:", "unknown key \"max_bodyy\"")
    proc = run(["-t", "-c", "/nonexistent.conf"])
    one_line_error(proc, 2, "/nonexistent.conf", "cannot open")
    proc = run(["-t", "--listen", "localhost"])
    one_line_error(proc, 2, "--listen")
    proc = run(["-t", "--log-level", "chatty"])
    one_line_error(proc, 2, "--log-level")


def test_example_config_passes_the_check():
    example = os.path.join(os.path.dirname(chtest.FIXTURES), "..", "etc", "callhookd.conf")
    proc = run(["-t", "-c", example])
    expect(proc.returncode == 0, proc)


def test_port_in_use_is_a_clear_start_failure():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        proc = run_once(listen="127.0.0.1:%d" % port)
        expect(proc.returncode == 1, proc)
        expect("callhookd: listen 127.0.0.1:%d: Address already in use" % port in proc.stderr,
               proc.stderr)
    finally:
        holder.close()


def test_unusable_database_path_is_a_clear_start_failure():
    d = Daemon()
    try:
        blocker = os.path.join(d.dir, "file")
        open(blocker, "w").close()
        d.db = os.path.join(blocker, "journal.db")  # a directory that is a file
        proc = subprocess.run(d.command(), capture_output=True, text=True, timeout=30)
        expect(proc.returncode == 1, proc)
        expect("journal.db" in proc.stderr, proc.stderr)
    finally:
        d.cleanup()


def test_detaches_after_it_listens():
    d = Daemon()
    try:
        cmd = [a for a in d.command() if a != "-f"]
        with open(d.log_path, "ab") as log:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=log, timeout=30 * chtest.SLOW)
        expect(proc.returncode == 0, "parent exit %d:\n%s" % (proc.returncode, d.log_text()))
        m = re.search(r"listening on \S+:(\d+) pid=(\d+)", d.log_text())
        expect(m, d.log_text())
        d.port, pid = int(m.group(1)), int(m.group(2))
        expect(pid != os.getpid(), "pid")
        expect(d.request("GET", "/healthz")[0] == 200, "detached daemon answers")
        expect(os.path.isabs(d.db) and os.path.exists(d.db), "journal created")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20 * chtest.SLOW
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("detached daemon ignored SIGTERM")
        expect("shutdown: done" in d.log_text(), d.log_text())
        # a start-up failure still reaches the caller's exit status
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = ["--listen" if a == "--listen" else a for a in cmd]
        busy[busy.index("--listen") + 1] = "127.0.0.1:%d" % holder.getsockname()[1]
        proc = subprocess.run(busy, capture_output=True, text=True, timeout=30 * chtest.SLOW)
        holder.close()
        expect(proc.returncode == 1 and "Address already in use" in proc.stderr, proc)
    finally:
        d.cleanup()


if __name__ == "__main__":
    chtest.run(globals())
