"""Holds many connections to a server, each with half a request's headers
sent and the rest never coming (server_limits.sh).

    halfopen.py HOST PORT COUNT --status FILE [--refill]

Opens COUNT connections and sends each the request line and one header of
a GET, without the blank line that would end the headers. Every 0.1 s it
rewrites FILE with one JSON object: how many connections it opened in all,
how many the server closed, how many it holds now, and whether the first
COUNT were all opened ("ready"). With --refill it opens a new connection
for each one the server closes, to keep COUNT held (at most 500 a second:
one address's attack, not one that takes the machine's processors from
the client it is measured against). Runs until SIGTERM.
"""
import argparse
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time

HALF = b"GET /healthz HTTP/1.1\r\nHost: cairn\r\nUser-Agent: half"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("--status", required=True)
    p.add_argument("--refill", action="store_true")
    a = p.parse_args()

    # A descriptor per connection, and a few more.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sel = selectors.DefaultSelector()
    stats = {"opened": 0, "closed": 0, "held": 0, "failed": 0, "ready": False}

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((a.host, a.port))
            s.sendall(HALF)
        except OSError:
            s.close()
            stats["failed"] += 1
            return
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        stats["opened"] += 1
        stats["held"] += 1

    def write_status():
        tmp = a.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, a.status)

    def reap(timeout):
        for key, _ in sel.select(timeout):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # an answer (a 408, say): the close follows
            sel.unregister(s)
            s.close()
            stats["closed"] += 1
            stats["held"] -= 1

    for i in range(a.count):
        if stop:
            break
        open_one()
        if i % 100 == 99:
            reap(0)
    stats["ready"] = True
    write_status()
    last = time.monotonic()
    allowance, refilled = 0.0, time.monotonic()
    while not stop:
        reap(0.05)
        if a.refill:
            now = time.monotonic()
            allowance = min(allowance + (now - refilled) * 500, 50)
            refilled = now
            while stats["held"] < a.count and allowance >= 1:
                allowance -= 1
                open_one()
        if time.monotonic() - last >= 0.1:
            write_status()
            last = time.monotonic()
    write_status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
