#!/usr/bin/env python3
"""N LL-HLS clients on loopback, each as hls.js drives a live edge plus a preload request:
one kept-alive connection loops blocking playlist reloads (_HLS_msn/_HLS_part of the preload
hint it last saw) and a second one requests the hinted part (held by the server until the
part is complete), for SECONDS. Samples the server's CPU and RSS from /proc/PID every second.

Usage: ll_clients.py HOST:PORT CLIENTS SECONDS PID HLS_DIR    (127.0.0.1 only)

Prints one JSON line: reloads, part fetches, errors; the delay from a part's publication (its
file's mtime: the rename happens just before the playlist is published) to each response and
to the LAST client's response for that part (p50/p99/max, ms); server CPU (% of one core) and
RSS (max, MiB).
"""
import http.client, json, os, re, sys, threading, time

hostport, n, secs, pid, hls_dir = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
host, port = hostport.split(":")
assert host == "127.0.0.1", "loopback only"
HINT = re.compile(rb'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg(\d+)\.(\d+)\.(ts|m4s)"')
lock = threading.Lock()
delays, per_part = [], {}
tot = {"reloads": 0, "parts": 0, "errors": 0}
end = time.monotonic() + secs
hints = [None] * n


def mtime(name):
    try:
        return os.stat(os.path.join(hls_dir, name)).st_mtime
    except OSError:
        return None


def reloader(i):
    c = http.client.HTTPConnection(host, int(port), timeout=15)
    c.request("GET", "/live.m3u8")
    r = c.getresponse(); body = r.read()
    while time.monotonic() < end:
        m = HINT.search(body)
        if not m:
            with lock: tot["errors"] += 1
            time.sleep(0.2)
            c.request("GET", "/live.m3u8"); r = c.getresponse(); body = r.read()
            continue
        msn, part, ext = int(m.group(1)), int(m.group(2)), m.group(3).decode()
        hints[i] = (msn, part, ext)
        try:
            c.request("GET", f"/live.m3u8?_HLS_msn={msn}&_HLS_part={part}")
            r = c.getresponse(); body = r.read()
        except Exception:
            with lock: tot["errors"] += 1
            c = http.client.HTTPConnection(host, int(port), timeout=15)
            continue
        now = time.time()
        name = f"seg{msn}.{part}.{ext}"
        t = mtime(name)
        with lock:
            tot["reloads"] += 1
            if r.status != 200:
                tot["errors"] += 1
            elif t is not None:
                d = (now - t) * 1000
                delays.append(d)
                per_part[name] = max(per_part.get(name, 0), d)


def preloader(i):
    c = http.client.HTTPConnection(host, int(port), timeout=15)
    last = None
    while time.monotonic() < end:
        h = hints[i]
        if h is None or h == last:
            time.sleep(0.01)
            continue
        last = h
        try:
            c.request("GET", f"/seg{h[0]}.{h[1]}.{h[2]}")
            r = c.getresponse(); r.read()
        except Exception:
            with lock: tot["errors"] += 1
            c = http.client.HTTPConnection(host, int(port), timeout=15)
            continue
        with lock:
            tot["parts"] += 1
            tot["errors"] += r.status != 200


def cpu_ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def rss_mib():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) / 1024


threads = [threading.Thread(target=f, args=(i,), daemon=True) for i in range(n) for f in (reloader, preloader)]
t0, c0 = time.monotonic(), cpu_ticks()
for t in threads:
    t.start()
rss, nthreads = [], []
while time.monotonic() < end:
    time.sleep(1)
    rss.append(rss_mib())
    nthreads.append(int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("Threads:"))))
cpu = (cpu_ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0) * 100
for t in threads:
    t.join(timeout=20)


def q(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 1) if xs else None


last = list(per_part.values())
print(json.dumps({
    "clients": n, "seconds": secs, **tot,
    "response_ms": {"p50": q(delays, 0.5), "p99": q(delays, 0.99), "max": q(delays, 1.0)},
    "last_client_ms": {"parts": len(last), "p50": q(last, 0.5), "p99": q(last, 0.99), "max": q(last, 1.0)},
    "server_cpu_pct": round(cpu, 1), "server_rss_mib_max": round(max(rss), 1) if rss else None,
    "server_threads_max": max(nthreads) if nthreads else None,
}))
