#!/usr/bin/env python3
"""Stand-in for the hlscam HTTP server (127.0.0.1 only), for testing the player page.

Usage: standin.py DIR [PORT]   (PORT default 8090; 0 = pick a free one and print it)

Serves the same routes as hlscam:
  /  (any query)      web/index.html, re-read on every request
  /hls.min.js         web/node_modules/hls.js/dist/hls.min.js (404 when absent, or when
                      STANDIN_NO_HLSJS=1, to test an unbundled build)
  /api/status         made-up figures with the fields of hlscam's stats::Snapshot
  /live.m3u8          DIR/live.m3u8, Cache-Control: no-cache
  /seg<N>.ts          DIR/seg<N>.ts as video/mp2t
  /index.m3u8         DIR/index.m3u8 (the master playlist, abr_standin.sh)
  /v/<name>/live.m3u8, /v/<name>/seg<N>.ts   a variant's files in DIR/v/<name>/
Anything else is 404. Set STANDIN_LOG=1 to log requests.
"""
import http.server, json, os, re, socketserver, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
WEB = os.path.join(HERE, "..", "..", "web")
PAGE = os.path.join(WEB, "index.html")
HLSJS = os.path.join(WEB, "node_modules", "hls.js", "dist", "hls.min.js")
SEG_RE = re.compile(r"^(/v/[a-z0-9_-]{1,16})?/seg[0-9]{1,20}\.ts$")
PLAYLIST_RE = re.compile(r"^(/v/[a-z0-9_-]{1,16})?/live\.m3u8$|^/index\.m3u8$")
STARTED = time.monotonic()
CLIENTS = 0
LOCK = threading.Lock()


def status(root):
    up = time.monotonic() - STARTED
    segs = 0
    try:
        with open(os.path.join(root, "live.m3u8")) as f:
            text = f.read()
        m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
        segs = (int(m.group(1)) if m else 0) + text.count("#EXTINF")
    except OSError:
        pass
    frames = int(up * 30)
    return {
        "uptime_s": round(up, 3), "source": "standin (ffmpeg testsrc2)", "audio_source": "standin (sine)",
        "encoder": "libx264 (standin)", "frames_in": frames, "frames_out": frames, "fps": 30.0, "drops": 0,
        "bitrate_kbps": 1596.0, "segments": segs, "clients": CLIENTS, "encode_ms_per_frame": 4.2, "restarts": 0,
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def setup(self):
        global CLIENTS
        super().setup()
        with LOCK:
            CLIENTS += 1

    def finish(self):
        global CLIENTS
        super().finish()
        with LOCK:
            CLIENTS -= 1

    def send(self, code, ctype, body, cache="no-cache"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def file(self, path, ctype, cache):
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError:
            return self.send(404, "text/plain", b"not found\n")
        self.send(200, ctype, body, cache)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self.file(PAGE, "text/html; charset=utf-8", "no-cache")
        elif path == "/hls.min.js":
            if os.environ.get("STANDIN_NO_HLSJS") == "1":
                return self.send(404, "text/plain", b"hls.js not bundled\n")
            self.file(HLSJS, "text/javascript; charset=utf-8", "max-age=3600")
        elif path == "/api/status":
            self.send(200, "application/json", json.dumps(status(self.root)).encode(), "no-store")
        elif PLAYLIST_RE.match(path):
            self.file(os.path.join(self.root, path[1:]), "application/vnd.apple.mpegurl", "no-cache")
        elif SEG_RE.match(path):
            self.file(os.path.join(self.root, path[1:]), "video/mp2t", "max-age=60")
        else:
            self.send(404, "text/plain", b"not found\n")

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        if os.environ.get("STANDIN_LOG"):
            super().log_message(fmt, *args)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    Handler.root = os.path.abspath(sys.argv[1])
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8090
    with Server(("127.0.0.1", port), Handler) as srv:
        print(f"standin: {Handler.root} on http://127.0.0.1:{srv.server_address[1]}/", flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
