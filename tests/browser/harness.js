// Shared by the Node.js browser checks (vod_check.js, rec_check.js): the one-JSON-line report
// and Debian's headless Chromium through playwright-core (pinned in this directory).
'use strict';

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

module.exports = { out, launch };
