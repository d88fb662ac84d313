#!/usr/bin/env python3
"""Exact-byte exchanges with an AT port, for the atota-sim end-to-end tests.

usage: at_raw.py PORT STEP...
  PORT      a pty path, or tcp:HOST:PORT
  STEPS     send:BYTES     write BYTES (Python escapes: \\r \\n \\x00 \\" \\\\)
            expect:BYTES   the next bytes received are exactly BYTES (within the timeout)
            quiet:MS       nothing arrives for MS milliseconds
            sleep:MS       wait
            drain:MS       read and discard whatever arrives until MS ms of silence
            timeout:MS     the timeout of the following expect steps (default 5000)
The pty is opened in raw mode and its input is NOT flushed first (bytes the module wrote
before are part of the exchange, e.g. "ready" after boot). Exit 0 when every step held; 1 with
one line on stderr (expected and received bytes) otherwise.
"""
import codecs
import os
import select
import socket
import sys
import termios
import time
import tty


def unescape(text):
    return codecs.decode(text.encode("utf-8"), "unicode_escape").encode("latin-1")


class Port:
    def __init__(self, spec):
        if spec.startswith("tcp:"):
            host, port = spec[4:].rsplit(":", 1)
            self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
            self.sock.setblocking(False)
            self.fd = self.sock.fileno()
        else:
            self.sock = None
            self.fd = os.open(spec, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(self.fd, termios.TCSANOW)
        self.pending = b""

    def write(self, data):
        while data:
            select.select([], [self.fd], [], 5)
            n = self.sock.send(data) if self.sock else os.write(self.fd, data)
            data = data[n:]

    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return b""
        data = self.sock.recv(65536) if self.sock else os.read(self.fd, 65536)
        if not data:
            raise EOFError("the port was closed")
        return data


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    port = Port(sys.argv[1])
    timeout = 5.0
    got = b""
    for step in sys.argv[2:]:
        kind, _, arg = step.partition(":")
        if kind == "send":
            port.write(unescape(arg))
        elif kind == "expect":
            want = unescape(arg)
            deadline = time.monotonic() + timeout
            while len(got) < len(want) and time.monotonic() < deadline:
                got += port.read(max(0.0, deadline - time.monotonic()))
            head, got = got[: len(want)], got[len(want):]
            if head != want:
                print("expected %r, received %r (then %r)" % (want, head, got), file=sys.stderr)
                return 1
        elif kind == "quiet":
            deadline = time.monotonic() + int(arg) / 1000
            while time.monotonic() < deadline:
                got += port.read(max(0.0, deadline - time.monotonic()))
            if got:
                print("expected silence for %s ms, received %r" % (arg, got), file=sys.stderr)
                return 1
        elif kind == "drain":
            while True:
                data = port.read(int(arg) / 1000)
                if not data:
                    break
            got = b""
        elif kind == "sleep":
            time.sleep(int(arg) / 1000)
        elif kind == "timeout":
            timeout = int(arg) / 1000
        else:
            print("unknown step %r" % step, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError) as e:
        print("at_raw: %s" % e, file=sys.stderr)
        sys.exit(1)
