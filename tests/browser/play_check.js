#!/usr/bin/env node
// hlscam's live HLS playback check in headless Chromium (adapted from the project's shared
// recipe). See README.md.
// Usage: node play_check.js URL [seconds]
//   URL ending in .m3u8 (query allowed): played by a built-in harness page served on the
//       playlist's own origin (no CORS needed) with native HLS if the browser says it can
//       (canPlayType('application/vnd.apple.mpegurl')), else hls.js.
//   any other URL: the page is loaded as-is and its first <video> is watched
//       (window.hls, if the page exposes its hls.js instance there, is used for latency;
//       window.hlscam = {engine, errors, warnings} is hlscam's player page reporting itself).
// Env: PLAY_MODE=auto|native|hlsjs (harness only, default auto)
//      PLAY_CHECK_SCREENSHOT=path.png (default ./play_check.png)
//      CHROMIUM=/usr/bin/chromium   MIN_ADVANCE_S=1.0   HLSJS_CONFIG='{"lowLatencyMode":true}'
//      VIEWPORT=960x540 (e.g. 390x844 for a phone)   MOBILE=1 (touch, mobile layout, 2x pixels)
//      UNMUTE=1 (page mode: click #unmute once playing, so audio decodes unmuted)
//      STRICT=1 (exit 0 only when played AND errors is empty)
// Prints one JSON line on stdout; exit 0 = playback advanced (and, with STRICT, no errors),
// 1 = it did not, 2 = harness error.
'use strict';
const path = require('path');
const fs = require('fs');

function die(msg, code = 2) {
  process.stdout.write(JSON.stringify({ played: false, errors: [String(msg)] }) + '\n');
  process.exit(code);
}

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  die(`playwright-core missing: run "npm ci" in ${__dirname} (${e.message})`);
}
const { playerPage } = require('./harness');

const url = process.argv[2];
const seconds = Number(process.argv[3] || 10);
if (!url || !(seconds > 0)) die('usage: play_check.sh URL [seconds]');
const mode = process.env.PLAY_MODE || 'auto';
const shot = path.resolve(process.env.PLAY_CHECK_SCREENSHOT || 'play_check.png');
const minAdvance = Number(process.env.MIN_ADVANCE_S || Math.min(1.0, seconds / 4));
const hlsConfig = process.env.HLSJS_CONFIG || '{}';
const strict = process.env.STRICT === '1';
const unmute = process.env.UNMUTE !== '0';
const mobile = process.env.MOBILE === '1';
const vp = /^(\d+)x(\d+)$/.exec(process.env.VIEWPORT || '') || [null, mobile ? 390 : 960, mobile ? 844 : 540];
const viewport = { width: Number(vp[1]), height: Number(vp[2]) };
let isPlaylist;
try { isPlaylist = /\.m3u8?$/i.test(new URL(url).pathname); } catch (e) { die('bad URL: ' + url); }

// In-page instrumentation (works for the harness and for arbitrary pages).
const INSTRUMENT = () => {
  const st = (window.__pcm = { t0: performance.now(), firstPlayAt: null, ctAtPlay: null, waiting: 0,
    stalls: 0, videoErrors: [], hooked: false });
  const hook = () => {
    const v = document.querySelector('video');
    if (!v || st.hooked) return !!v;
    st.hooked = true;
    v.addEventListener('playing', () => {
      if (st.firstPlayAt === null) { st.firstPlayAt = performance.now(); st.ctAtPlay = v.currentTime; }
    });
    // A stall: the player ran dry after playback had settled (2 s after it started: players
    // seek to the live edge or swap their first buffer right after the first 'playing').
    v.addEventListener('waiting', () => {
      st.waiting++;
      if (st.firstPlayAt !== null && performance.now() - st.firstPlayAt > 2000) st.stalls++;
    });
    v.addEventListener('error', () => {
      const e = v.error;
      st.videoErrors.push('video error code ' + (e && e.code) + ': ' + ((e && e.message) || ''));
    });
    return true;
  };
  if (!hook()) {
    const mo = new MutationObserver(() => { if (hook()) mo.disconnect(); });
    document.addEventListener('DOMContentLoaded', () => { if (!hook()) mo.observe(document.body, { childList: true, subtree: true }); });
  }
};

const SNAPSHOT = () => {
  const v = document.querySelector('video');
  const st = window.__pcm || {};
  const pc = window.__pc || window.hlscam || {};
  const txt = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };
  const r = (x) => (typeof x === 'number' && isFinite(x) ? Math.round(x * 1000) / 1000 : null);
  if (!v) return { noVideo: true };
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
  const seekEnd = v.seekable.length ? v.seekable.end(v.seekable.length - 1) : null;
  const bufEnd = v.buffered.length ? v.buffered.end(v.buffered.length - 1) : null;
  const hls = window.hls;
  let latency = null, latencySrc = null, wall = null;
  if (hls && typeof hls.latency === 'number' && hls.latency > 0) { latency = hls.latency; latencySrc = 'hls.latency'; }
  else if (seekEnd !== null && isFinite(seekEnd)) { latency = seekEnd - v.currentTime; latencySrc = 'seekable.end-currentTime'; }
  if (hls && hls.playingDate) wall = (Date.now() - hls.playingDate.getTime()) / 1000;
  return {
    engine: pc.engine || (window.hls ? 'page, hls.js ' + ((window.Hls && Hls.version) || '') : 'page'), nativeHls: pc.nativeHls, currentTime: r(v.currentTime), ctAtPlay: r(st.ctAtPlay),
    startup_s: st.firstPlayAt === null ? null : r((st.firstPlayAt - st.t0) / 1000),
    videoWidth: v.videoWidth, videoHeight: v.videoHeight, readyState: v.readyState, paused: v.paused,
    latency, latencySrc, wall, targetLatency: hls && typeof hls.targetLatency === 'number' ? r(hls.targetLatency) : null,
    seekableEnd: r(seekEnd), bufferedEnd: r(bufEnd), waiting: st.waiting, stalls: st.stalls,
    framesDecoded: q.totalVideoFrames ?? null, framesDropped: q.droppedVideoFrames ?? null,
    audioDecodedBytes: v.webkitAudioDecodedByteCount ?? null, videoDecodedBytes: v.webkitVideoDecodedByteCount ?? null,
    errors: [...(st.videoErrors || []), ...(pc.errors || [])], warnings: pc.warnings || [], muted: v.muted,
    pageText: window.hlscam ? { engine: txt('eng'), latency: txt('lat'), buffer: txt('buf'), status: txt('sts'),
      error: (document.getElementById('err') || {}).offsetParent ? txt('err') : null } : null,
  };
};

// Network-side view of the stream: every media playlist body and every segment request.
// Used for the native player, which exposes no live edge (seekable is empty, duration NaN).
// Chromium's native player first fetches the oldest listed segment (codec probe) and then
// starts 3 segments from the end, so media time cannot be tied to the first request. Instead
// buffered.end is tied to the end of the newest segment requested (players buffer to the edge):
//   latency = (bufferedEnd - currentTime) + duration of listed segments not yet requested
//   wall    = now - PROGRAM-DATE-TIME end of that segment + (bufferedEnd - currentTime)
// (about 0.2-0.3 s optimistic: buffered.end is the A/V intersection, slightly short).
const SEG_RE = /\.(ts|m4s|aac|mp4|m4a|m4v)(\?|$)/i;
const net = {
  segs: new Map(), // absolute URL -> {seq, dur, pdt(ms)|null}
  durBySeq: new Map(), lastSeq: null, lastEndPdt: null, requested: new Set(), segRequests: 0, playlists: 0,
  playlist(base, text) {
    if (!/^#EXTM3U/.test(text) || /#EXT-X-STREAM-INF/.test(text)) return; // not a media playlist
    this.playlists++;
    let seq = Number((text.match(/#EXT-X-MEDIA-SEQUENCE:(\d+)/) || [])[1] || 0);
    let dur = null, pdt = null, prevEnd = null;
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line.startsWith('#EXTINF:')) dur = parseFloat(line.slice(8));
      else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
      else if (line && !line.startsWith('#')) {
        if (pdt === null && prevEnd !== null) pdt = prevEnd;
        const u = new URL(line, base).href;
        this.segs.set(u, { seq, dur, pdt });
        this.durBySeq.set(seq, dur);
        prevEnd = pdt === null ? null : pdt + dur * 1000;
        this.lastSeq = seq; this.lastEndPdt = prevEnd;
        seq++; dur = null; pdt = null;
      }
    }
  },
  segment(u) { this.segRequests++; this.requested.add(u); },
  nativeLatency(ct, bufEnd, nowMs) {
    if (bufEnd == null || this.lastSeq === null) return {};
    let last = null;
    for (const u of this.requested) { const x = this.segs.get(u); if (x && (!last || x.seq > last.seq)) last = x; }
    if (!last) return {};
    let after = 0;
    for (let q = last.seq + 1; q <= this.lastSeq; q++) after += this.durBySeq.get(q) || 0;
    const ahead = bufEnd - ct;
    return { latency: ahead + after, wall: last.pdt == null ? null : (nowMs - (last.pdt + last.dur * 1000)) / 1000 + ahead };
  },
};

(async () => {
  const hardTimer = setTimeout(() => die(`timed out after ${seconds + 60}s`), (seconds + 60) * 1000);
  const userDataDir = fs.mkdtempSync('/tmp/play_check_profile_');
  const errors = [];
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      viewport, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
    });
  } catch (e) {
    die('chromium launch failed: ' + e.message.split('\n')[0]);
  }
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text().slice(0, 300)); });
  page.on('requestfailed', (r) => {
    const f = r.failure() && r.failure().errorText;
    if (!/favicon/.test(r.url()) && f !== 'net::ERR_ABORTED') errors.push(`request failed ${f}: ${r.url()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !/favicon/.test(r.url())) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    else if (/\.m3u8?(\?|$)/i.test(r.url())) r.text().then((t) => net.playlist(r.url(), t)).catch(() => {});
  });
  page.on('request', (r) => { if (SEG_RE.test(r.url())) net.segment(r.url()); });
  await page.addInitScript(INSTRUMENT);
  await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204, body: '' }));

  const target = isPlaylist ? await playerPage(page, url, mode, hlsConfig, errors) : url;
  const t0 = Date.now();
  try {
    await page.goto(target, { waitUntil: 'domcontentloaded', timeout: 15000 });
  } catch (e) {
    errors.push('navigation: ' + e.message.split('\n')[0]);
  }
  // Sample once a second for the observation window.
  const samples = [];
  let clickedUnmute = false;
  while (Date.now() - t0 < seconds * 1000) {
    await page.waitForTimeout(Math.min(1000, Math.max(50, seconds * 1000 - (Date.now() - t0))));
    try {
      const snap = await page.evaluate(SNAPSHOT);
      snap.at = Date.now();
      if (snap.latency == null) {
        const n = net.nativeLatency(snap.currentTime || 0, snap.bufferedEnd, snap.at);
        if (n.latency != null) { snap.latency = n.latency; snap.latencySrc = 'playlist edge via bufferedEnd+unfetched segments'; }
        if (snap.wall == null && n.wall != null) snap.wall = n.wall;
      }
      samples.push(snap);
      if (unmute && !isPlaylist && !clickedUnmute && snap.ctAtPlay != null && snap.muted) {
        clickedUnmute = true;
        await page.click('#unmute', { timeout: 2000 }).catch((e) => errors.push('unmute click: ' + e.message.split('\n')[0]));
      }
    } catch (e) { errors.push('evaluate: ' + e.message.split('\n')[0]); break; }
  }
  const last = samples[samples.length - 1] || {};
  let shotOk = null;
  const shotAt = new Date();
  try { await page.screenshot({ path: shot, fullPage: !isPlaylist }); shotOk = shot; } catch (e) { errors.push('screenshot: ' + e.message.split('\n')[0]); }
  await ctx.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
  clearTimeout(hardTimer);

  const firstCt = samples.map((s) => s.ctAtPlay).find((x) => x !== null && x !== undefined);
  const advanced = last.currentTime != null && firstCt != null ? last.currentTime - firstCt : 0;
  const allErrors = [...new Set([...(last.errors || []), ...errors])];
  if (last.noVideo) allErrors.push('no <video> element on the page');
  const played = advanced >= minAdvance && last.videoWidth > 0;
  // Latency figures over the second half of the run (after start-up and catch-up).
  const quantile = (xs, q) => { const a = xs.filter((x) => x != null).sort((p, r) => p - r); return a.length ? Math.round(a[Math.min(a.length - 1, Math.floor(a.length * q))] * 1000) / 1000 : null; };
  const median = (xs) => quantile(xs, 0.5);
  const tail = samples.slice(samples.length >> 1);
  const maxStalls = process.env.MAX_STALLS === undefined ? Infinity : Number(process.env.MAX_STALLS);
  if ((last.stalls ?? 0) > maxStalls) allErrors.push(`${last.stalls} stall(s) after playback started (MAX_STALLS=${maxStalls})`);
  const out = {
    played, url, seconds, engine: last.engine ?? null,
    currentTime: last.currentTime ?? null, advanced_s: Math.round(advanced * 1000) / 1000,
    startup_s: last.startup_s ?? null,
    videoWidth: last.videoWidth ?? 0, videoHeight: last.videoHeight ?? 0,
    latency_s: last.latency == null ? null : Math.round(last.latency * 1000) / 1000,
    latency_source: last.latencySrc ?? null,
    wallclock_latency_s: last.wall == null ? null : Math.round(last.wall * 1000) / 1000,
    target_latency_s: last.targetLatency ?? null,
    latency_median_s: median(tail.map((x) => x.latency)), wallclock_median_s: median(tail.map((x) => x.wall)),
    latency_p95_s: quantile(tail.map((x) => x.latency), 0.95), wallclock_p95_s: quantile(tail.map((x) => x.wall), 0.95),
    stalls_after_start: last.stalls ?? null,
    frames_decoded: last.framesDecoded ?? null, frames_dropped: last.framesDropped ?? null,
    audio_decoded_bytes: last.audioDecodedBytes ?? null, waiting_events: last.waiting ?? null,
    playlist_fetches: net.playlists, segment_requests: net.segRequests,
    muted: last.muted ?? null, unmute_clicked: clickedUnmute, page: last.pageText ?? null,
    viewport: `${viewport.width}x${viewport.height}`, warnings: last.warnings || [],
    errors: allErrors, screenshot: shotOk, screenshot_at: shotAt.toTimeString().slice(0, 8),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(played && (!strict || allErrors.length === 0) ? 0 : 1);
})().catch((e) => die('harness: ' + (e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e)));
