#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for the S3 tests.

It sits between a client and an S3 server and passes requests through
byte for byte (so signatures stay valid), except that a given share of
them fails in one of these ways, picked at random:

  500    answered "500 InternalError" by the proxy; the server never sees it
  503    answered "503 SlowDown" by the proxy
  reset  the connection is reset: half of the time before the request
         reaches the server, half of the time after the server has carried
         it out, part-way through relaying its answer
  stall  the request is read, then nothing is answered until the client
         gives up (or --stall-seconds pass)

  s3proxy.py --upstream HOST:PORT [--listen 127.0.0.1:0] [--fail-rate 0.1]
             [--faults 500,503,reset,stall] [--seed N] [--stall-seconds S]
             [--port-file F] [--stats F] [--marked] [--log F] [--upstream-tls]

With --marked nothing fails at random: the request target (path and
query) chooses, once for each method and target, the first request with
that target being answered by the proxy and the next ones passed on:

  fault500   "500 InternalError"
  fault503   "503 SlowDown"
  hide404    a HEAD answered "404 Not Found", as if the object were not
             there (the requests after it, HEAD or not, are passed on)

--log F writes a line per request, before its answer goes back:
"METHOD TARGET STATUS CODE HOW", CODE being the <Code> of an error
answer ("-" if none) and HOW "injected" or "passed". --upstream-tls
speaks TLS to the server (trusting AWS_CA_BUNDLE if set, else the
system's CAs); clients speak plain HTTP to the proxy.

Like AWS, it refuses (400 XAmzContentSHA256Mismatch) a request whose body
does not have the SHA-256 its x-amz-content-sha256 header gives, which
the servers the tests run (s3rver) do not check.

It prints "listening on HOST:PORT" once ready (and writes the port to
--port-file). On SIGTERM or SIGINT it writes its counts as JSON to --stats:
requests seen (in all, by method, and those with a Range header), passed
through, failed by each kind of fault, body bytes passed back, and
payload hashes checked and found wrong.
"""

import argparse
import hashlib
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time

HEAD_MAX = 64 * 1024
FAULTS = ("500", "503", "reset", "stall")
MARKERS = (("fault500", "500"), ("fault503", "503"), ("hide404", "hide404"))
ERROR_BODY_MAX = 1 << 20


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "passed": 0, "ranged": 0, "bytes_down": 0,
                       "sha_checked": 0, "sha_mismatch": 0}
        for f in FAULTS:
            self.counts[f] = 0

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


class Closed(Exception):
    """The peer closed the connection."""


class Conn:
    """A socket with a read buffer."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise Closed()
        self.buf += data

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > HEAD_MAX:
                raise ValueError("header too large")
            self.fill()
        i = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:i], self.buf[i:]
        return head

    def read_exact(self, n):
        """Yields exactly n bytes in pieces."""
        while n > 0:
            if not self.buf:
                self.fill()
            piece, self.buf = self.buf[:n], self.buf[n:]
            n -= len(piece)
            yield piece

    def read_line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > HEAD_MAX:
                raise ValueError("line too long")
            self.fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_chunked(self):
        """Yields a chunked body as sent, through its last chunk and trailer."""
        while True:
            line = self.read_line()
            yield line
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:
                    t = self.read_line()
                    yield t
                    if t == b"\r\n":
                        return
            yield from self.read_exact(size + 2)

    def read_to_close(self):
        if self.buf:
            yield self.buf
            self.buf = b""
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                return
            yield data


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return first, headers


def body_reader(conn, headers, no_body):
    if no_body:
        return iter(())
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return conn.read_chunked()
    if "content-length" in headers:
        return conn.read_exact(int(headers["content-length"]))
    return None


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def error_response(status, reason, code, message):
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>%s</Code><Message>%s</Message></Error>" % (code, message)
    ).encode()
    head = (
        "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n"
        % (status, reason, len(body))
    ).encode()
    return head + body


class Proxy:
    def __init__(self, args):
        self.args = args
        self.stats = Stats()
        self.rng = random.Random(args.seed)
        self.rng_lock = threading.Lock()
        host, port = args.upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.marked_seen = set()
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", buffering=1) if args.log else None
        self.tls = None
        if args.upstream_tls:
            import ssl
            self.tls = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
        self.faults = [f for f in args.faults.split(",") if f]
        for f in self.faults:
            if f not in FAULTS:
                sys.exit("s3proxy: unknown fault '%s' (known: %s)" % (f, ",".join(FAULTS)))

    def marked(self, method, target):
        """The fault a marked target asks for, the first time only."""
        for marker, fault in MARKERS:
            if marker not in target or (fault == "hide404" and method != "HEAD"):
                continue
            with self.rng_lock:
                if (method, target) in self.marked_seen:
                    return None
                self.marked_seen.add((method, target))
            return fault
        return None

    def log(self, method, target, status, code, how):
        if self.log_file:
            with self.log_lock:
                self.log_file.write("%s %s %d %s %s\n" % (method, target, status, code or "-", how))

    def pick(self):
        with self.rng_lock:
            if not self.faults or self.rng.random() >= self.args.fail_rate:
                return None, False
            return self.rng.choice(self.faults), self.rng.random() < 0.5

    def serve(self, client_sock):
        client = Conn(client_sock)
        try:
            while True:
                if not self.one_request(client):
                    break
        except (Closed, OSError, ValueError):
            pass
        finally:
            try:
                client_sock.close()
            except OSError:
                pass

    def one_request(self, client):
        """Handles one request; False when the connection is done."""
        try:
            head = client.read_head()
        except Closed:
            return False
        first, headers = parse_head(head)
        method = first.split(" ", 1)[0]
        target = (first.split(" ") + ["", ""])[1]
        self.stats.add("requests")
        self.stats.add("method_" + method)
        if "range" in headers:
            self.stats.add("ranged")
        if headers.get("expect", "").lower() == "100-continue":
            client.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        reader = body_reader(client, headers, False)
        if reader is None:
            reader = iter(())
        body = b"".join(reader)
        claimed = headers.get("x-amz-content-sha256", "").lower()
        if "content-length" in headers and re.fullmatch("[0-9a-f]{64}", claimed):
            self.stats.add("sha_checked")
            if hashlib.sha256(body).hexdigest() != claimed:
                self.stats.add("sha_mismatch")
                client.sock.sendall(error_response(
                    400, "Bad Request", "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed."))
                return True
        if self.args.marked:
            fault, late = self.marked(method, target), False
        else:
            fault, late = self.pick()

        if fault == "500":
            self.stats.add("500")
            self.log(method, target, 500, "InternalError", "injected")
            client.sock.sendall(error_response(500, "Internal Server Error", "InternalError",
                                               "injected by s3proxy"))
            return True
        if fault == "503":
            self.stats.add("503")
            self.log(method, target, 503, "SlowDown", "injected")
            client.sock.sendall(error_response(503, "Slow Down", "SlowDown",
                                               "Please reduce your request rate."))
            return True
        if fault == "hide404":
            self.log(method, target, 404, None, "injected")
            client.sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return True
        if fault == "stall":
            self.stats.add("stall")
            deadline = time.monotonic() + self.args.stall_seconds
            while time.monotonic() < deadline:
                r, _, _ = select.select([client.sock], [], [], 0.5)
                if r:
                    try:
                        if not client.sock.recv(65536):
                            break
                    except OSError:
                        break
            reset(client.sock)
            return False
        if fault == "reset" and not late:
            self.stats.add("reset")
            reset(client.sock)
            return False

        up = socket.create_connection(self.upstream)
        if self.tls:
            up = self.tls.wrap_socket(up, server_hostname=self.upstream[0])
        try:
            up.sendall(head + body)
            upc = Conn(up)
            while True:
                rhead = upc.read_head()
                rfirst, rheaders = parse_head(rhead)
                status = int(rfirst.split(" ")[1])
                if status >= 200:
                    break
                # Interim answers (100 Continue): the client already had one.
            no_body = method == "HEAD" or status in (204, 304)
            rbody = body_reader(upc, rheaders, no_body)
            if fault == "reset":
                # Carried out by the server, but the client never learns it.
                self.stats.add("reset")
                data = b"".join(rbody) if rbody is not None else b""
                client.sock.sendall(rhead + data[: len(data) // 2])
                reset(client.sock)
                return False
            self.stats.add("passed")
            if status >= 300 and rbody is not None and \
                    int(rheaders.get("content-length", "0") or 0) <= ERROR_BODY_MAX:
                # An error answer is small: read whole, for its code.
                data = b"".join(rbody)
                m = re.search(rb"<Code>([^<]{1,64})</Code>", data)
                self.log(method, target, status, m.group(1).decode("latin-1") if m else None,
                         "passed")
                client.sock.sendall(rhead + data)
                rbody = iter(())
            else:
                self.log(method, target, status, None, "passed")
                client.sock.sendall(rhead)
            if rbody is None:
                for piece in upc.read_to_close():
                    client.sock.sendall(piece)
                return False
            for piece in rbody:
                client.sock.sendall(piece)
                self.stats.add("bytes_down", len(piece))
        finally:
            up.close()
        if headers.get("connection", "").lower() == "close":
            return False
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--fail-rate", type=float, default=0.1)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--stall-seconds", type=float, default=120.0)
    ap.add_argument("--port-file")
    ap.add_argument("--stats")
    ap.add_argument("--marked", action="store_true")
    ap.add_argument("--log")
    ap.add_argument("--upstream-tls", action="store_true")
    args = ap.parse_args()

    proxy = Proxy(args)
    host, port = args.listen.rsplit(":", 1)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(128)
    port = srv.getsockname()[1]

    def finish(signum, frame):
        if args.stats:
            with open(args.stats, "w") as f:
                json.dump(proxy.stats.snapshot(), f)
                f.write("\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write("%d\n" % port)
    print("listening on %s:%d" % (host, port), flush=True)

    while True:
        sock, _ = srv.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=proxy.serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
