#!/usr/bin/env python3
"""A scripted ESP-AT module on a TCP port, for testing host tools (atota ciupdate) on their own.

    python3 fake_module.py --script FILE [--port 0] [--bind 127.0.0.1] [--log FILE] [--echo 0|1]

Prints "fake_module: listening on <port>" on standard output once listening; the tools connect
with --port tcp:127.0.0.1:<port>. One client at a time, like a UART; the next waits in the backlog.

--log gets one JSON object per line for what goes each way, with the time it happened (seconds,
monotonic clock, the same for both directions):
    {"in": "AT+CIUPDATE=1,,,1\\r\\n", "t": 12.3456}   a line the client sent, as received (up to
                                                    and including its "\\n", bytes as latin-1),
                                                    timed when it arrived
    {"out": "\\r\\nready\\r\\n", "t": 13.0001}         a string step of a reply, once sent
so a test can check both what a tool sent and when (e.g. that it waited for "ready").

The script (JSON) maps a command line (without its CR-LF) to a list of replies; the n-th time the
command comes it gets the n-th reply, and the last reply repeats. A reply is a list of steps: a
string is sent (latin-1, escapes as JSON's: "\\r\\n"), a number waits that many milliseconds. The
key "*" is the reply to a command the script does not have (default: [["\\r\\nERROR\\r\\n"]]).
With echo on (the default, as ESP-AT's ATE1) the command's line is sent back before the reply.
Example:
    {"AT+GMR": [["AT version:4.1.0.0\\r\\n", "\\r\\nOK\\r\\n"]],
     "AT+CIUPDATE": [["+CIPUPDATE:1\\r\\n", 200, "+CIPUPDATE:4\\r\\n\\r\\nOK\\r\\n", 500,
                      "\\r\\nready\\r\\n"]]}
A reply is sent in full before the next line is answered, as ESP-AT runs one command at a time
(lines are still read and logged as they arrive; a script can put "busy p..." in a reply).
Exits on SIGTERM or SIGINT.
"""
import argparse
import json
import queue
import signal
import socket
import sys
import threading
import time


class Log:
    def __init__(self, path):
        self.f = open(path, "a") if path else None
        self.lock = threading.Lock()

    def write(self, direction, data):
        if not self.f:
            return
        with self.lock:
            self.f.write(json.dumps({direction: data, "t": round(time.monotonic(), 4)}) + "\n")
            self.f.flush()


def read_lines(conn, lines, log):
    """Reader thread: each line is logged as it arrives, then queued; None at the end."""
    pending = b""
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            pending += data
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                raw += b"\n"
                log.write("in", raw.decode("latin-1"))
                lines.put(raw)
    except OSError:
        pass
    lines.put(None)


def serve(conn, script, counts, log, echo):
    lines = queue.Queue()
    reader = threading.Thread(target=read_lines, args=(conn, lines, log), daemon=True)
    reader.start()
    while True:
        raw = lines.get()
        if raw is None:
            break
        cmd = raw.decode("latin-1").rstrip("\r\n")
        if echo:
            conn.sendall(raw)
        key = cmd if cmd in script else "*"
        replies = script.get(key, [["\r\nERROR\r\n"]])
        n = counts.get(key, 0)
        counts[key] = n + 1
        for step in replies[min(n, len(replies) - 1)] if replies else []:
            if isinstance(step, (int, float)):
                time.sleep(step / 1000.0)
            else:
                # logged before it goes out, so that a line the client sends in answer is
                # always logged after it (the ordering checks compare these times)
                log.write("out", step)
                conn.sendall(step.encode("latin-1"))
    reader.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--log")
    ap.add_argument("--echo", type=int, choices=(0, 1), default=1)
    args = ap.parse_args()
    with open(args.script) as f:
        script = json.load(f)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log = Log(args.log)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(4)
    print("fake_module: listening on %d" % srv.getsockname()[1], flush=True)
    counts = {}
    while True:
        conn, _ = srv.accept()
        try:
            serve(conn, script, counts, log, args.echo)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
