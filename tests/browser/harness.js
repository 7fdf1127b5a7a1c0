// Shared by the Node.js browser checks (play_check.js, vod_check.js, rec_check.js,
// abr_check.js): the one-JSON-line report, Debian's headless Chromium through playwright-core
// (pinned in this directory), the built-in player page for a bare playlist URL, an hls.js
// hook for any page, and a master playlist reader.
'use strict';
const fs = require('fs');
const path = require('path');

// hls.js for the built-in player page: the copy the build embeds (npm ci --prefix web).
const HLS_JS = path.join(__dirname, '..', '..', 'web', 'node_modules', 'hls.js', 'dist', 'hls.min.js');

// Prints `o` as one JSON line and exits with `code` (0 pass, 1 fail, 2 harness error).
function out(o, code) {
  process.stdout.write(JSON.stringify(o) + '\n');
  process.exit(code);
}

// Headless Chromium (CHROMIUM=, default /usr/bin/chromium) with autoplay allowed; exits 2 when
// playwright-core or the browser is missing.
async function launch() {
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    out({ ok: false, errors: ['playwright-core missing: npm ci in ' + __dirname] }, 2);
  }
  try {
    return await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--autoplay-policy=no-user-gesture-required', '--no-sandbox', '--disable-gpu'],
    });
  } catch (e) {
    out({ ok: false, errors: ['chromium: ' + e.message.split('\n')[0]] }, 2);
  }
}

// The built-in player page for a playlist URL (?src=, ?mode=auto|native|hlsjs, ?cfg= hls.js
// config as JSON): native HLS when the browser says it can (or mode=native), else hls.js, which
// it exposes as window.hls; it reports itself in window.__pc = {engine, errors, nativeHls}.
const PLAYER_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>play_check</title>
<style>html,body{margin:0;background:#222}video{width:100%;height:auto;display:block}</style>
<script src="/__play_check__/hls.min.js"></script></head>
<body><video id="v" autoplay playsinline controls></video>
<script>
(function () {
  const q = new URLSearchParams(location.search);
  const src = q.get('src'), mode = q.get('mode') || 'auto';
  const v = document.getElementById('v');
  const native = !!v.canPlayType('application/vnd.apple.mpegurl');
  window.__pc = { engine: null, errors: [], nativeHls: native };
  if ((mode === 'native' || (mode === 'auto' && native))) {
    window.__pc.engine = 'native';
    v.src = src;
  } else if (window.Hls && Hls.isSupported()) {
    window.__pc.engine = 'hls.js ' + Hls.version;
    const hls = new Hls(JSON.parse(q.get('cfg') || '{}'));
    window.hls = hls;
    hls.on(Hls.Events.ERROR, (ev, d) => {
      window.__pc.errors.push('hls.js ' + d.type + '/' + d.details + (d.fatal ? ' (FATAL)' : ' (non-fatal)'));
      if (d.fatal && d.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    });
    hls.loadSource(src);
    hls.attachMedia(v);
  } else {
    window.__pc.errors.push('neither native HLS nor hls.js (MSE) available');
  }
  const p = v.play(); if (p && p.catch) p.catch(e => window.__pc.errors.push('play(): ' + e.name + ': ' + e.message));
})();
</script></body></html>`;

// Serves PLAYER_PAGE and hls.js at <playlist origin>/__play_check__/ (request interception, so
// no CORS is needed) and returns the page's URL playing `playlist`. A missing hls.js is pushed
// to `errors`.
async function playerPage(page, playlist, mode, cfg, errors) {
  const origin = new URL(playlist).origin;
  let hlsJs = '';
  try { hlsJs = fs.readFileSync(HLS_JS, 'utf8'); } catch (e) { errors.push('hls.js missing: run "npm ci" in web/'); }
  await page.route(origin + '/__play_check__/**', (route) => {
    const u = new URL(route.request().url());
    if (u.pathname.endsWith('/hls.min.js')) return route.fulfill({ status: 200, contentType: 'text/javascript', body: hlsJs });
    return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: PLAYER_PAGE });
  });
  const q = (k, x) => k + '=' + encodeURIComponent(x);
  return `${origin}/__play_check__/index.html?${q('mode', mode)}&${q('src', playlist)}&${q('cfg', cfg || '{}')}`;
}

// Hooks every hls.js instance any page creates (the page's own script or PLAYER_PAGE): an init
// script replaces window.Hls, when hls.js defines it, with a subclass whose constructor merges
// `extraConfig` over the page's config and then calls window.__onHls(hls, Hls) if another init
// script defined it (before the page calls loadSource, so no event is missed). Static members
// (Hls.Events, Hls.isSupported, Hls.version) are inherited.
async function hookHls(page, extraConfig) {
  await page.addInitScript((extra) => {
    let Wrapped;
    Object.defineProperty(window, 'Hls', {
      configurable: true,
      get: () => Wrapped,
      set: (Base) => {
        Wrapped = class extends Base {
          constructor(cfg) {
            super(Object.assign({}, cfg, extra));
            if (window.__onHls) window.__onHls(this, Base);
          }
        };
      },
    });
  }, extraConfig || {});
}

// An HLS attribute list (`BANDWIDTH=1,CODECS="a,b"`) as an object, quotes removed.
function attrs(list) {
  const o = {};
  for (const m of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) o[m[1]] = m[2].replace(/^"|"$/g, '');
  return o;
}

// The variants of a master playlist: [{bandwidth, averageBandwidth, width, height, codecs,
// video, url}] with URLs resolved against `base`; video is true when the variant has a
// RESOLUTION or a video codec (false for an audio-only one). Throws on a media playlist.
function parseMaster(text, base) {
  if (!/^#EXTM3U/.test(text) || !/#EXT-X-STREAM-INF:/.test(text)) throw new Error('not a master playlist: ' + base);
  const out = [];
  let inf = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-STREAM-INF:')) inf = attrs(line.slice(18));
    else if (inf && line && !line.startsWith('#')) {
      const res = /^(\d+)x(\d+)$/.exec(inf.RESOLUTION || '');
      const codecs = inf.CODECS || '';
      out.push({
        bandwidth: Number(inf.BANDWIDTH), averageBandwidth: inf['AVERAGE-BANDWIDTH'] ? Number(inf['AVERAGE-BANDWIDTH']) : null,
        width: res ? Number(res[1]) : null, height: res ? Number(res[2]) : null, codecs,
        video: !!res || /(^|,)\s*(avc[13]|hvc1|hev1|av01|vp09)\./.test(codecs), url: new URL(line, base).href,
      });
      inf = null;
    }
  }
  return out;
}

// EXT-X-TARGETDURATION of a media playlist, in seconds (null when absent).
function targetDuration(text) {
  const m = /#EXT-X-TARGETDURATION:(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

module.exports = { out, launch, HLS_JS, PLAYER_PAGE, playerPage, hookHls, attrs, parseMaster, targetDuration };
