// The module's own web page (AT+WEBSERVER, core/cmd/web/index.html) in a real browser (headless
// Chromium, driven by playwright-core), against atota-sim: what a person does with a phone or a
// laptop on the module's Wi-Fi (esp-at-ota.md §4.5), checked on the module's AT port too.
//
// The page is opened as http://module.test:<port>/ (Chromium maps the name to 127.0.0.1): like a
// real module's http://192.168.4.1/ it is not a secure context, so crypto.subtle is missing and
// the page's own SHA-256 computes every Content-Digest.
//
// Environment: ATOTA (the CLI), ATOTA_SIM (the simulator), OUT (a scratch directory: flashes,
// images, screenshots webserver-phone.png, webserver-desktop.png, webserver-success.png, and
// webserver-failure.png on failure), CHROMIUM (default /usr/bin/chromium).
// Run by scripts/browser-test.sh BUILD webserver, which installs what it needs.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { STEP_MS, expectEqual, expectMatch, fail, launchChromium, runTest, watchPage } from './lib.mjs';

const ATOTA = process.env.ATOTA;
const SIM = process.env.ATOTA_SIM;
const OUT = process.env.OUT || fs.mkdtempSync(path.join(os.tmpdir(), 'atota-web-'));
const DEADLINE_MS = 150_000; // a hard limit; the test itself takes well under 90 s
const HOST = 'module.test';  // resolved to 127.0.0.1 by Chromium: an insecure origin
const OTA_SIZE = 0x180000;   // an ESP32-WROOM-32 OTA slot
const MQTT_CA_SIZE = 0x2000;
const UPLOAD_BYTES_PER_S = 2_000_000; // the 1.5 MB uploads: about 0.75 s each
const LAB_AP = 'Lab <b>2</b>';   // an SSID that must be shown as text, not as HTML
const LAB_PASS = 'lab-pass-2';
const PARTITIONS = ['ota', 'mfg_nvs', 'mqtt_ca', 'factory_param', 'fs_storage'];
const AT_CUSTOMIZE = `# Name, Type, SubType, Offset, Size
mfg_nvs, data, nvs, 0x21000, 112K
mqtt_ca, 0x40, 27, 0x3D000, 8K
factory_param, 0x40, 255, 0x3F000, 4K
fs_storage, data, 0xff, 0x70000, 576K
`;

const T0 = Date.now();
function step(msg) {
  console.log(`browser: [${((Date.now() - T0) / 1000).toFixed(1).padStart(4)} s] ${msg}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();

// ---- files, made with the CLI as a user makes them ---------------------------------------------

function atota(...args) {
  try {
    return execFileSync(ATOTA, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    fail(`atota ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

function makeFiles(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const f = (name) => path.join(dir, name);
  const image = (name, version, chip, payloadBytes, ...extra) => {
    const args = ['image', 'create', '--chip', chip, '--version', version, '--project', 'esp-at',
      '--idf-ver', 'v5.4.1', '-o', f(name), ...extra];
    if (payloadBytes) {
      const p = f(`${name}.payload`);
      fs.writeFileSync(p, crypto.randomBytes(payloadBytes));
      args.push('--payload', p);
    }
    atota(...args);
    return f(name);
  };
  const files = {
    v1: image('v1.bin', 'v1.0.0.0', 'esp32', 0),
    v2: image('v2.bin', 'v2.0.0.0', 'esp32', 150_000),
    big: image('v2-big.bin', 'v2.0.0.0', 'esp32', 1_500_000),
    c3: image('v2-c3.bin', 'v2.0.0.0', 'esp32c3', 20_000),
    pw: image('v1-pw.bin', 'v1.0.0.0', 'esp32', 0, '--config', 'web_password=s3cret-pw'),
    csv: f('at_customize.csv'),
  };
  if (fs.statSync(files.big).size > OTA_SIZE) fail(`${files.big} does not fit an OTA slot`);
  fs.writeFileSync(files.csv, AT_CUSTOMIZE);
  // v2 with one byte of its first segment changed: E9, the right chip, a wrong checksum.
  const bad = fs.readFileSync(files.v2);
  bad[1000] ^= 0x5a;
  files.badsum = f('v2-badsum.bin');
  fs.writeFileSync(files.badsum, bad);
  // A certificate for mqtt_ca: F1 F1, then text.
  files.mqttCa = f('mqtt_ca.bin');
  fs.writeFileSync(files.mqttCa, Buffer.concat([Buffer.from([0xf1, 0xf1]),
    Buffer.from(crypto.randomBytes(1200).toString('base64'))]));
  return files;
}

function makeFlash(file, app, csv) {
  fs.rmSync(file, { force: true });
  atota('flash', 'create', '--module', 'esp32-wroom-32', '--app', app, '--at-customize', csv, '-o', file);
}

// ---- the simulator and its AT port ---------------------------------------------------------------

// Starts atota-sim on FLASH with its AT port on TCP; resolves once it printed the port.
async function startSim(name, flash, extra = []) {
  const proc = spawn(SIM, ['--flash', flash, '--tcp', '127.0.0.1:0', '--log', path.join(OUT, `${name}.log`),
    ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const sim = { proc, name, lines: [], err: [] };
  let pending = '';
  proc.stdout.on('data', (c) => {
    pending += c.toString();
    const parts = pending.split('\n');
    pending = parts.pop();
    sim.lines.push(...parts);
  });
  proc.stderr.on('data', (c) => sim.err.push(c.toString()));
  proc.on('error', (e) => sim.err.push(`cannot start ${SIM}: ${e.message}`));
  const m = await waitSimLine(sim, /^atota-sim: AT port on tcp:127\.0\.0\.1:(\d+)$/, 0, 20_000);
  sim.at = await AtPort.open(Number(m[1]));
  return sim;
}

async function waitSimLine(sim, re, from, ms) {
  const end = Date.now() + ms;
  for (;;) {
    for (let i = from; i < sim.lines.length; i++) {
      const m = re.exec(sim.lines[i]);
      if (m) return m;
    }
    if (sim.proc.exitCode !== null || sim.proc.signalCode !== null) {
      fail(`atota-sim ${sim.name} exited (${sim.proc.exitCode ?? sim.proc.signalCode}): ${sim.err.join('')}`);
    }
    if (Date.now() > end) fail(`atota-sim ${sim.name}: no line matching ${re} in ${ms} ms:\n${sim.lines.join('\n')}`);
    await sleep(20);
  }
}

// Stops the simulator with SIGNAL. After SIGTERM it must exit 0 (AddressSanitizer's and
// LeakSanitizer's findings make it exit otherwise), unless `quiet` (cleaning up after a failure).
async function stopSim(sim, signal = 'SIGTERM', quiet = false) {
  if (!sim) return;
  if (sim.at) sim.at.close();
  if (sim.proc.exitCode === null && sim.proc.signalCode === null) {
    const exited = new Promise((resolve) => sim.proc.once('exit', resolve));
    sim.proc.kill(signal);
    const timer = setTimeout(() => sim.proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  if (signal === 'SIGTERM' && !quiet && sim.proc.exitCode !== 0) {
    fail(`atota-sim ${sim.name} exited ${sim.proc.exitCode ?? sim.proc.signalCode} after SIGTERM:\n${sim.err.join('')}`);
  }
}

// One connection to the AT port for the simulator's whole life: +WEBSERVERRSP lines arrive while
// the browser talks to the module, and atota-sim drops output when no client is connected. The
// bytes are kept as latin1 text, one character a byte.
class AtPort {
  static open(port) {
    return new Promise((resolve, reject) => {
      const at = new AtPort();
      at.sock = net.connect(port, '127.0.0.1', () => resolve(at));
      at.sock.setEncoding('latin1');
      at.sock.on('data', (d) => { at.buf += d; });
      at.sock.on('error', (e) => { at.closed = e.message; reject(e); });
      at.sock.on('close', () => { at.closed = at.closed || 'closed'; });
    });
  }
  constructor() {
    this.buf = '';
    this.at = 0;
    this.closed = null;
  }
  mark() {
    this.at = this.buf.length;
  }
  since() {
    return this.buf.slice(this.at);
  }
  async wait(re, ms = 10_000, what = '') {
    const end = Date.now() + ms;
    while (!re.test(this.since())) {
      if (Date.now() > end) fail(`AT port${what ? ` (${what})` : ''}: nothing matching ${re} in ${ms} ms; got ${JSON.stringify(this.since())}`);
      await sleep(10);
    }
  }
  // Sends CMD; resolves with what came after it up to its OK. ERROR or a timeout fails.
  async cmd(line, ms = 10_000) {
    this.mark();
    this.sock.write(`${line}\r\n`);
    await this.wait(/(^|\n)(OK|ERROR)\r\n/, ms, line);
    const out = this.since();
    if (!/(^|\n)OK\r\n/.test(out)) fail(`${line}: ${JSON.stringify(out)}`);
    return out;
  }
  async version() {
    const m = /Bin version:([^\r\n(]*)/.exec(await this.cmd('AT+GMR'));
    if (!m) fail('AT+GMR: no "Bin version:" line');
    return m[1];
  }
  async restart() {
    await this.cmd('AT+RST');
    await this.wait(/\r\nready\r\n/, 10_000, 'AT+RST');
  }
  // AT+WEBSERVER=1,80,25; resolves with where atota-sim says the server listens.
  async webOn(sim) {
    const from = sim.lines.length;
    await this.cmd('AT+WEBSERVER=1,80,25');
    const m = await waitSimLine(sim, /^atota-sim: web server for port 80 on http:\/\/127\.0\.0\.1:(\d+)\/$/, from, 5_000);
    return Number(m[1]);
  }
  close() {
    this.sock.destroy();
  }
}

// ---- the page ------------------------------------------------------------------------------------

function watch(page, ctx) {
  // Refused uploads (401, 500) and a module gone mid-upload show as failed loads: expected.
  watchPage(page, ctx.problems, (m) => /^Failed to load resource/.test(m.text()));
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/setotadata') ctx.uploads.push({ headers: r.headers(), at: Date.now() });
  });
}

async function openPage(page, port) {
  const res = await page.goto(`http://${HOST}:${port}/`);
  expectEqual('GET / status', res.status(), 200);
  await page.locator('#status').filter({ hasText: 'Connected to the module.' }).waitFor();
}

const text = async (page, sel) => (await page.locator(sel).textContent()).trim();

// Picks FILE ({name, buffer}) for PARTITION and presses Upload.
async function chooseAndUpload(page, partition, file, password) {
  await page.selectOption('#partition', partition);
  await page.setInputFiles('#file', { name: file.name, mimeType: 'application/octet-stream', buffer: file.buffer });
  if (password !== undefined) await page.fill('#password', password);
  await page.click('#upload');
}

// Records every value #progress takes from now on (progressSeen reads them, checked to only grow).
async function watchProgress(page) {
  await page.evaluate(() => {
    const bar = document.getElementById('progress');
    window.progressSeen = [];
    new MutationObserver(() => window.progressSeen.push(Number(bar.getAttribute('aria-valuenow'))))
      .observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
  });
}
async function progressSeen(page) {
  const seen = (await page.evaluate(() => window.progressSeen)).filter((v, k, a) => !k || v !== a[k - 1]);
  // 0 when Upload is pressed, then only upwards
  const after = seen.slice(seen.lastIndexOf(0));
  if (after.some((v, k) => k && v < after[k - 1])) fail(`the progress went back: ${seen}`);
  if (after.at(-1) !== 100) fail(`the progress ended at ${after.at(-1)}, not 100: ${seen}`);
  return after;
}

async function resultOf(page, state, ms = STEP_MS) {
  await page.locator(`#result[data-state="${state}"]`).waitFor({ timeout: ms });
  return text(page, '#result');
}

// ---- the test ------------------------------------------------------------------------------------

async function run(ctx) {
  if (!ATOTA) fail('ATOTA is not set (the atota CLI)');
  if (!SIM) fail('ATOTA_SIM is not set (atota-sim)');
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT)) if (/^webserver-.*\.png$/.test(f)) fs.rmSync(path.join(OUT, f));
  const files = makeFiles(path.join(OUT, 'files'));
  const read = (p, name = path.basename(p)) => ({ name, buffer: fs.readFileSync(p) });
  const flash = path.join(OUT, 'module.flash');
  makeFlash(flash, files.v1, files.csv);
  step('v1, v2 (and broken variants) and the flash made with the CLI');

  ctx.sim = await startSim('module', flash, ['--ap', 'atota:atota-pass', '--ap', `${LAB_AP}:${LAB_PASS}`]);
  const at = ctx.sim.at;
  await at.cmd('AT+CWMODE=3');
  expectEqual('the running version', await at.version(), 'v1.0.0.0');
  let port = await at.webOn(ctx.sim);
  step(`atota-sim's web server on 127.0.0.1:${port}`);

  ctx.browser = await launchChromium([`--host-resolver-rules=MAP ${HOST} 127.0.0.1`]);

  // A phone: the page as a person sees it first.
  const phone = await ctx.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
    isMobile: true, hasTouch: true });
  let page = await phone.newPage();
  ctx.page = page;
  watch(page, ctx);
  await openPage(page, port);
  expectEqual('#fw-version', await text(page, '#fw-version'), 'v1.0.0.0');
  expectEqual('#core-version', await text(page, '#core-version'), '1.0.0.0');
  expectEqual('#chip', await text(page, '#chip'), 'ESP32');
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select')]
    .filter((e) => !e.labels || !e.labels.length).map((e) => e.id));
  expectEqual('form controls without a label', unlabelled.join(','), '');
  expectEqual('#partitions', await text(page, '#partitions'), PARTITIONS.join(', '));
  const options = await page.locator('#partition option').evaluateAll((os) => os.map((o) => o.value));
  expectEqual('the partitions offered', options.join(','), PARTITIONS.join(','));
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) fail(`the page is ${width} px wide on a 390 px phone`);
  const box = await page.locator('#upload').boundingBox();
  if (box.height < 44) fail(`the Upload button is ${box.height} px high: too small to touch`);
  await page.screenshot({ path: path.join(OUT, 'webserver-phone.png'), fullPage: true });
  await phone.close();
  step('phone: versions and partitions shown, webserver-phone.png');

  const desktop = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await desktop.newPage();
  ctx.page = page;
  watch(page, ctx);
  await openPage(page, port);
  await page.screenshot({ path: path.join(OUT, 'webserver-desktop.png'), fullPage: true });
  expectEqual('isSecureContext on http://module.test', await page.evaluate(() => window.isSecureContext), false);
  expectEqual('crypto.subtle on http://module.test', await page.evaluate(() => typeof crypto.subtle), 'undefined');

  // The page's own SHA-256 against known answers, the block-padding edges and 1 MB.
  const vectors = await page.evaluate(() => {
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const bytes = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    const out = { empty: hex(window.atotaSha256(new Uint8Array(0))),
      abc: hex(window.atotaSha256(new TextEncoder().encode('abc'))) };
    for (const n of [55, 56, 63, 64, 65, 119, 1_000_000]) out[n] = hex(window.atotaSha256(bytes(n)));
    return out;
  });
  expectEqual('SHA-256("")', vectors.empty, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  expectEqual('SHA-256("abc")', vectors.abc, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  for (const n of [55, 56, 63, 64, 65, 119, 1_000_000]) {
    const buf = Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255));
    expectEqual(`SHA-256 of ${n} bytes`, vectors[n], sha256(buf).toString('hex'));
  }
  step('desktop: webserver-desktop.png; the page\'s SHA-256 matches on 9 vectors (1 MB included)');

  // A second tab gives the module a wrong Wi-Fi password: that fails only at the
  // <connection_timeout> (21 s, the least: AT+WEBSERVER=1 on a running server only sets it), so
  // it runs while the uploads below go on in the first tab.
  await at.cmd('AT+WEBSERVER=1,80,21');
  const wifiPage = await desktop.newPage();
  watch(wifiPage, ctx);
  await openPage(wifiPage, port);
  await wifiPage.fill('#wifi-ssid', 'atota');
  await wifiPage.fill('#wifi-password', 'not-the-password');
  await wifiPage.click('#wifi-connect');
  await wifiPage.locator('#wifi-result[data-state="info"]').waitFor();
  const wrongWifiSince = Date.now();
  await wifiPage.evaluate(() => new MutationObserver((_, o) => {
    if (document.getElementById('wifi-result').dataset.state === 'error') {
      window.wifiFailedAt = Date.now();
      o.disconnect();
    }
  }).observe(document.getElementById('wifi-result'), { attributes: true }));
  await page.bringToFront(); // a background tab gets no animation frames: actions there crawl

  // ---- refused by the page: a message, and nothing sent ------------------------------------------
  const v2 = read(files.v2);
  const oversize = { name: 'too-big.bin', buffer: Buffer.concat([v2.buffer, Buffer.alloc(OTA_SIZE + 1 - v2.buffer.length)]) };
  const refusals = [
    ['ota', { name: 'notes.txt', buffer: v2.buffer }, /must end in \.bin or \.packed/],
    ['ota', oversize, /too large for partition ota/],
    ['mqtt_ca', { name: 'ca.bin', buffer: Buffer.alloc(MQTT_CA_SIZE + 1, 0xf1) }, /too large for partition mqtt_ca/],
    ['mqtt_ca', { name: 'ca.bin', buffer: Buffer.from('-----BEGIN CERTIFICATE-----\n') }, /bytes F1F1 at offset 0, it has 2D2D/],
    ['ota', { name: 'app.bin', buffer: Buffer.from('not an app image') }, /bytes E9 at offset 0, it has 6E/],
    ['ota', { name: 'app.bin', buffer: Buffer.alloc(0) }, /is empty/],
    ['ota', read(files.c3), /Wrong chip: "v2-c3\.bin" is built for ESP32-C3 \(chip id 5\), this module is ESP32 \(chip id 0\)/],
  ];
  at.mark();
  for (const [partition, file, want] of refusals) {
    await chooseAndUpload(page, partition, file);
    const msg = await resultOf(page, 'error');
    expectMatch(`the page's answer to ${file.name} for ${partition}`, msg, want);
    expectMatch(`the page's answer to ${file.name} for ${partition}`, msg, /Nothing was sent\.$/);
  }
  await sleep(300);
  expectEqual('uploads sent for files the page refused', ctx.uploads.length, 0);
  if (/\+WEBSERVERRSP:[345]/.test(at.since())) fail(`the AT port printed ${JSON.stringify(at.since())} for refused files`);
  step(`${refusals.length} files refused by the page, none sent`);

  // ---- refused by the module: a broken checksum ------------------------------------------------------
  at.mark();
  await chooseAndUpload(page, 'ota', read(files.badsum));
  expectMatch('a broken checksum', await resultOf(page, 'error'), /module refused the file \(HTTP 500/);
  await at.wait(/\+WEBSERVERRSP:3\r\n(.|\r|\n)*\+WEBSERVERRSP:5\r\n/, 5_000, 'a broken checksum');
  expectEqual('uploads sent', ctx.uploads.length, 1);
  expectEqual('the running version after a refused upload', await at.version(), 'v1.0.0.0');
  step('a broken checksum: HTTP 500 shown, +WEBSERVERRSP:3 then :5');

  // ---- mqtt_ca, read back with AT+SYSFLASH ---------------------------------------------------------
  const ca = read(files.mqttCa);
  at.mark();
  await chooseAndUpload(page, 'mqtt_ca', ca);
  expectMatch('mqtt_ca', await resultOf(page, 'ok'), /partition mqtt_ca now holds mqtt_ca\.bin/);
  await at.wait(/\+WEBSERVERRSP:3\r\n(.|\r|\n)*\+WEBSERVERRSP:4\r\n/, 5_000, 'mqtt_ca');
  const digest = `sha-256=:${sha256(ca.buffer).toString('base64')}:`;
  expectEqual('the Content-Digest the page sent for mqtt_ca', ctx.uploads.at(-1).headers['content-digest'], digest);
  expectEqual('the Object the page sent', ctx.uploads.at(-1).headers.object, 'mqtt_ca');
  const back = await at.cmd(`AT+SYSFLASH=2,"mqtt_ca",0,${ca.buffer.length}`);
  const head = `+SYSFLASH:${ca.buffer.length},`;
  const i = back.indexOf(head);
  if (i < 0) fail(`AT+SYSFLASH=2: ${JSON.stringify(back.slice(0, 200))}`);
  const got = Buffer.from(back.slice(i + head.length, i + head.length + ca.buffer.length), 'latin1');
  if (!got.equals(ca.buffer)) fail('mqtt_ca read back with AT+SYSFLASH differs from the file uploaded');
  step('mqtt_ca uploaded and read back byte for byte');

  // ---- the app: v2, progress to 100 % (AT+RST comes later: the Wi-Fi tab's timeout runs) ----------
  await watchProgress(page);
  at.mark();
  await chooseAndUpload(page, 'ota', v2);
  const ok = await resultOf(page, 'ok', 30_000);
  expectMatch('v2', ok, /Upload complete.*after the host sends AT\+RST/);
  expectEqual('#progress-text', await text(page, '#progress-text'), '100%');
  expectEqual('#progress aria-valuenow', await page.getAttribute('#progress', 'aria-valuenow'), '100');
  const seen = await progressSeen(page);
  expectEqual('the Content-Digest the page sent for v2', ctx.uploads.at(-1).headers['content-digest'],
    `sha-256=:${sha256(v2.buffer).toString('base64')}:`);
  await page.screenshot({ path: path.join(OUT, 'webserver-success.png'), fullPage: true });
  await at.wait(/\+WEBSERVERRSP:3\r\n(.|\r|\n)*\+WEBSERVERRSP:4\r\n/, 5_000, 'v2');
  expectEqual('the running version before AT+RST', await at.version(), 'v1.0.0.0');
  step(`v2 uploaded (progress ${seen.join(' ')}), webserver-success.png; still v1 before AT+RST`);

  // While the first module waits for its Wi-Fi timeout, two more run, each on its own flash.
  // ---- a firmware that asks for an upload password ---------------------------------------------------
  const pwFlash = path.join(OUT, 'password.flash');
  makeFlash(pwFlash, files.pw, files.csv);
  ctx.other = await startSim('password', pwFlash);
  await ctx.other.at.cmd('AT+CWMODE=3');
  await openPage(page, await ctx.other.at.webOn(ctx.other));
  if (await page.locator('#password').isHidden()) fail('no password field for a firmware with web_password');
  await chooseAndUpload(page, 'ota', v2, 'wrong-pw');
  expectMatch('a wrong upload password', await resultOf(page, 'error'), /wrong password/);
  // The right one, with the 1.5 MB image at Wi-Fi-like speed (Chromium's network throttling,
  // UPLOAD_BYTES_PER_S): the progress moves in steps, and how long the upload takes sets the
  // power cuts' points below.
  const cdp = await desktop.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1,
    uploadThroughput: UPLOAD_BYTES_PER_S });
  const big = read(files.big);
  await watchProgress(page);
  ctx.other.at.mark();
  await chooseAndUpload(page, 'ota', big, 's3cret-pw');
  await ctx.other.at.wait(/\+WEBSERVERRSP:3\r\n/, 20_000, 'the big upload');
  const began = Date.now();
  await ctx.other.at.wait(/\+WEBSERVERRSP:4\r\n/, 30_000, 'the big upload');
  const uploadMs = Date.now() - began;
  await resultOf(page, 'ok', 30_000);
  expectEqual('X-Upload-Password sent', ctx.uploads.at(-1).headers['x-upload-password'], 's3cret-pw');
  step(`upload password: a wrong one shows "wrong password", the right one uploads ${big.buffer.length} bytes ` +
    `in ${uploadMs} ms from +WEBSERVERRSP:3 to :4 (progress ${(await progressSeen(page)).join(' ')})`);
  await stopSim(ctx.other);
  ctx.other = null;

  // ---- power cuts during an upload ------------------------------------------------------------------
  // Cut as +WEBSERVERRSP:3 appears, then twice at a random point of the upload.
  const pcFlash = path.join(OUT, 'powercut.flash');
  const cuts = [0, 1, 2].map((k) => (k ? Math.round(uploadMs * (0.1 + 0.8 * Math.random())) : 0));
  for (const [n, delay] of cuts.entries()) {
    makeFlash(pcFlash, files.v1, files.csv);
    ctx.other = await startSim(`powercut${n + 1}`, pcFlash);
    await ctx.other.at.cmd('AT+CWMODE=3');
    await openPage(page, await ctx.other.at.webOn(ctx.other));
    ctx.other.at.mark();
    await chooseAndUpload(page, 'ota', big);
    await ctx.other.at.wait(/\+WEBSERVERRSP:3\r\n/, 20_000, 'the big upload');
    if (delay) await sleep(delay);
    const done = /\+WEBSERVERRSP:4\r\n/.test(ctx.other.at.since());
    await stopSim(ctx.other, 'SIGKILL');
    ctx.other = null;
    const sent = await page.getAttribute('#progress', 'aria-valuenow');
    const shown = await page.locator('#result[data-state="ok"], #result[data-state="error"]').first()
      .waitFor({ timeout: 20_000 }).then(() => text(page, '#result'));
    // Power on again: the module answers and runs v1, or v2 when the upload had completed.
    ctx.other = await startSim(`powercut${n + 1}b`, pcFlash);
    await ctx.other.at.cmd('AT');
    const version = await ctx.other.at.version();
    if (done && version !== 'v2.0.0.0') fail(`power cut after +WEBSERVERRSP:4: the module runs ${version}`);
    if (version !== 'v1.0.0.0' && version !== 'v2.0.0.0') fail(`power cut: the module runs ${version}`);
    if (version === 'v1.0.0.0' && /Upload complete/.test(shown)) fail(`the page said "${shown}" but v1 boots`);
    step(`power cut ${n + 1}: ${delay} ms after +WEBSERVERRSP:3${done ? ' (after :4)' : ''}, the page at ` +
      `${sent} %; it said "${shown.slice(0, 58)}…"; powered on: ${version}`);
    await stopSim(ctx.other);
    ctx.other = null;
  }
  await cdp.detach();

  // ---- back to the first module: the wrong Wi-Fi password, AT+RST, Wi-Fi through the page ----------
  await wifiPage.locator('#wifi-result[data-state="error"]').waitFor({ timeout: 35_000 });
  expectEqual('a wrong Wi-Fi password', await text(wifiPage, '#wifi-result'),
    'Connection failed (connect fail): check the network name and the password.');
  const failedAfter = await wifiPage.evaluate(() => window.wifiFailedAt) - wrongWifiSince;
  step(`Wi-Fi in a second tab: a wrong password failed after ${(failedAfter / 1000).toFixed(1)} s`);
  if (failedAfter < 20_000) fail(`a wrong Wi-Fi password failed after ${failedAfter} ms, before the 21 s timeout`);
  await wifiPage.close();
  await at.restart();
  expectEqual('the running version after AT+RST', await at.version(), 'v2.0.0.0');
  port = await at.webOn(ctx.sim);
  await openPage(page, port);
  expectEqual('#fw-version after AT+RST', await text(page, '#fw-version'), 'v2.0.0.0');
  await page.click('#wifi-scan');
  await page.locator('#wifi-networks option', { hasText: 'atota' }).first().waitFor({ state: 'attached' });
  const aps = await page.locator('#wifi-networks option').evaluateAll((os) => os.map((o) => o.value));
  if (!aps.includes(LAB_AP) || !aps.includes('atota')) fail(`the networks offered: ${JSON.stringify(aps)}`);
  expectEqual('elements made from an SSID', await page.locator('#wifi-networks b').count(), 0);
  await page.selectOption('#wifi-networks', LAB_AP);
  expectEqual('#wifi-ssid after choosing a network', await page.inputValue('#wifi-ssid'), LAB_AP);
  at.mark();
  await page.fill('#wifi-password', LAB_PASS);
  await page.click('#wifi-connect');
  await page.locator('#wifi-result[data-state="ok"]').waitFor({ timeout: 30_000 });
  expectEqual('#wifi-result', await text(page, '#wifi-result'), `The module is connected to ${LAB_AP}.`);
  await at.wait(/\+WEBSERVERRSP:1\r\n(.|\r|\n)*\+WEBSERVERRSP:2\r\n/, 5_000, '/getresult');
  expectMatch('AT+CWJAP?', await at.cmd('AT+CWJAP?'), /\+CWJAP:"Lab <b>2<\/b>",/);
  step('AT+RST -> v2; Wi-Fi: chosen from the scan, connected (+WEBSERVERRSP:1, :2, AT+CWJAP?)');
  await stopSim(ctx.sim);
  ctx.sim = null;

  if (ctx.problems.length) fail(`the page reported:\n  ${ctx.problems.join('\n  ')}`);
}

runTest({
  ctx: { problems: [], uploads: [] },
  name: 'webserver',
  flow: 'web page flow',
  out: OUT,
  deadlineMs: DEADLINE_MS,
  run,
  report: (ctx) => {
    for (const sim of [ctx.sim, ctx.other]) {
      if (!sim) continue;
      console.error(`browser: atota-sim ${sim.name} said:\n${sim.lines.slice(-20).join('\n')}\n${sim.err.join('')}`);
      console.error(`browser: its AT port, last bytes: ${JSON.stringify(sim.at ? sim.at.buf.slice(-600) : '')}`);
    }
  },
  kill: (ctx) => {
    for (const sim of [ctx.sim, ctx.other]) if (sim) sim.proc.kill('SIGKILL');
  },
  cleanup: async (ctx) => {
    await stopSim(ctx.sim, 'SIGTERM', true).catch(() => {});
    await stopSim(ctx.other, 'SIGTERM', true).catch(() => {});
  },
});
