#!/usr/bin/env python3
"""A TCP server that records each request byte for byte, for the tests that hold a module's
requests to the bytes of esp-at-ota.md §3.4 and §3.5 (python3 standard library only).

    python3 capture_server.py --out DIR --reply FILE [--reply FILE]... [--port 0]

Prints "capture_server: listening on <port>" once listening. For the N-th connection (0 first) it
reads until the end of the request's headers ("\\r\\n\\r\\n"), writes those bytes to DIR/req-N.bin,
sends the N-th --reply file (the last one for later connections) in one write, and closes.
Exits on SIGTERM or SIGINT.
"""
import argparse
import os
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description="Records requests byte for byte.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--reply", action="append", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    replies = [open(p, "rb").read() for p in args.reply]
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(8)
    print("capture_server: listening on %d" % srv.getsockname()[1], flush=True)
    n = 0
    while True:
        conn, _ = srv.accept()
        conn.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                piece = conn.recv(4096)
                if not piece:
                    break
                data += piece
            with open(os.path.join(args.out, "req-%d.bin" % n), "wb") as f:
                f.write(data)
            conn.sendall(replies[min(n, len(replies) - 1)])
        except OSError:
            pass
        finally:
            conn.close()
        n += 1


if __name__ == "__main__":
    sys.exit(main())
