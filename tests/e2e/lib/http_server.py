#!/usr/bin/env python3
"""The test HTTP/1.1 server of the AT+USEROTA tests (python3 standard library only).

    python3 http_server.py --root DIR [--port 0] [--bind 127.0.0.1] [--tls CERT KEY] [--log FILE]
                           [--iot]

Prints "http_server: listening on <port>" on standard output once listening. Serves the files
under DIR with GET and HEAD: Content-Length, a strong ETag ("<sha256 of the file, 32 hex>") and
Last-Modified; "Range: bytes=N-" and "bytes=N-M" (206 + Content-Range; 416 + "Content-Range:
bytes */LEN" when N >= LEN); If-Range (no match with the ETag or Last-Modified: 200 and the whole
body). Keep-alive (HTTP/1.1), one thread per connection. Every request is one JSON line in --log:
{"path", "query", "range", "if_range", "user_agent", "status", "sent"} (range, if_range and
user_agent: the request's headers or null; sent: body bytes written).

Faults, from the URL's query string (combine with &; file offsets are offsets in the file):
  status=CODE           answer CODE (404, 500...) with a short body
  redirect=N            302 to the same URL with redirect=N-1 (the parameter dropped at 0)
  reset=OFFSET[:COUNT]  the first COUNT requests (default 1) of this path with this parameter:
                        headers, the body up to OFFSET, then an abrupt close (RST, SO_LINGER 0)
  truncate=N[:COUNT]    announce the whole length, send N body bytes, close normally (FIN);
                        every request, or the first COUNT
  stall=OFFSET[:COUNT]  send up to OFFSET, then nothing with the connection open until the client
                        leaves (or 120 s); every request, or the first COUNT
  corrupt=OFFSET        the byte at OFFSET is flipped (every request)
  chunked=1             Transfer-Encoding: chunked instead of Content-Length
  noetag=1              no ETag (Last-Modified stays: the validator becomes the date)
  nolastmod=1           no Last-Modified (with noetag=1: no validator at all)
  ignore_range=1        200 and the whole body, even to a Range request
  slow=BYTES_PER_SEC    throttled body
COUNT counters are per path and parameter (e.g. "/v2.bin" + "reset=5000:3"), across connections.

--iot: an iot.espressif.cn stand-in for AT+CIUPDATE's download (esp-at-ota.md §3.5), serving files
atota-server would refuse (a wrong magic, an oversize file): "GET /v1/device/rom/?action=
download_rom&version=V&filename=N" serves DIR/V/N, with the faults above read from DIR/V/N.faults
(one query-string line) when it exists, and the headers leave in one write with the first body
bytes (ESP-AT checks the magic in its first read).
Exits on SIGTERM or SIGINT.
"""
import argparse
import email.utils
import hashlib
import http.server
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

BLOCK = 16384
STALL_LIMIT_S = 120


class Files:
    """The served files' ETags, cached by (path, size, mtime)."""

    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.lock = threading.Lock()
        self.etags = {}

    def resolve(self, url_path):
        rel = urllib.parse.unquote(url_path).lstrip("/")
        full = os.path.realpath(os.path.join(self.root, rel))
        if full != self.root and not full.startswith(self.root + os.sep):
            return None
        return full if os.path.isfile(full) else None

    def etag(self, full, st):
        key = (full, st.st_size, st.st_mtime_ns)
        with self.lock:
            tag = self.etags.get(key)
        if tag is None:
            h = hashlib.sha256()
            with open(full, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            tag = '"%s"' % h.hexdigest()[:32]
            with self.lock:
                self.etags[key] = tag
        return tag


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, files, log_path, tls, iot=False):
        self.iot = iot
        self.files = files
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.counts = {}
        self.counts_lock = threading.Lock()
        self.tls = tls
        super().__init__(addr, Handler)

    def log_request_line(self, entry):
        if not self.log_file:
            return
        with self.log_lock:
            self.log_file.write(json.dumps(entry) + "\n")
            self.log_file.flush()

    def count(self, key):
        """How many requests had this key before this one (the first is 0)."""
        with self.counts_lock:
            n = self.counts.get(key, 0)
            self.counts[key] = n + 1
            return n

    def handle_error(self, request, client_address):
        # A client that goes away or fails the TLS handshake (a wrong CA) is normal in these
        # tests; anything else is one line on standard error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError)):
            return
        print("http_server: %s: %r" % (client_address, exc), file=sys.stderr, flush=True)


def parse_offset_count(value):
    """'OFFSET[:COUNT]' -> (offset, count or None)."""
    off, _, cnt = value.partition(":")
    return int(off), (int(cnt) if cnt else None)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "atota-test-http/1.0"

    def version_string(self):
        return self.server_version
    timeout = 300  # an idle keep-alive connection

    def setup(self):
        if self.server.tls:
            self.request.settimeout(30)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, fmt, *args):  # quiet: the JSON log says what happened
        pass

    def do_GET(self):
        self.serve(head_only=False)

    def do_HEAD(self):
        self.serve(head_only=True)

    # ---- one request --------------------------------------------------------------------------

    def serve(self, head_only):
        # A GET may carry "Content-Length: 0" (older esp_http_client, esp-at-ota.md §2.3), or a
        # body: read it, so the next request on the connection starts where it should.
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        url = urllib.parse.urlsplit(self.path)
        self.entry = {
            "path": url.path,
            "query": url.query,
            "range": self.headers.get("Range"),
            "if_range": self.headers.get("If-Range"),
            "user_agent": self.headers.get("User-Agent"),
            "status": None,
            "sent": 0,
        }
        self.logged = False
        self.chunked = False
        try:
            self.respond(url, head_only)
        except (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError, OSError):
            self.close_connection = True
        finally:
            self.write_log()

    def write_log(self):
        if not self.logged:
            self.logged = True
            self.server.log_request_line(self.entry)

    def flush_headers(self):
        # --iot: the headers wait for the first body bytes (one write, as a device needs them).
        if self.server.iot and getattr(self, "_headers_buffer", None):
            self.pending = b"".join(self._headers_buffer)
            self._headers_buffer = []
            return
        super().flush_headers()

    def write_out(self, data):
        pending = getattr(self, "pending", b"")
        self.pending = b""
        self.wfile.write(pending + bytes(data))

    def start(self, status, headers):
        self.entry["status"] = status
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def short_answer(self, status, text, extra=()):
        body = text.encode()
        self.start(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
                   + list(extra))
        if self.command != "HEAD":
            self.write_out(body)
            self.entry["sent"] = len(body)

    def respond(self, url, head_only):
        pieces = [p for p in url.query.split("&") if p] if url.query else []
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))

        redirect = int(params.get("redirect", "0") or 0)
        if redirect > 0:
            rest = [p for p in pieces if not p.startswith("redirect=")]
            if redirect > 1:
                rest = [("redirect=%d" % (redirect - 1)) if p.startswith("redirect=") else p
                        for p in pieces]
            location = url.path + ("?" + "&".join(rest) if rest else "")
            self.short_answer(302, "redirect\n", [("Location", location)])
            return
        if "status" in params:
            code = int(params["status"])
            self.short_answer(code, "status %d\n" % code)
            return

        if self.server.iot and url.path == "/v1/device/rom/" and params.get("action") == "download_rom":
            rel = "%s/%s" % (params.get("version", ""), params.get("filename", ""))
            full = self.server.files.resolve(rel)
            if full is not None and os.path.isfile(full + ".faults"):
                with open(full + ".faults", encoding="utf-8") as f:
                    params.update(urllib.parse.parse_qsl(f.read().strip()))
        else:
            full = self.server.files.resolve(url.path)
        if full is None:
            self.short_answer(404, "not found\n")
            return
        with open(full, "rb") as f:
            data = bytearray(f.read())
        st = os.stat(full)
        size = len(data)
        etag = None if params.get("noetag") == "1" else self.server.files.etag(full, st)
        last_mod = (None if params.get("nolastmod") == "1"
                    else email.utils.formatdate(st.st_mtime, usegmt=True))
        if "corrupt" in params:
            at = int(params["corrupt"])
            if 0 <= at < size:
                data[at] ^= 0xFF

        # Range and If-Range (RFC 9110 §14.2, §13.1.5: a strong comparison).
        start, end, partial = 0, size, False
        rng = self.headers.get("Range")
        if rng and params.get("ignore_range") != "1":
            if_range = self.headers.get("If-Range")
            honoured = if_range is None or (
                (etag is not None and if_range == etag and not if_range.startswith("W/"))
                or (last_mod is not None and if_range == last_mod))
            spec = rng.strip()
            if honoured and spec.startswith("bytes=") and "," not in spec:
                first, _, last = spec[6:].partition("-")
                try:
                    first_n = int(first)
                    last_n = int(last) if last.strip() else None
                except ValueError:
                    first_n, last_n = None, None
                if first_n is not None and (last_n is None or last_n >= first_n):
                    if first_n >= size:
                        self.short_answer(416, "range not satisfiable\n",
                                          [("Content-Range", "bytes */%d" % size)])
                        return
                    start = first_n
                    end = size if last_n is None else min(last_n + 1, size)
                    partial = True

        headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")]
        if etag:
            headers.append(("ETag", etag))
        if last_mod:
            headers.append(("Last-Modified", last_mod))
        if partial:
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size)))
        self.chunked = params.get("chunked") == "1"
        if self.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(end - start)))

        # Faults cut the body at a file offset ("stop") and say what happens there.
        stop, action = end, None
        key_path = url.path
        if "reset" in params:
            off, cnt = parse_offset_count(params["reset"])
            if self.server.count((key_path, "reset=" + params["reset"])) < (cnt or 1):
                stop, action = max(start, min(off, end)), "reset"
        if action is None and "stall" in params:
            off, cnt = parse_offset_count(params["stall"])
            if cnt is None or self.server.count((key_path, "stall=" + params["stall"])) < cnt:
                stop, action = max(start, min(off, end)), "stall"
        if action is None and "truncate" in params:
            n, cnt = parse_offset_count(params["truncate"])
            if cnt is None or self.server.count((key_path, "truncate=" + params["truncate"])) < cnt:
                stop, action = min(start + max(n, 0), end), "truncate"

        self.start(206 if partial else 200, headers)
        if head_only:
            self.flush_pending()
            return
        rate = int(params.get("slow", "0") or 0)
        self.send_body(memoryview(data)[start:stop], rate)
        if action == "reset":
            self.reset_connection()
        elif action == "stall":
            self.stall()
        elif action == "truncate":
            self.close_connection = True  # FIN (the server's shutdown_request)
        elif self.chunked:
            self.wfile.write(b"0\r\n\r\n")

    # ---- the body -----------------------------------------------------------------------------

    def send_body(self, view, rate):
        block = BLOCK if rate <= 0 else max(1, min(BLOCK, rate // 20))
        t0 = time.monotonic()
        for at in range(0, len(view), block):
            piece = view[at:at + block]
            if self.chunked:
                self.write_out(b"%x\r\n" % len(piece) + bytes(piece) + b"\r\n")
            else:
                self.write_out(piece)
            self.entry["sent"] += len(piece)
            if rate > 0:
                due = t0 + self.entry["sent"] / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def flush_pending(self):
        if getattr(self, "pending", b""):
            self.write_out(b"")

    def reset_connection(self):
        """Closes abruptly: SO_LINGER 0 makes close() send an RST."""
        self.flush_pending()
        self.close_connection = True
        self.write_log()  # before the client sees the RST and asks again
        conn = self.connection
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The socket closes for real once rfile (a makefile of it) is closed too.
        try:
            self.rfile.close()
        except OSError:
            pass
        conn.close()

    def stall(self):
        """Sends nothing more until the client goes away (or STALL_LIMIT_S)."""
        self.flush_pending()
        self.close_connection = True
        deadline = time.monotonic() + STALL_LIMIT_S
        conn = self.connection
        while time.monotonic() < deadline:
            conn.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
            try:
                if not conn.recv(4096):
                    return
            except (socket.timeout, TimeoutError):
                continue
            except (OSError, ssl.SSLError):
                return

    def finish(self):
        try:
            self.flush_pending()
            super().finish()
        except (OSError, ValueError):
            pass


def main():
    ap = argparse.ArgumentParser(description="The AT+USEROTA tests' HTTP server.")
    ap.add_argument("--root", required=True, help="the directory served")
    ap.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    ap.add_argument("--log", help="one JSON line per request")
    ap.add_argument("--iot", action="store_true", help="serve AT+CIUPDATE downloads (see above)")
    args = ap.parse_args()
    if not os.path.isdir(args.root):
        ap.error("--root %s: not a directory" % args.root)

    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls[0], args.tls[1])

    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = Server((args.bind, args.port), Files(args.root), args.log, tls, args.iot)
    print("http_server: listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
        if server.log_file:
            server.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
