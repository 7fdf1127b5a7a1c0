#!/usr/bin/env node
// The player page's Recordings view in headless Chromium against a real hlscam that has
// recorded two spans with a gap between them (tests/record_page.rs starts it):
//  * the timeline draws one bar per span and per gap of GET /api/recordings, at the positions
//    the API's times give, at 24 h and again after zooming in to 1 h with the mouse wheel;
//  * a tap on the timeline plays from the tapped time: the picture's wall clock (from
//    PROGRAM-DATE-TIME) starts within one segment of it, and advances (hls.js, then natively);
//  * a tap into the middle of the second span lands within one segment; +10 s moves ~10 s;
//  * In/Out marks → the Download link gives an MP4 (Playwright download: size > 0, an `ftyp`
//    box first, named hlscam-<UTC>-<N>s.mp4) that Chromium plays for the marked length;
//    Keep locks the chunk (the API then says locked).
// Usage: node rec_check.js BASE_URL SEGMENT_SECONDS     (BASE_URL = http://127.0.0.1:PORT)
// Env:   CHROMIUM=/usr/bin/chromium
// Prints one JSON line; exit 0 = every check passed, 1 = one failed, 2 = harness error.
'use strict';
const fs = require('fs');
const { out, launch } = require('./harness');

const base = process.argv[2];
const SEG = Number(process.argv[3]);
if (!base || !(SEG > 0)) out({ ok: false, errors: ['usage: rec_check.js BASE_URL SEGMENT_SECONDS'] }, 2);

const r = { ok: false, checks: [], errors: [] };
function check(name, cond, detail) {
  r.checks.push({ name, ok: !!cond, detail });
  if (!cond) throw new Error('check failed: ' + name + ' ' + JSON.stringify(detail));
}
const api = async (path) => {
  const res = await fetch(base + path);
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
};
const iso = (ms) => new Date(ms).toISOString();

async function waitFor(page, fn, arg, ms, what) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: ms, polling: 100 });
  } catch (e) {
    throw new Error('timed out waiting for ' + what);
  }
}

// The drawn bars against the answer the page loaded, and that answer against the API's now:
// the same spans and gaps, a growing span's end at most 10 s (the page reloads every 10 s)
// plus a segment behind.
async function checkTimeline(page, label) {
  const { view, seen, drawn } = await page.evaluate(() => {
    const f = (c) => [...document.querySelectorAll('#tl .' + c)].map((e) => ({
      left: parseFloat(e.style.left), width: parseFloat(e.style.width || '0'),
    }));
    const R = hlscam.rec;
    return {
      view: { from: R.from, w: R.w },
      seen: { spans: R.spans, gaps: R.gaps },
      drawn: { sp: f('sp'), gp: f('gp'), ed: f('ed').length },
    };
  });
  const j = await api(`/api/recordings?from=${iso(view.from)}&to=${iso(view.from + view.w)}`);
  const pos = (s, e) => {
    const a = Math.max(Date.parse(s), view.from), b = Math.min(Date.parse(e), view.from + view.w);
    return { left: (a - view.from) / view.w * 100, width: (b - a) / view.w * 100 };
  };
  const near = (d, x) => d && Math.abs(d.left - x.left) < 0.01 && Math.abs(d.width - x.width) < 0.01;
  check(label + ': spans drawn', drawn.sp.length === j.spans.length && j.spans.length >= 2,
    { drawn: drawn.sp.length, api: j.spans.length });
  check(label + ': gaps drawn', drawn.gp.length === j.gaps.length && j.gaps.length >= 1,
    { drawn: drawn.gp.length, api: j.gaps.length });
  check(label + ': span positions', seen.spans.every((s, i) => near(drawn.sp[i], pos(s.start, s.end))),
    { drawn: drawn.sp, seen: seen.spans.map((s) => pos(s.start, s.end)) });
  check(label + ': gap positions', seen.gaps.every((g, i) => near(drawn.gp[i], pos(g.start, g.end))),
    { drawn: drawn.gp, seen: seen.gaps.map((g) => pos(g.start, g.end)) });
  const behind = (a, b) => Date.parse(b.end) - Date.parse(a.end);
  check(label + ': the loaded spans are the API\'s', seen.spans.length === j.spans.length &&
    seen.spans.every((s, i) => s.id === j.spans[i].id && s.start === j.spans[i].start &&
      (j.spans[i].growing ? behind(s, j.spans[i]) >= 0 && behind(s, j.spans[i]) <= (10 + SEG) * 1000
        : s.end === j.spans[i].end)) &&
    JSON.stringify(seen.gaps) === JSON.stringify(j.gaps), { seen, api: { spans: j.spans, gaps: j.gaps } });
  check(label + ': live edge drawn', drawn.ed === 1, drawn);
  return { view, j };
}

// Clicks the timeline at wall-clock time t (ms); returns the time the page took from the tap.
async function tap(page, t) {
  const box = await page.locator('#tl').boundingBox();
  const view = await page.evaluate(() => ({ from: hlscam.rec.from, w: hlscam.rec.w }));
  const x = box.x + (t - view.from) / view.w * box.width;
  await page.mouse.click(x, box.y + box.height / 2);
  return page.evaluate(() => hlscam.rec.at);
}

// Waits until the picture's wall clock is known and has advanced by `adv` s of playback.
async function playing(page, adv, what) {
  await waitFor(page, () => hlscam.rec.pic > 0 && !document.getElementById('v').paused, null, 15000, what + ' picture');
  const first = await page.evaluate(() => ({ pic: hlscam.rec.pic, t: document.getElementById('v').currentTime }));
  await waitFor(page, (a) => document.getElementById('v').currentTime >= a.t + a.adv, { t: first.t, adv }, 15000, what + ' advance');
  const last = await page.evaluate(() => ({ pic: hlscam.rec.pic, t: document.getElementById('v').currentTime }));
  return { first, last };
}

async function run(browser, engine) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const errs = [];
  page.on('pageerror', (e) => errs.push('pageerror: ' + e.message));
  // HTTP errors by URL (the browser's own /favicon.ico probe aside) instead of the console's
  // "Failed to load resource" line that names none.
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errs.push('console: ' + m.text()); });
  page.on('response', (res) => { if (res.status() >= 400 && !res.url().endsWith('/favicon.ico')) errs.push(res.status() + ' ' + res.url()); });
  await page.goto(`${base}/?engine=${engine}#rec`);
  await waitFor(page, () => hlscam.rec.loaded && hlscam.rec.spans.length >= 2, null, 10000, 'timeline data');
  const e = { engine };
  r[engine] = e;
  const t24 = await checkTimeline(page, engine + ' 24 h');
  check(engine + ' 24 h window', t24.view.w === 24 * 3600e3, t24.view);

  // Zoom to 1 h with the wheel over the recording (the point under the pointer stays put).
  const [s1, s2] = t24.j.spans;
  const mid1 = (Date.parse(s1.start) + Date.parse(s1.end)) / 2;
  const box = await page.locator('#tl').boundingBox();
  await page.mouse.move(box.x + (mid1 - t24.view.from) / t24.view.w * box.width, box.y + box.height / 2);
  for (let i = 0; i < 16; i++) await page.mouse.wheel(0, -100);
  await waitFor(page, () => hlscam.rec.w === 3600e3, null, 5000, 'zoom to 1 h');
  const seq = await page.evaluate(() => hlscam.rec.loaded);
  await waitFor(page, (n) => hlscam.rec.loaded > n, seq, 5000, 'timeline reload');
  await checkTimeline(page, engine + ' 1 h');

  // Tap the middle of the first span: playback starts there within one segment.
  const at1 = await tap(page, mid1);
  check(engine + ' tap time', Math.abs(at1 - mid1) < 3600e3 / box.width + 1, { at1, mid1 });
  const p1 = await playing(page, 3, engine + ' tap 1');
  e.tap1 = { tapped: iso(at1), picture: iso(p1.first.pic), off_s: (p1.first.pic - at1) / 1000 };
  check(engine + ' tap lands within one segment', Math.abs(p1.first.pic - at1) <= SEG * 1000 + 500, e.tap1);
  check(engine + ' picture clock advances', p1.last.pic - p1.first.pic >= 2000 && p1.last.pic > p1.first.pic, p1);
  e.engine_shown = await page.evaluate(() => hlscam.engine);
  check(engine + ' engine', engine === 'native' ? e.engine_shown === 'native' : /^hls\.js/.test(e.engine_shown), e.engine_shown);

  if (engine === 'hlsjs') {
    // Clip of the part just played: In before, Out now.
    await page.evaluate((a) => { document.getElementById('min').click(); }, null);
    const inAt = await page.evaluate(() => hlscam.rec.pic);
    await page.waitForTimeout(2500);
    await page.click('#mout');
    const href = await page.getAttribute('#dl', 'href');
    e.clip = href;
    check('clip link', /^\/api\/clip\.mp4\?from=.+&to=.+/.test(href || ''), href);
    r.clip_href = href;
    await page.click('#keep');
    await waitFor(page, () => /kept/.test(document.getElementById('cl').textContent), null, 5000, 'keep');
    const after = await api(`/api/recordings?from=${iso(inAt)}&to=${iso(inAt + 1000)}`);
    check('keep locks', after.spans.length >= 1 && after.spans.every((s) => s.locked), after.spans);
  }

  // A tap into the middle of the second (growing) span lands within one segment.
  const mid2 = (Date.parse(s2.start) + Date.now()) / 2;
  const at2 = await tap(page, mid2);
  const p2 = await playing(page, 2, engine + ' tap 2');
  e.tap2 = { tapped: iso(at2), picture: iso(p2.first.pic), off_s: (p2.first.pic - at2) / 1000 };
  check(engine + ' seek into the middle lands within one segment', Math.abs(p2.first.pic - at2) <= SEG * 1000 + 500, e.tap2);
  // −10 s from there: the picture goes back ~10 s (within one segment).
  const before = await page.evaluate(() => hlscam.rec.pic);
  await page.click('#b10');
  await page.waitForTimeout(1500);
  const back = await page.evaluate(() => hlscam.rec.pic);
  e.back10_s = (before - back) / 1000;
  check(engine + ' -10 s', Math.abs(e.back10_s - 10 + 1.5) <= SEG + 1, e.back10_s);
  e.storage = await page.textContent('#sto');
  check(engine + ' storage panel', /^storage \w+: .* used/.test(e.storage), e.storage);
  e.page_errors = errs;
  check(engine + ' no page errors', errs.length === 0, errs);
  await page.screenshot({ path: `${__dirname}/rec_check_${engine}.png` });
  await ctx.close();
}

// The page's Download link (of the clip marked in the hls.js run) gives an MP4.
async function download(browser) {
  const ctx = await browser.newContext({ acceptDownloads: true });
  const page = await ctx.newPage();
  await page.goto(`${base}/#rec`);
  await page.evaluate((h) => { const a = document.getElementById('dl'); a.href = h; a.className = ''; }, r.clip_href);
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click('#dl')]);
  const file = await dl.path().catch(() => null);
  const bytes = file ? fs.readFileSync(file) : Buffer.alloc(0);
  r.clip = { href: r.clip_href, bytes: bytes.length, name: dl.suggestedFilename() };
  if (!file) r.clip.status = (await fetch(base + r.clip_href)).status;
  check('clip downloads an MP4', bytes.length > 0 && bytes.subarray(4, 8).toString('latin1') === 'ftyp',
    { ...r.clip, head: bytes.subarray(0, 8).toString('hex'), failure: await dl.failure() });
  check('clip file name', /^hlscam-\d{8}T\d{6}Z-\d+s\.mp4$/.test(r.clip.name), r.clip.name);
  // The browser plays the clip itself: as long as the marked range (its start snapped back
  // to a keyframe, at most one segment), and its picture advances.
  const q = new URL(base + r.clip_href).searchParams;
  const want = (Date.parse(q.get('to')) - Date.parse(q.get('from'))) / 1000;
  const played = await page.evaluate(async (src) => {
    const v = document.createElement('video');
    v.muted = true;
    document.body.appendChild(v);
    v.src = src;
    await v.play();
    const t0 = performance.now();
    while (v.currentTime < 1 && performance.now() - t0 < 10000) await new Promise((ok) => setTimeout(ok, 100));
    return { duration: v.duration, time: v.currentTime, w: v.videoWidth, error: v.error && v.error.message };
  }, base + r.clip_href);
  r.clip.played = played;
  check('clip plays in the browser', played.time >= 1 && played.w > 0 &&
    played.duration >= want - 0.1 && played.duration <= want + SEG + 0.1, { want, ...played });
  await ctx.close();
}

(async () => {
  const browser = await launch();
  try {
    await run(browser, 'hlsjs');
    await run(browser, 'native');
    await download(browser);
    r.ok = true;
  } catch (e) {
    r.errors.push(e.message);
  }
  await browser.close();
  out(r, r.ok ? 0 : 1);
})().catch((e) => out({ ok: false, errors: ['harness: ' + e.message] }, 2));
