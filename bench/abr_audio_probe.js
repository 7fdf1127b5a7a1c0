#!/usr/bin/env node
// One playback of a master playlist in headless Chromium for bench/abr_audio_layout.sh (issue 15:
// audio muxed into every variant vs. one audio rendition). Not a test: it prints what it saw.
// Usage: node bench/abr_audio_probe.js MASTER_URL hlsjs|native SECONDS
// Env:   THROTTLE="FROM_S:TO_S:KBIT_S" throttles the page's network (CDP
//        Network.emulateNetworkConditions, 20 ms latency) from FROM_S to TO_S after the first
//        'playing'; BASE_KBIT=N is the link outside that window (default: no emulation).
// Prints one JSON line: startup_s, played_s, stalls (waiting->playing intervals and intervals
// where currentTime did not move for >= 0.5 s, both from 2 s after the first 'playing'),
// audio_decoded_bytes and audio gaps (>= 0.5 s of media time played at about real time while
// webkitAudioDecodedByteCount did not grow; jumps of currentTime are "skips"), for hls.js the
// SourceBuffers' buffered ranges (a hole in the audio ranges inside what was played is an
// audio gap too), level switches (hls.js LEVEL_SWITCHED; for both engines the picture height
// changes), and the requests: media playlists and segments per path, per second of the run.
'use strict';
const { out, launch, playerPage, hookHls } = require('../tests/browser/harness');

const [url, mode, secArg] = process.argv.slice(2);
const seconds = Number(secArg);
if (!url || !/^(hlsjs|native)$/.test(mode || '') || !(seconds > 0)) out({ errors: ['usage: abr_audio_probe.js MASTER_URL hlsjs|native SECONDS'] }, 2);
let throttle = null;
if (process.env.THROTTLE) {
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?):(\d+)$/.exec(process.env.THROTTLE);
  if (!m) out({ errors: ['THROTTLE must be FROM_S:TO_S:KBIT_S'] }, 2);
  throttle = { from: Number(m[1]), to: Number(m[2]), kbit: Number(m[3]) };
}
const baseKbit = process.env.BASE_KBIT ? Number(process.env.BASE_KBIT) : null;

// In-page recorder, window.__aa (times: performance.now() ms).
const INSTRUMENT = () => {
  const A = (window.__aa = { firstPlayAt: null, waits: [], openWait: null, samples: [], switches: [], audioSwitches: [],
    errors: [], sbs: [], frags: { main: 0, audio: 0 } });
  const now = () => performance.now();
  // Every SourceBuffer hls.js creates (native playback has none the page can see).
  const add = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (mime) {
    const sb = add.call(this, mime);
    A.sbs.push({ mime, sb });
    return sb;
  };
  window.__onHls = (hls, Hls) => {
    window.__aaHls = hls;
    const E = Hls.Events;
    hls.on(E.LEVEL_SWITCHED, (e, d) => A.switches.push({ at: now(), level: d.level, height: (hls.levels[d.level] || {}).height }));
    hls.on(E.AUDIO_TRACK_SWITCHED, (e, d) => A.audioSwitches.push({ at: now(), id: d.id }));
    hls.on(E.FRAG_BUFFERED, (e, d) => { A.frags[d.frag.type] = (A.frags[d.frag.type] || 0) + 1; });
    hls.on(E.ERROR, (e, d) => A.errors.push({ at: now(), what: d.type + '/' + d.details, fatal: !!d.fatal }));
  };
  document.addEventListener('playing', () => {
    const t = now();
    if (A.firstPlayAt === null) A.firstPlayAt = t;
    if (A.openWait !== null) { A.waits.push({ at: A.openWait, dur: t - A.openWait }); A.openWait = null; }
  }, true);
  document.addEventListener('waiting', () => { if (A.openWait === null) A.openWait = now(); }, true);
  setInterval(() => {
    const v = document.querySelector('video');
    if (!v) return;
    const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
    A.samples.push({ t: now(), ct: v.currentTime, ab: v.webkitAudioDecodedByteCount || 0, h: v.videoHeight, frames: q.totalVideoFrames || 0, paused: v.paused });
  }, 250);
};

const SNAPSHOT = () => {
  const A = window.__aa, v = document.querySelector('video');
  const ranges = (b) => { const r = []; for (let i = 0; i < b.length; i++) r.push([b.start(i), b.end(i)]); return r; };
  let sbs = [];
  try { sbs = A.sbs.map((x) => ({ mime: x.mime, ranges: ranges(x.sb.buffered) })); } catch (e) { sbs = [{ error: String(e) }]; }
  const hls = window.__aaHls;
  return {
    now: performance.now(), firstPlayAt: A.firstPlayAt, waits: A.waits, openWait: A.openWait, samples: A.samples,
    switches: A.switches, audioSwitches: A.audioSwitches, errors: A.errors, frags: A.frags, sbs,
    engine: hls ? 'hls.js ' + window.Hls.version : (window.__pc || {}).engine,
    levels: hls ? hls.levels.map((l) => ({ bitrate: l.bitrate, height: l.height, audioCodec: l.audioCodec, videoCodec: l.videoCodec })) : null,
    audioTracks: hls ? hls.audioTracks.map((t) => t.name) : null,
    ct: v ? v.currentTime : null, pageErrors: ((window.__pc || {}).errors) || [],
  };
};

const r3 = (x) => Math.round(x * 1000) / 1000;

(async () => {
  const hard = setTimeout(() => out({ errors: ['timed out'] }, 2), (seconds + 60) * 1000);
  const browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 960, height: 540 } });
  const page = await ctx.newPage();
  const reqs = [];
  const t0 = Date.now();
  const httpErrors = [];
  page.on('request', (q) => {
    const p = new URL(q.url()).pathname;
    if (/\.(m3u8|ts)$/.test(p)) reqs.push({ at: Date.now() - t0, path: p });
  });
  page.on('response', (res) => { if (res.status() >= 400 && !/favicon/.test(res.url())) httpErrors.push(res.status() + ' ' + res.url()); });
  page.on('pageerror', (e) => httpErrors.push('pageerror: ' + e.message));
  await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204, body: '' }));
  await page.addInitScript(INSTRUMENT);
  await hookHls(page, {});
  const herr = [];
  const target = await playerPage(page, url, mode, '{}', herr);
  if (herr.length) out({ errors: herr }, 2);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  const net = (kbit) => cdp.send('Network.emulateNetworkConditions', kbit === null
    ? { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }
    : { offline: false, latency: 20, downloadThroughput: kbit * 125, uploadThroughput: kbit * 125 });
  if (baseKbit !== null) await net(baseKbit);
  const navAt = Date.now();
  await page.goto(target, { waitUntil: 'domcontentloaded', timeout: 15000 });
  const end = navAt + seconds * 1000;
  let playAtWall = null, throttledAt = null, liftedAt = null;
  while (Date.now() < end) {
    await new Promise((ok) => setTimeout(ok, 250));
    if (playAtWall === null) {
      const fp = await page.evaluate(() => window.__aa.firstPlayAt);
      if (fp !== null) playAtWall = Date.now();
    }
    if (throttle && playAtWall !== null) {
      const since = (Date.now() - playAtWall) / 1000;
      if (throttledAt === null && since >= throttle.from) { await net(throttle.kbit); throttledAt = Date.now() - navAt; }
      if (throttledAt !== null && liftedAt === null && since >= throttle.to) { await net(baseKbit); liftedAt = Date.now() - navAt; }
    }
  }
  const s = await page.evaluate(SNAPSHOT);
  clearTimeout(hard);
  await browser.close();

  const r = { mode, url, engine: s.engine, seconds, throttle: throttle && { ...throttle, base_kbit: baseKbit,
    at_s: throttledAt && r3(throttledAt / 1000), lifted_s: liftedAt && r3(liftedAt / 1000) } };
  r.startup_s = s.firstPlayAt === null ? null : r3(s.firstPlayAt / 1000);
  const played = s.samples.filter((x) => s.firstPlayAt !== null && x.t >= s.firstPlayAt);
  r.played_s = played.length ? r3(played[played.length - 1].ct - played[0].ct) : 0;
  r.plays = r.played_s >= Math.min(5, seconds / 3);
  const settle = s.firstPlayAt === null ? Infinity : s.firstPlayAt + 2000;
  // Stalls: waiting->playing, and currentTime stuck >= 0.5 s while not paused.
  const waits = s.waits.concat(s.openWait !== null ? [{ at: s.openWait, dur: s.now - s.openWait, open: true }] : []);
  r.waiting_events = waits.length;
  r.stalls_waiting = waits.filter((w) => w.at >= settle).map((w) => ({ at_s: r3(w.at / 1000), dur_s: r3(w.dur / 1000) }));
  const stuck = [];
  let from = null;
  for (let i = 1; i < played.length; i++) {
    const a = played[i - 1], b = played[i];
    if (b.ct === a.ct && !b.paused) { if (from === null) from = a.t; } else if (from !== null) { stuck.push([from, a.t]); from = null; }
  }
  if (from !== null) stuck.push([from, played[played.length - 1].t]);
  r.stalls_frozen = stuck.filter(([a, b]) => a >= settle && b - a >= 500).map(([a, b]) => ({ at_s: r3(a / 1000), dur_s: r3((b - a) / 1000) }));
  r.stall_total_s = r3([...r.stalls_waiting, ...r.stalls_frozen].reduce((x, y) => Math.max(x, y.dur_s), 0));
  // Audio: decoded bytes, and gaps where media time moved but no audio was decoded.
  const last = s.samples[s.samples.length - 1] || { ab: 0 };
  r.audio_decoded_bytes = last.ab;
  // Skips (currentTime jumping ahead faster than 1.5x real time: a player seeking over a hole
  // or back to the live edge) lose audio and video alike; they are counted apart, not as gaps.
  const gaps = [], skips = [];
  let g = null;
  for (let i = 1; i < played.length; i++) {
    const a = played[i - 1], b = played[i];
    if (b.ct - a.ct > 1.5 * (b.t - a.t) / 1000 + 0.05) {
      skips.push({ at_s: r3(a.t / 1000), media_s: r3(b.ct - a.ct) });
      if (g !== null) { gaps.push(g); g = null; }
    } else if (b.ab === a.ab && b.ct > a.ct) { if (g === null) g = { t: a.t, ct: a.ct }; g.end = b.ct; g.tEnd = b.t; } else if (g !== null) { gaps.push(g); g = null; }
  }
  if (g !== null) gaps.push(g);
  r.skips = skips;
  r.audio_gaps = gaps.filter((x) => x.end - x.ct >= 0.5).map((x) => ({ at_s: r3(x.t / 1000), media_s: r3(x.end - x.ct) }));
  // hls.js: holes in the SourceBuffers' buffered ranges inside what was played.
  const playedFrom = played.length ? played[0].ct : 0;
  r.buffers = s.sbs.map((b) => {
    const rs = b.ranges || [];
    const holes = [];
    for (let i = 1; i < rs.length; i++) if (rs[i][0] > playedFrom && rs[i][0] < s.ct) holes.push(r3(rs[i][0] - rs[i - 1][1]));
    return { mime: b.mime, ranges: rs.map((x) => x.map(r3)), holes_in_played: holes };
  });
  // A/V placement (hls.js): where the audio buffer starts against the video buffer (the range
  // holding currentTime). Both tracks carry the same encoder PTS, so a player that puts them on
  // one timeline shows less than one AAC frame (21 ms) here; a mis-mapped rendition shows more.
  const holding = (mime) => {
    const b = r.buffers.find((x) => x.mime.startsWith(mime));
    return b && b.ranges.find((x) => x[0] <= s.ct && s.ct <= x[1] + 0.1);
  };
  const ha = holding('audio'), hv = holding('video');
  r.av_start_offset_ms = ha && hv ? Math.round((ha[0] - hv[0]) * 1000) : null;
  r.frags_buffered = s.frags;
  r.levels = s.levels;
  r.audio_tracks = s.audioTracks;
  r.level_switches = s.switches.map((w) => ({ at_s: r3(w.at / 1000), level: w.level, height: w.height }));
  const heights = [];
  for (const x of s.samples) if (x.h && (!heights.length || heights[heights.length - 1].h !== x.h)) heights.push({ at_s: r3(x.t / 1000), h: x.h });
  r.picture_heights = heights;
  // Stalls and audio gaps starting from 1 s before to 3 s after each change of picture height.
  const near = (at) => (x) => x.at_s >= at - 1 && x.at_s <= at + 3;
  r.switch_effects = heights.slice(1).map((h) => ({ at_s: h.at_s, to: h.h,
    stalls: [...r.stalls_waiting, ...r.stalls_frozen].filter(near(h.at_s)).length, audio_gaps: r.audio_gaps.filter(near(h.at_s)).length }));
  r.frames_decoded = last.frames;
  // Requests: per path; per second over the run after the first 'playing'.
  const span = (Date.now() - t0 - (s.firstPlayAt === null ? 0 : navAt - t0 + s.firstPlayAt)) / 1000;
  const by = {};
  for (const q of reqs) by[q.path] = (by[q.path] || 0) + 1;
  r.requests = by;
  const after = reqs.filter((q) => s.firstPlayAt !== null && q.at >= navAt - t0 + s.firstPlayAt);
  const media = after.filter((q) => /\.m3u8$/.test(q.path) && !/index\.m3u8$/.test(q.path));
  r.playlist_req_per_s = r3(media.length / span);
  r.segment_req_per_s = r3(after.filter((q) => /\.ts$/.test(q.path)).length / span);
  r.hls_errors = s.errors.map((e) => ({ at_s: r3(e.at / 1000), what: e.what, fatal: e.fatal }));
  r.warnings = [...new Set(s.pageErrors.filter((e) => /\(non-fatal\)$/.test(e)))];
  r.errors = [...s.pageErrors.filter((e) => !/\(non-fatal\)$/.test(e)), ...httpErrors, ...s.errors.filter((e) => e.fatal).map((e) => 'hls.js fatal ' + e.what)];
  out(r, r.plays ? 0 : 1);
})().catch((e) => out({ errors: ['harness: ' + (e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e)] }, 2));
