#!/usr/bin/env node
// Adaptive bitrate in headless Chromium with hls.js (issue 15): plays a master playlist, throttles
// the page's network through the DevTools protocol (Network.emulateNetworkConditions) and expects
// hls.js to switch down, then lifts the throttle and expects it back on the top level, with no
// stall longer than one target duration.
// Usage: node abr_check.js URL
//   URL: a page that plays the master with hls.js (hlscam's /?engine=hlsjs), or a master .m3u8,
//        played by the built-in player page (harness.js) with hls.js.
// Procedure (each wait bounded; times in seconds, env):
//   1. unthrottled until hls.js has played ABR_PLAY_S (5) on the top level (the highest
//      BANDWIDTH; a fresh estimate may start lower and switch up), within ABR_WARM_S (30);
//   2. throttle to ABR_THROTTLE_X (1.5) x the lowest video variant's BANDWIDTH, or, when
//      ABR_THROTTLE_TOP is set, to that fraction of the top one's (down and up, ABR_LATENCY_MS
//      20 ms latency): hls.js must play a lower level within ABR_DOWN_S (25), and
//      play ABR_HOLD_S (8) on it, still below the top, its picture the level's height;
//   3. lift the throttle: hls.js must play the top level again within ABR_UP_S (25); then
//      ABR_AFTER_S (3) more of playback, the picture back at the top level's height.
//   Throughout: stalls, as the <video>'s waiting -> playing intervals and as the picture frozen
//   (wall time minus media time played, sampled every 100 ms), and hls.js BUFFER_STALLED_ERRORs.
//   Any stall from ABR_SETTLE_S (2) after the first 'playing' on that lasts longer than the
//   EXT-X-TARGETDURATION of the top variant's playlist fails the check, as does any fatal hls.js
//   error, page error or HTTP status >= 400.
// Env: HLSJS_CONFIG='{"abrEwmaDefaultEstimate":5000000}' merged over the page's hls.js config
//      (harness.js hookHls), CHROMIUM=/usr/bin/chromium, ABR_SHOT=path.png (a screenshot at the end).
// Prints one JSON line; exit 0 = pass, 1 = fail, 2 = harness error.
'use strict';
const { out, launch, playerPage, hookHls, parseMaster, targetDuration } = require('./harness');

const url = process.argv[2];
if (!url) out({ ok: false, errors: ['usage: abr_check.js URL (a page playing the master with hls.js, or a master .m3u8)'] }, 2);
const num = (k, d) => {
  const x = (process.env[k] || '') === '' ? d : Number(process.env[k]);
  if (!(x >= 0)) out({ ok: false, errors: [`bad ${k}=${process.env[k]}`] }, 2);
  return x;
};
const T = {
  warm: num('ABR_WARM_S', 30), play: num('ABR_PLAY_S', 5), down: num('ABR_DOWN_S', 25), hold: num('ABR_HOLD_S', 8),
  up: num('ABR_UP_S', 25), after: num('ABR_AFTER_S', 3), settle: num('ABR_SETTLE_S', 2),
};
const X = num('ABR_THROTTLE_X', 1.5);
const TOP_X = num('ABR_THROTTLE_TOP', null);
// ABR_BASE_TOP: instead of no throttle at all, a good link of that many times the top variant's
// BANDWIDTH before the throttle and after lifting it (loopback otherwise gives hls.js a
// bandwidth estimate of ~50-90 Mbit/s, which then takes many samples to fall).
const BASE_X = num('ABR_BASE_TOP', null);
const LATENCY_MS = num('ABR_LATENCY_MS', 20);
let hlsConfig;
try { hlsConfig = JSON.parse(process.env.HLSJS_CONFIG || '{}'); } catch (e) { out({ ok: false, errors: ['HLSJS_CONFIG: ' + e.message] }, 2); }
let isPlaylist;
try { isPlaylist = /\.m3u8?$/i.test(new URL(url).pathname); } catch (e) { out({ ok: false, errors: ['bad URL: ' + url] }, 2); }

// In-page recorder, window.__abr (times: performance.now() ms since navigation).
const INSTRUMENT = () => {
  const A = (window.__abr = {
    manifest: null, levels: null, switches: [], loading: [], errors: [], bufferStalled: [], waits: [], freezes: [],
    sizes: [], firstPlayAt: null, ctAtPlay: null, openWait: null, frozenSince: null,
  });
  const now = () => performance.now();
  window.__onHls = (hls, Hls) => {
    window.__abrHls = hls;
    const E = Hls.Events;
    hls.on(E.MANIFEST_PARSED, (e, d) => {
      A.manifest = hls.url;
      A.levels = d.levels.map((l) => ({ bitrate: l.bitrate, width: l.width, height: l.height, url: l.uri }));
    });
    hls.on(E.LEVEL_SWITCHING, (e, d) => A.loading.push({ at: now(), level: d.level }));
    hls.on(E.LEVEL_SWITCHED, (e, d) => A.switches.push({ at: now(), level: d.level }));
    hls.on(E.ERROR, (e, d) => {
      if (d.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) A.bufferStalled.push(now());
      else A.errors.push({ at: now(), what: d.type + '/' + d.details, fatal: !!d.fatal });
    });
  };
  // Media events do not bubble; capture them on the document for whatever <video> the page has.
  document.addEventListener('playing', (e) => {
    const t = now();
    if (A.firstPlayAt === null) { A.firstPlayAt = t; A.ctAtPlay = e.target.currentTime; }
    if (A.openWait) { A.waits.push({ at: A.openWait, dur: t - A.openWait }); A.openWait = null; }
  }, true);
  document.addEventListener('waiting', () => { if (A.openWait === null) A.openWait = now(); }, true);
  // Frozen picture: between two samples where currentTime moved, the wall time not covered by
  // the media time played (at the playback rate) is lost; more than 150 ms lost is a freeze.
  // A late timer does not count (the media time moved on meanwhile).
  let anchor = null, prev = null;
  setInterval(() => {
    const v = document.querySelector('video');
    if (!v) return;
    const s = { t: now(), ct: v.currentTime, rate: v.playbackRate || 1 };
    const last = A.sizes[A.sizes.length - 1];
    if (v.videoHeight && (!last || last.h !== v.videoHeight || last.w !== v.videoWidth)) A.sizes.push({ at: s.t, w: v.videoWidth, h: v.videoHeight });
    if (A.firstPlayAt === null || v.paused || v.ended) { anchor = prev = s; A.frozenSince = null; return; }
    if (s.ct !== prev.ct) {
      const lost = (s.t - anchor.t) / 1000 - Math.max(0, s.ct - anchor.ct) / s.rate;
      if (A.frozenSince !== null && lost > 0.15) A.freezes.push({ at: anchor.t, dur: lost * 1000 });
      anchor = s;
      A.frozenSince = null;
    } else if (s.t - anchor.t > 150) {
      A.frozenSince = anchor.t;
    }
    prev = s;
  }, 100);
};

const SNAPSHOT = () => {
  const A = window.__abr, hls = window.__abrHls, v = document.querySelector('video');
  return {
    now: performance.now(), engine: hls ? 'hls.js ' + (window.Hls && window.Hls.version) : null,
    manifest: A.manifest ? new URL(A.manifest, location.href).href : null, levels: A.levels,
    level: hls ? hls.currentLevel : null, loadLevel: hls ? hls.loadLevel : null,
    bw: hls ? Math.round(hls.bandwidthEstimate) : null,
    ct: v ? v.currentTime : null, played: v && A.ctAtPlay !== null ? v.currentTime - A.ctAtPlay : 0,
    width: v ? v.videoWidth : 0, height: v ? v.videoHeight : 0, firstPlayAt: A.firstPlayAt,
    switches: A.switches, loading: A.loading, errors: A.errors, bufferStalled: A.bufferStalled,
    waits: A.waits, freezes: A.freezes, sizes: A.sizes, openWait: A.openWait, frozenSince: A.frozenSince,
    // The page's own error list (hlscam's page: fatal only; the built-in page also lists
    // hls.js's non-fatal errors, which are in `errors` above).
    pageErrors: (((window.hlscam || window.__pc || {}).errors) || []).filter((e) => !/\(non-fatal\)$/.test(e)),
  };
};

const r = { ok: false, url, verdict: null, checks: [], errors: [], warnings: [] };
const check = (name, cond, detail) => {
  r.checks.push({ name, ok: !!cond, detail });
  if (!cond) throw new Error('check failed: ' + name + ' ' + JSON.stringify(detail));
};
const sec = (ms) => (ms == null ? null : Math.round(ms) / 1000);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

(async () => {
  const bound = (T.warm + T.down + T.hold + 5 + T.up + T.after + 60) * 1000;
  const hard = setTimeout(() => out({ ...r, errors: [...r.errors, `timed out after ${bound / 1000} s`] }, 2), bound);
  const browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 960, height: 540 } });
  const page = await ctx.newPage();
  const httpErrors = [];
  page.on('pageerror', (e) => r.errors.push('pageerror: ' + e.message));
  page.on('response', (res) => { if (res.status() >= 400 && !/favicon/.test(res.url())) httpErrors.push(res.status() + ' ' + res.url()); });
  await page.route('**/favicon.ico', (route) => route.fulfill({ status: 204, body: '' }));
  await page.addInitScript(INSTRUMENT);
  await hookHls(page, hlsConfig);
  const harnessErrors = [];
  const target = isPlaylist ? await playerPage(page, url, 'hlsjs', '{}', harnessErrors) : url;
  if (harnessErrors.length) out({ ...r, errors: harnessErrors }, 2);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  const net = (down) => cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: down < 0 ? 0 : LATENCY_MS, downloadThroughput: down, uploadThroughput: down,
  });

  let s = null;
  // hls.js's bandwidth estimate and level, one point a second: [t_s, bits/s, level].
  const trace = (r.bw_trace = []);
  const snap = async () => {
    s = await page.evaluate(SNAPSHOT);
    const last = trace[trace.length - 1];
    if (!last || s.now / 1000 - last[0] >= 1) trace.push([sec(s.now), s.bw, s.level]);
    return s;
  };
  const fatal = () => s && s.errors.some((e) => e.fatal);
  // Polls until pred(snapshot) or ms elapse (or a fatal hls.js error); returns pred's last value.
  const waitFor = async (pred, ms) => {
    const end = Date.now() + ms;
    for (;;) {
      await snap();
      if (pred(s)) return true;
      if (fatal() || Date.now() >= end) return false;
      await sleep(250);
    }
  };
  const lv = (i) => (s && s.levels && s.levels[i]) || null;
  const bitrate = (i) => (lv(i) ? lv(i).bitrate : null);
  let top = null;
  const phases = (r.phases = {});
  try {
    const nav = await page.goto(target, { waitUntil: 'domcontentloaded', timeout: 15000 }).then(() => null, (e) => e.message.split('\n')[0]);
    check('the page loads', nav === null, nav);
    // hls.js has the master: read it (and the top variant's playlist) independently.
    check('hls.js loads the master', await waitFor((x) => x.levels && x.levels.length, 15000), { engine: s.engine, errors: s.errors });
    r.engine = s.engine;
    r.master_url = s.manifest;
    const masterRes = await fetch(s.manifest);
    const master = parseMaster(await masterRes.text(), s.manifest);
    const video = master.filter((x) => x.video);
    r.master = master.map((x) => ({ bandwidth: x.bandwidth, average: x.averageBandwidth, width: x.width, height: x.height, codecs: x.codecs, url: x.url }));
    r.levels = s.levels.map((l, i) => ({ index: i, bitrate: l.bitrate, width: l.width, height: l.height }));
    check('hls.js levels are the master\'s video variants',
      JSON.stringify(s.levels.map((l) => l.bitrate).sort()) === JSON.stringify(video.map((x) => x.bandwidth).sort()),
      { levels: r.levels.map((l) => l.bitrate), video: video.map((x) => x.bandwidth) });
    check('two or more video variants', video.length >= 2, video.length);
    top = s.levels.reduce((b, l, i) => (l.bitrate > s.levels[b].bitrate ? i : b), 0);
    const lowest = Math.min(...video.map((x) => x.bandwidth));
    const throttleBps = Math.round(TOP_X === null ? X * lowest : TOP_X * bitrate(top));
    r.top_level = top;
    r.throttle = { bits_per_s: throttleBps, bytes_per_s: Math.round(throttleBps / 8), latency_ms: LATENCY_MS,
      ...(TOP_X === null ? { x_lowest: X } : { x_top: TOP_X }) };
    check('throttle between the lowest and the top variant', throttleBps > lowest && throttleBps < bitrate(top),
      { throttleBps, lowest, top: bitrate(top) });
    const baseBps = BASE_X === null ? null : Math.round(BASE_X * bitrate(top));
    r.base = baseBps === null ? 'unthrottled' : { bits_per_s: baseBps, x_top: BASE_X };
    if (baseBps !== null) await net(Math.round(baseBps / 8));
    const topUrl = video.find((x) => x.bandwidth === bitrate(top)).url;
    const td = targetDuration(await (await fetch(topUrl)).text());
    r.target_duration_s = td;
    check('top variant has EXT-X-TARGETDURATION', td > 0, { topUrl, td });

    // 1. Unthrottled: play on the top level.
    const warmed = await waitFor((x) => x.played >= T.play && x.level === top, T.warm * 1000);
    phases.first_play_s = sec(s.firstPlayAt);
    phases.top_s = sec((s.switches.filter((w) => w.level === top).pop() || {}).at);
    check(`plays ${T.play} s on the top level within ${T.warm} s`, warmed, { level: s.level, played: s.played, bw: s.bw, switches: s.switches.length });

    // 2. Throttled: down within T.down, then T.hold of playback below the top.
    await net(Math.round(throttleBps / 8));
    await snap();
    const throttledAt = s.now;
    phases.throttled_s = sec(throttledAt);
    r.bw_at_throttle = s.bw;
    const down = await waitFor((x) => x.level >= 0 && bitrate(x.level) < bitrate(top), T.down * 1000);
    const sw = s.switches.find((w) => w.at >= throttledAt && bitrate(w.level) < bitrate(top));
    r.switch_down_s = sw ? sec(sw.at - throttledAt) : null;
    phases.down_s = sw ? sec(sw.at) : null;
    check(`switches down within ${T.down} s of the throttle`, down && sw, { level: s.level, bw: s.bw, loadLevel: s.loadLevel });
    const heldFrom = s.played;
    const held = await waitFor((x) => x.played - heldFrom >= T.hold, (T.hold + 5) * 1000);
    r.held = { level: s.level, bitrate: bitrate(s.level), played_s: sec((s.played - heldFrom) * 1000), bw: s.bw, height: s.height };
    check(`plays ${T.hold} s while throttled`, held, r.held);
    check('stays below the top while throttled', bitrate(s.level) < bitrate(top), r.held);
    check('the picture is the lower level\'s', !lv(s.level).height || s.height === lv(s.level).height, r.held);

    // 3. Lifted: back to the top within T.up, then T.after more.
    await net(baseBps === null ? -1 : Math.round(baseBps / 8));
    await snap();
    const liftedAt = s.now;
    phases.lifted_s = sec(liftedAt);
    r.bw_at_lift = s.bw;
    const up = await waitFor((x) => x.level === top, T.up * 1000);
    const su = s.switches.find((w) => w.at >= liftedAt && w.level === top);
    r.switch_up_s = su ? sec(su.at - liftedAt) : null;
    phases.up_s = su ? sec(su.at) : null;
    check(`switches back to the top within ${T.up} s of lifting`, up && su, { level: s.level, bw: s.bw, loadLevel: s.loadLevel });
    await sleep(T.after * 1000);
    await snap();
    phases.end_s = sec(s.now);
    r.final = { level: s.level, height: s.height, bw: s.bw, played_s: sec(s.played * 1000) };
    check('ends on the top level, its picture', s.level === top && (!lv(top).height || s.height === lv(top).height), r.final);
    r.ok = true;
  } catch (e) {
    if (!/^check failed/.test(e.message)) r.errors.push(e.message);
  }
  // Stalls over the whole run (also after a failed check): counted from the settle time on.
  if (s) {
    const from = s.firstPlayAt === null ? Infinity : s.firstPlayAt + T.settle * 1000;
    const stalls = [
      ...s.waits.map((w) => ({ at: w.at, dur: w.dur, source: 'waiting' })),
      ...s.freezes.map((w) => ({ at: w.at, dur: w.dur, source: 'frozen' })),
    ];
    if (s.openWait !== null) stalls.push({ at: s.openWait, dur: s.now - s.openWait, source: 'waiting (open)' });
    if (s.frozenSince !== null) stalls.push({ at: s.frozenSince, dur: s.now - s.frozenSince, source: 'frozen (open)' });
    stalls.sort((a, b) => a.at - b.at);
    r.stalls = stalls.map((x) => ({ at_s: sec(x.at), dur_s: sec(x.dur), source: x.source, counted: x.at >= from }));
    r.buffer_stalled_errors_s = s.bufferStalled.map(sec);
    const counted = stalls.filter((x) => x.at >= from);
    r.max_stall_s = counted.length ? sec(Math.max(...counted.map((x) => x.dur))) : 0;
    const name = `no stall longer than one target duration (${r.target_duration_s} s)`;
    if (r.target_duration_s > 0) {
      const ok = r.max_stall_s <= r.target_duration_s;
      r.checks.push({ name, ok, detail: r.max_stall_s });
      if (!ok) r.ok = false;
    }
    const lvl = (i) => (r.levels && r.levels[i] ? r.levels[i] : {});
    r.switches = s.switches.map((w) => ({ at_s: sec(w.at), level: w.level, bitrate: lvl(w.level).bitrate, height: lvl(w.level).height }));
    r.load_switches = s.loading.map((w) => ({ at_s: sec(w.at), level: w.level }));
    r.picture_sizes = s.sizes.map((z) => ({ at_s: sec(z.at), size: z.w + 'x' + z.h }));
    r.hls_errors = s.errors.map((e) => ({ at_s: sec(e.at), what: e.what, fatal: e.fatal }));
    const fatalErrs = s.errors.filter((e) => e.fatal).map((e) => 'hls.js fatal ' + e.what);
    r.warnings.push(...s.errors.filter((e) => !e.fatal).map((e) => 'hls.js ' + e.what));
    r.errors.push(...fatalErrs, ...s.pageErrors, ...httpErrors);
    if (fatalErrs.length || s.pageErrors.length || httpErrors.length) r.ok = false;
    r.warnings = [...new Set(r.warnings)];
  }
  const failed = r.checks.find((c) => !c.ok);
  r.verdict = r.ok ? 'pass' : failed ? 'fail: ' + failed.name : 'fail: ' + (r.errors[0] || 'unknown');
  try {
    if (process.env.ABR_SHOT) await page.screenshot({ path: process.env.ABR_SHOT });
  } catch (e) { r.warnings.push('screenshot: ' + e.message.split('\n')[0]); }
  clearTimeout(hard);
  await browser.close();
  out(r, r.ok ? 0 : r.checks.length ? 1 : 2);
})().catch((e) => out({ ...r, ok: false, errors: [...r.errors, 'harness: ' + (e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e)] }, 2));
