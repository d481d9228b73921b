"""A small client of cairn-server for the end-to-end tests, written from
docs/SERVER.md rather than from the C code, so that the tests check the
documented wire format and Bloom filter layout.

    indexclient.py request METHOD URL [--token T] [--body-file F] [--header H:V]...
                   [--body-out F]
        prints "STATUS" then each "Header: value", then the body (as text);
        --body-out writes the body's bytes to F as well
    indexclient.py register URL TOKEN REPO --count N --seed S [--batch B]
                   [--threads T] [--ack FILE] [--until-error]
        registers random entries; with --ack appends each acknowledged
        batch's entries (hex, one per line) to FILE
    indexclient.py verify URL TOKEN REPO --ack FILE
        looks every acknowledged entry up; prints "verified N", exits 1 on a
        missing or different one
    indexclient.py bloom URL TOKEN REPO --probes N [--registered FILE]
        downloads the filter and measures its false-positive rate on N
        random fingerprints; prints one JSON object
    indexclient.py scan URL TOKEN REPO [--max N] [--after HEX] [--all] [--out FILE]
        one scan request for N rows (after the row whose fingerprint and pack
        HEX gives), or with --all every page until the end, each after the
        last row of the one before; checks the answer's layout and order and
        prints one JSON object; --out writes every row (hex, one per line)
    indexclient.py metric URL NAME
        prints the value of the metric NAME (summed over its labels)
    indexclient.py burst URL TOKEN COUNT
        GETs URL COUNT times at once over one connection; prints the statuses
        on one line, then the Retry-After of the first 429 (or nothing)
    indexclient.py raw HOST PORT FILE
        sends FILE's bytes on a fresh connection, closes the sending side,
        prints the status line of the answer (or "no answer")
"""
import argparse
import http.client
import json
import math
import os
import random
import socket
import struct
import sys
import threading
import urllib.parse

M64 = (1 << 64) - 1
SEED1 = 0x9E3779B97F4A7C15
SEED2 = 0xC2B2AE3D27D4EB4F
ENTRY = struct.Struct("<32s32sIIIBI")
BUNDLE_MAX = 128 * 1024


def connect(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        import ssl

        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(u.hostname, u.port, timeout=60, context=ctx), u.path
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60), u.path


def call(conn, prefix, method, path, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        h["Content-Type"] = "application/octet-stream"
    conn.request(method, prefix + path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, r.getheaders(), r.read()


def repo_path(repo, what):
    return "/v2/repos/%s/%s" % (repo, what)


def random_entry(rng):
    fp = rng.randbytes(32)
    pack = rng.randbytes(32)
    offset, length = rng.randrange(0, 1 << 24), rng.randrange(1, 1 << 20)
    kind = rng.choice((1, 2, 6))
    raw = rng.randrange(1, 1 << 16 if kind == 6 else 1 << 20)
    inner = rng.randrange(0, BUNDLE_MAX - raw + 1) if kind == 6 else 0
    return ENTRY.pack(fp, pack, offset, length, raw, kind, inner)


def cmd_request(a):
    conn, prefix = connect(a.url)
    body = open(a.body_file, "rb").read() if a.body_file else None
    headers = {}
    for h in a.header or []:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    status, hdrs, data = call(conn, prefix, a.method, "", a.token, body, headers)
    print(status)
    for k, v in hdrs:
        print("%s: %s" % (k, v))
    print()
    sys.stdout.write(data.decode("utf-8", "replace"))
    if a.body_out:
        open(a.body_out, "wb").write(data)
    return 0


def cmd_register(a):
    lock = threading.Lock()
    ack = open(a.ack, "a") if a.ack else None
    state = {"sent": 0, "acked": 0, "error": None}
    per_thread = (a.count + a.threads - 1) // a.threads

    def work(t):
        rng = random.Random("%s-%d" % (a.seed, t))
        try:
            conn, prefix = connect(a.url)
            done = 0
            while done < per_thread:
                n = min(a.batch, per_thread - done)
                body = b"".join(random_entry(rng) for _ in range(n))
                status, _, data = call(conn, prefix, "POST", repo_path(a.repo, "register"),
                                       a.token, body)
                if status != 200:
                    raise RuntimeError("register: HTTP %d: %s" % (status, data[:200]))
                with lock:
                    state["acked"] += n
                    if ack:
                        for i in range(n):
                            ack.write(body[i * ENTRY.size:(i + 1) * ENTRY.size].hex() + "\n")
                        ack.flush()
                done += n
        except Exception as e:  # the server may be killed under us
            with lock:
                state["error"] = "%s: %s" % (type(e).__name__, e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if ack:
        ack.close()
    print(json.dumps({"acknowledged": state["acked"], "error": state["error"]}))
    if state["error"] and not a.until_error:
        return 1
    return 0


def cmd_verify(a):
    entries = [bytes.fromhex(line.strip()) for line in open(a.ack) if line.strip()]
    conn, prefix = connect(a.url)
    bad = 0
    for i in range(0, len(entries), 1000):
        batch = [ENTRY.unpack(e) for e in entries[i:i + 1000]]
        body = b"".join(e[0] for e in batch)
        status, _, data = call(conn, prefix, "POST", repo_path(a.repo, "lookup"), a.token, body)
        if status != 200:
            print("lookup: HTTP %d: %s" % (status, data[:200]))
            return 1
        pos = 0
        for fp, pack, off, length, raw, kind, inner in batch:
            tag = data[pos]
            pos += 1
            if tag != 1:
                bad += 1
                print("missing: %s" % fp.hex())
                continue
            got = struct.unpack_from("<32sIIIBI", data, pos)
            pos += 49
            # A lookup answers with the row of the lowest pack; the
            # entries checked are their fingerprints' only rows.
            if got != (pack, off, length, raw, kind, inner):
                bad += 1
                print("different: %s" % fp.hex())
        if pos != len(data):
            print("answer has %d bytes too many" % (len(data) - pos))
            return 1
    print("verified %d, bad %d" % (len(entries), bad))
    return 1 if bad else 0


def cmd_scan(a):
    conn, prefix = connect(a.url)
    cursor = bytes.fromhex(a.after) if a.after else None
    if cursor is not None and len(cursor) != 64:
        print("--after: 64 bytes (fingerprint and pack) in hex")
        return 2
    result = {"status": 200, "pages": 0, "rows": 0, "end": None, "ordered": True,
              "page_rows": []}
    out = open(a.out, "w") if a.out else None
    while True:
        body = struct.pack("<I", a.max) + (cursor or b"")
        status, _, data = call(conn, prefix, "POST", repo_path(a.repo, "scan"), a.token, body)
        if status != 200:
            result["status"] = status
            result["reason"] = data.decode("utf-8", "replace").strip()
            break
        if len(data) < 1 or data[0] > 1 or (len(data) - 1) % ENTRY.size:
            result["status"] = "malformed answer of %d bytes" % len(data)
            break
        n = (len(data) - 1) // ENTRY.size
        result["pages"] += 1
        result["rows"] += n
        result["end"] = data[0]
        result["page_rows"].append(n)
        for i in range(n):
            row = data[1 + i * ENTRY.size:1 + (i + 1) * ENTRY.size]
            if cursor is not None and row[:64] <= cursor:
                result["ordered"] = False
            cursor = row[:64]
            if out:
                out.write(row.hex() + "\n")
        if not a.all or data[0] == 1:
            break
        if n == 0:
            result["status"] = "no row and no end"
            break
    if out:
        out.close()
    print(json.dumps(result))
    return 0 if result["status"] == 200 else 1


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Bloom:
    def __init__(self, data):
        magic, version, hashes, pad, nblocks, items, capacity = struct.unpack_from(
            "<4sBBHQQQ", data, 0)
        if magic != b"CBLM" or version != 1 or pad != 0:
            raise ValueError("not a version 1 filter")
        if len(data) != 32 + 64 * nblocks:
            raise ValueError("filter of %d blocks has %d bytes" % (nblocks, len(data)))
        self.hashes, self.nblocks, self.items, self.capacity = hashes, nblocks, items, capacity
        self.words = struct.unpack_from("<%dQ" % (8 * nblocks), data, 32)

    def has(self, key):
        w = struct.unpack("<4Q", key)
        h1 = mix(w[0] ^ mix(w[2] ^ SEED1))
        h2 = mix(w[1] ^ mix(w[3] ^ SEED2) ^ h1)
        block = (h1 * self.nblocks) >> 64
        for i in range(self.hashes):
            pos = (h2 >> (9 * i)) & 511
            if not (self.words[block * 8 + (pos >> 6)] >> (pos & 63)) & 1:
                return False
        return True

    def fp_rate(self, items):
        """Expected rate holding items keys: Poisson keys per block."""
        lam = items / self.nblocks
        total, p = 0.0, math.exp(-lam)
        for j in range(0, int(lam + 20 * math.sqrt(lam + 1) + 50)):
            if j:
                p *= lam / j
            total += p * (1 - (1 - 1 / 512) ** (self.hashes * j)) ** self.hashes
        return total


def cmd_bloom(a):
    conn, prefix = connect(a.url)
    status, hdrs, data = call(conn, prefix, "GET", repo_path(a.repo, "bloom"), a.token)
    if status != 200:
        print("bloom: HTTP %d" % status)
        return 1
    etag = dict((k.lower(), v) for k, v in hdrs).get("etag")
    b = Bloom(data)
    false_negatives = 0
    if a.registered:
        for line in open(a.registered):
            if line.strip() and not b.has(bytes.fromhex(line.strip())[:32]):
                false_negatives += 1
    rng = random.Random(a.seed)
    hits = sum(1 for _ in range(a.probes) if b.has(rng.randbytes(32)))
    print(json.dumps({
        "etag": etag,
        "bytes": len(data),
        "items": b.items,
        "capacity": b.capacity,
        "hashes": b.hashes,
        "probes": a.probes,
        "hits": hits,
        "measured": hits / a.probes,
        "expected": b.fp_rate(b.items),
        "design": b.fp_rate(b.capacity),
        "false_negatives": false_negatives,
    }))
    return 0


def cmd_metric(a):
    conn, prefix = connect(a.url)
    status, _, data = call(conn, prefix, "GET", "/metrics")
    if status != 200:
        print("metrics: HTTP %d" % status, file=sys.stderr)
        return 1
    total = 0.0
    for line in data.decode().splitlines():
        if line.startswith("#"):
            continue
        name = line.split("{")[0].split(" ")[0]
        if name == a.name:
            total += float(line.rsplit(" ", 1)[1])
    print(int(total) if total == int(total) else total)
    return 0


def cmd_burst(a):
    conn, prefix = connect(a.url)
    codes, retry_after = [], ""
    for _ in range(a.count):
        status, hdrs, _ = call(conn, prefix, "GET", "", a.token)
        codes.append(str(status))
        if status == 429 and not retry_after:
            retry_after = dict((k.lower(), v) for k, v in hdrs).get("retry-after", "")
    print(" ".join(codes))
    print(retry_after)
    return 0


def cmd_raw(a):
    data = open(a.file, "rb").read()
    s = socket.create_connection((a.host, int(a.port)), timeout=10)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError as e:
        print("no answer (%s)" % e)
        return 0
    finally:
        s.close()
    print(answer.split(b"\r\n")[0].decode("latin-1") if answer else "no answer")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request")
    r.add_argument("method")
    r.add_argument("url")
    r.add_argument("--token")
    r.add_argument("--body-file")
    r.add_argument("--header", action="append")
    r.add_argument("--body-out")
    r = sub.add_parser("register")
    for n in ("url", "token", "repo"):
        r.add_argument(n)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--seed", default="1")
    r.add_argument("--batch", type=int, default=1000)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--ack")
    r.add_argument("--until-error", action="store_true")
    r = sub.add_parser("verify")
    for n in ("url", "token", "repo"):
        r.add_argument(n)
    r.add_argument("--ack", required=True)
    r = sub.add_parser("bloom")
    for n in ("url", "token", "repo"):
        r.add_argument(n)
    r.add_argument("--probes", type=int, default=200000)
    r.add_argument("--seed", default="probe")
    r.add_argument("--registered")
    r = sub.add_parser("scan")
    for n in ("url", "token", "repo"):
        r.add_argument(n)
    r.add_argument("--max", type=int, default=65536)
    r.add_argument("--after")
    r.add_argument("--all", action="store_true")
    r.add_argument("--out")
    r = sub.add_parser("metric")
    r.add_argument("url")
    r.add_argument("name")
    r = sub.add_parser("burst")
    r.add_argument("url")
    r.add_argument("token")
    r.add_argument("count", type=int)
    r = sub.add_parser("raw")
    r.add_argument("host")
    r.add_argument("port")
    r.add_argument("file")
    a = p.parse_args()
    sys.exit(globals()["cmd_" + a.cmd](a))


if __name__ == "__main__":
    main()
