#!/usr/bin/env python3
"""N HLS clients on loopback: each polls the playlist every second over its own keep-alive
connection and fetches every segment it has not fetched yet, for SECONDS.

Usage: scale_client.py HOST:PORT CLIENTS SECONDS     (127.0.0.1 only)

Prints one JSON line: playlist requests, their response time p50/p99/max (ms, request sent ->
body read), segment fetches, bytes, errors (non-200, connection failures).
"""
import http.client, json, re, sys, threading, time

hostport, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
host, port = hostport.split(":")
assert host == "127.0.0.1", "loopback only"
lock = threading.Lock()
pl_times, seg_times = [], []
totals = {"segments": 0, "bytes": 0, "errors": 0, "reconnects": 0}
end = time.monotonic() + secs


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def client(i):
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    have = set()
    next_poll = time.monotonic() + (i % 10) / 10.0  # spread the clients over the second
    mine_pl, mine_seg, err, nbytes, nseg, rec = [], [], 0, 0, 0, 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now < next_poll:
            time.sleep(next_poll - now)
        next_poll += 1.0
        try:
            t0 = time.monotonic()
            st, body = get(conn, "/live.m3u8")
            mine_pl.append(time.monotonic() - t0)
            if st != 200:
                err += 1
                continue
            for name in re.findall(r"^(seg\d+\.ts)$", body.decode(), re.M):
                if name in have:
                    continue
                t0 = time.monotonic()
                st, seg = get(conn, "/" + name)
                mine_seg.append(time.monotonic() - t0)
                if st == 200:
                    have.add(name)
                    nseg += 1
                    nbytes += len(seg)
                else:
                    err += 1
        except (OSError, http.client.HTTPException):
            err += 1
            rec += 1
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.close()
    with lock:
        pl_times.extend(mine_pl)
        seg_times.extend(mine_seg)
        totals["segments"] += nseg
        totals["bytes"] += nbytes
        totals["errors"] += err
        totals["reconnects"] += rec


def q(v, p):
    if not v:
        return None
    v = sorted(v)
    return round(1000 * v[min(len(v) - 1, max(0, int(p * len(v) + 0.999999) - 1))], 2)


threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({
    "clients": n, "seconds": secs, "playlist_requests": len(pl_times),
    "playlist_p50_ms": q(pl_times, 0.5), "playlist_p99_ms": q(pl_times, 0.99),
    "playlist_max_ms": q(pl_times, 1.0), "segment_fetches": len(seg_times),
    "segment_p50_ms": q(seg_times, 0.5), "segment_p99_ms": q(seg_times, 0.99), **totals,
}))
