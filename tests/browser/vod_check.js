#!/usr/bin/env node
// `hlscam vod` output in headless Chromium with hls.js: plays from the start, then seeks into
// the last segment and plays on; checks the VOD duration the player reports.
// Usage: node vod_check.js PLAYLIST_URL EXPECTED_DURATION_S
// Env:   CHROMIUM=/usr/bin/chromium
// Prints one JSON line; exit 0 = played, seeked and played on with no fatal error and the
// duration within 0.1 s of EXPECTED_DURATION_S; 1 = not; 2 = harness error.
'use strict';
const fs = require('fs');
const { out, launch, HLS_JS } = require('./harness');

const url = process.argv[2];
const expected = Number(process.argv[3]);
if (!url || !(expected > 0)) out({ ok: false, errors: ['usage: vod_check.js URL DURATION'] }, 2);

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><script src="/__vod_check__/hls.min.js"></script></head>
<body><video id="v" muted playsinline></video><script>
window.__vc = { errors: [], fatal: false };
const v = document.getElementById('v');
const hls = new Hls();
hls.on(Hls.Events.ERROR, (e, d) => { window.__vc.errors.push(d.type + '/' + d.details + (d.fatal ? ' FATAL' : '')); if (d.fatal) window.__vc.fatal = true; });
hls.loadSource(new URLSearchParams(location.search).get('src'));
hls.attachMedia(v);
v.play().catch((e) => window.__vc.errors.push('play(): ' + e.message));
</script></body></html>`;

(async () => {
  const browser = await launch();
  const page = await browser.newPage();
  const origin = new URL(url).origin;
  const hlsJs = fs.readFileSync(HLS_JS, 'utf8');
  await page.route(origin + '/__vod_check__/**', (route) => {
    if (route.request().url().endsWith('/hls.min.js')) return route.fulfill({ status: 200, contentType: 'text/javascript', body: hlsJs });
    return route.fulfill({ status: 200, contentType: 'text/html', body: PAGE });
  });
  await page.goto(`${origin}/__vod_check__/index.html?src=${encodeURIComponent(url)}`);
  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    return { t: v.currentTime, duration: v.duration, paused: v.paused, errors: window.__vc.errors, fatal: window.__vc.fatal, w: v.videoWidth };
  });
  const waitUntil = async (pred, ms) => {
    const end = Date.now() + ms;
    let s = await state();
    while (!pred(s) && Date.now() < end && !s.fatal) { await page.waitForTimeout(100); s = await state(); }
    return s;
  };
  const r = { ok: false };
  r.start = await waitUntil((s) => s.t >= 1.0, 15000);
  const seekTo = Math.max(0, expected - 3);
  r.seekTo = seekTo;
  await page.evaluate((t) => { document.getElementById('v').currentTime = t; }, seekTo);
  r.afterSeek = await waitUntil((s) => s.t >= seekTo + 1.0, 15000);
  r.ok = r.start.t >= 1.0 && r.afterSeek.t >= seekTo + 1.0 && !r.afterSeek.fatal &&
    Math.abs(r.afterSeek.duration - expected) <= 0.1 && r.afterSeek.w > 0;
  await browser.close();
  out(r, r.ok ? 0 : 1);
})().catch((e) => out({ ok: false, errors: ['harness: ' + e.message] }, 2));
