// The web console in a real browser (headless Chromium, driven by playwright-core), against a
// real atota-server: the seed's whole flow, from signing in to a device downloading its files
// exactly as ESP-AT asks (esp-at-ota.md §3.4–3.6), and the console then showing that download.
//
// Environment: ATOTA_SERVER (the program), VECTORS (shared/vectors), OUT (a scratch directory:
// the server's data and, on failure, console-failure.png), CHROMIUM (default /usr/bin/chromium).
// Run by scripts/browser-test.sh, which installs what it needs.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expectEqual, fail, launchChromium, runTest, watchPage } from './lib.mjs';

const SERVER = process.env.ATOTA_SERVER;
const VECTORS = process.env.VECTORS;
const OUT = process.env.OUT || fs.mkdtempSync(path.join(os.tmpdir(), 'atota-browser-'));
const APP_IMAGE = 'app/esp32_idf3.3_esp-at-v2.0_esp-at.bin';
const DEADLINE_MS = 110_000; // the whole test, server start to shutdown: under 2 minutes

const PRODUCT = 'Smart plug';
const DEVICE = 'plug-0001';
const VERSION = 'v2.0.0.0';
const CORENAME = 'ESP32_AT';

function step(msg) {
  console.log(`browser: ${msg}`);
}

// ---- the server -------------------------------------------------------------------------------

function startServer(dataDir) {
  const proc = spawn(SERVER, ['--data', dataDir, '--http', '127.0.0.1:0', '--https', 'none'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  const port = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('atota-server did not say its port in 20 s')), 20_000);
    const onLine = (chunk) => {
      for (const line of chunk.toString().split('\n')) {
        if (line) log.push(line);
        const m = /http on 127\.0\.0\.1:(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      }
    };
    proc.stdout.on('data', onLine);
    proc.stderr.on('data', onLine);
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`atota-server exited (${code ?? sig}) before it listened`));
    });
    proc.on('error', (e) => reject(new Error(`cannot start ${SERVER}: ${e.message}`)));
  });
  return { proc, log, port };
}

async function stopServer(server) {
  if (!server || server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => server.proc.once('exit', resolve));
  server.proc.kill('SIGTERM');
  const timer = setTimeout(() => server.proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// The admin's first password: <data>/initial-admin-password, else what the server printed.
function adminPassword(dataDir, log) {
  const file = path.join(dataDir, 'initial-admin-password');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  for (const line of log) {
    const m = /password[^:]*:\s*(\S+)\s*$/i.exec(line);
    if (m) return m[1];
  }
  fail(`no ${file}, and atota-server printed no password:\n${log.join('\n')}`);
}

// ---- a device, exactly as ESP-AT asks ---------------------------------------------------------

// GET with Node's http module (no browser, no cookie): the answer's status, headers and bytes.
function get(port, pathAndQuery, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathAndQuery, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${pathAndQuery}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

async function deviceDownload(port, key, version, filename, want) {
  const q = `/v1/device/rom/?action=download_rom&version=${encodeURIComponent(version)}&filename=${filename}`;
  const res = await get(port, q, { Authorization: `token ${key}` });
  expectEqual(`GET ${q} status`, res.status, 200);
  expectEqual(`GET ${q} Content-Length`, Number(res.headers['content-length']), want.length);
  if (!res.body.equals(want)) {
    fail(`GET ${q}: ${res.body.length} bytes (sha256 ${sha256(res.body)}), expected the uploaded ` +
      `${want.length} bytes (sha256 ${sha256(want)})`);
  }
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

// ---- the test ---------------------------------------------------------------------------------

async function run(ctx) {
  if (!SERVER) fail('ATOTA_SERVER is not set (the atota-server program)');
  if (!VECTORS) fail('VECTORS is not set (shared/vectors)');
  const image = fs.readFileSync(path.join(VECTORS, APP_IMAGE));
  // A certificate partition's file: ESP-AT checks F1 F1 first (esp-at-ota.md §3.5).
  const pem = Buffer.from('-----BEGIN CERTIFICATE-----\nATOTA browser test\n-----END CERTIFICATE-----\n');
  const mqttCa = Buffer.concat([Buffer.from([0xf1, 0xf1, 0x01, 0x00]), pem, crypto.randomBytes(200)]);

  const dataDir = path.join(OUT, 'data');
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  ctx.server = startServer(dataDir);
  const port = await ctx.server.port;
  const base = `http://127.0.0.1:${port}`;
  const password = adminPassword(dataDir, ctx.server.log);
  step(`atota-server on ${base}`);

  ctx.browser = await launchChromium();
  const page = await ctx.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  ctx.page = page;
  const problems = []; // script errors and CSP violations: any is a failure
  // The API's refusals (a wrong password, a bad file) are expected and shown on the page;
  // Chromium still logs each as a failed load.
  watchPage(page, problems,
    (m) => /status of 4\d\d/.test(m.text()) && /\/api\/v1\//.test(m.location().url || ''));
  const byId = (id) => page.getByTestId(id);

  // The console's own headers.
  const res = await page.goto(base + '/');
  expectEqual('GET / status', res.status(), 200);
  const h = await res.allHeaders();
  if (!/^text\/html/.test(h['content-type'] || '')) fail(`GET / Content-Type: ${h['content-type']}`);
  if (!/default-src 'self'/.test(h['content-security-policy'] || '')) {
    fail(`GET / Content-Security-Policy: ${h['content-security-policy']}`);
  }
  expectEqual('GET / X-Content-Type-Options', h['x-content-type-options'], 'nosniff');
  expectEqual('GET / X-Frame-Options', h['x-frame-options'], 'DENY');
  expectEqual('GET / Cache-Control', h['cache-control'], 'no-cache');
  const js = await get(port, '/console/app.js', {});
  expectEqual('GET /console/app.js status', js.status, 200);
  if (!/^text\/javascript/.test(js.headers['content-type'] || '')) fail(`app.js Content-Type: ${js.headers['content-type']}`);
  expectEqual('GET /console/nothing.js status', (await get(port, '/console/nothing.js', {})).status, 404);
  step('console served with its headers');

  // A wrong password shows the server's reason; the right one signs in.
  await byId('signin-name').fill('admin');
  await byId('signin-password').fill('not-the-password');
  await byId('signin-submit').click();
  await byId('error').waitFor();
  const wrong = await byId('error-text').textContent();
  if (!/wrong name or password/.test(wrong)) fail(`a wrong password shows "${wrong}"`);
  await byId('signin-password').fill(password);
  await byId('signin-submit').click();
  await byId('account-name').filter({ hasText: 'admin' }).waitFor();
  step('signed in as admin');

  // A product and a device; the device's key is shown once created.
  await byId('product-create-name').fill(PRODUCT);
  await byId('product-create-submit').click();
  await byId('product-title').filter({ hasText: PRODUCT }).waitFor();
  await page.locator(`[data-testid=product-link][data-product-name="${PRODUCT}"]`).waitFor();
  await byId('device-create-name').fill(DEVICE);
  await byId('device-create-submit').click();
  await byId('new-device-key').filter({ hasText: /^[0-9a-f]{40}$/ }).waitFor();
  const key = (await byId('new-device-key').textContent()).trim();
  const deviceRow = page.locator(`[data-testid=device-row][data-device-name="${DEVICE}"]`);
  await deviceRow.waitFor();
  expectEqual('the new device\'s last download', (await deviceRow.getByTestId('device-last-download').textContent()).trim(), 'never');
  step(`device ${DEVICE} created, key ${key.slice(0, 8)}…`);

  // A version, its ota.bin (a real ESP-AT app image) and a certificate partition file.
  await byId('version-create-version').fill(VERSION);
  await byId('version-create-corename').fill(CORENAME);
  await byId('version-create-submit').click();
  const version = page.locator(`[data-testid=version][data-version="${VERSION}"]`);
  await version.waitFor();

  await version.getByTestId('file-input').setInputFiles(path.join(VECTORS, APP_IMAGE));
  expectEqual('the name offered for an app image', await version.getByTestId('file-name-input').inputValue(), 'ota.bin');
  await version.getByTestId('file-upload').click();
  const otaRow = version.locator('[data-testid=file-row][data-file="ota.bin"]');
  await otaRow.waitFor({ timeout: 30_000 });
  expectEqual('ota.bin chip', (await otaRow.getByTestId('file-chip').textContent()).trim(), 'esp32');
  expectEqual('ota.bin size', Number(await otaRow.getByTestId('file-size').getAttribute('data-bytes')), image.length);
  expectEqual('ota.bin sha256', (await otaRow.getByTestId('file-sha256').textContent()).trim(), sha256(image));
  const otaUrl = await otaRow.getByTestId('file-url').getAttribute('href');
  if (!otaUrl || !otaUrl.endsWith(`/fw/${sha256(image)}/ota.bin`)) fail(`ota.bin's URL: ${otaUrl}`);
  step(`ota.bin uploaded: ${await otaRow.getByTestId('file-app-version').textContent()}, ${otaUrl}`);

  // A partition file without its magic is refused, with the server's reason on the page.
  await version.getByTestId('file-input').setInputFiles({
    name: 'mqtt_ca.bin', mimeType: 'application/octet-stream', buffer: Buffer.from('not a certificate'),
  });
  await version.getByTestId('file-upload').click();
  await byId('error').waitFor();
  const refused = await byId('error-text').textContent();
  if (!/mqtt_ca\.bin/.test(refused) || refused.length < 30) fail(`a refused upload shows "${refused}"`);
  step(`a bad mqtt_ca.bin is refused: ${refused}`);

  await version.getByTestId('file-input').setInputFiles({
    name: 'mqtt_ca.bin', mimeType: 'application/octet-stream', buffer: mqttCa,
  });
  expectEqual('the name offered for mqtt_ca.bin', await version.getByTestId('file-name-input').inputValue(), 'mqtt_ca.bin');
  await version.getByTestId('file-upload').click();
  const caRow = version.locator('[data-testid=file-row][data-file="mqtt_ca.bin"]');
  await caRow.waitFor();
  expectEqual('mqtt_ca.bin sha256', (await caRow.getByTestId('file-sha256').textContent()).trim(), sha256(mqttCa));
  step('mqtt_ca.bin uploaded');

  // Hosting: the URL the console shows for AT+USEROTA gives the same bytes.
  const hosted = await get(port, new URL(otaUrl).pathname, {});
  expectEqual(`GET ${otaUrl} status`, hosted.status, 200);
  if (!hosted.body.equals(image)) fail(`GET ${otaUrl}: not the uploaded bytes`);

  // The version becomes the one devices are offered.
  await version.getByTestId('version-make-current').click();
  await version.getByTestId('version-current').waitFor();
  await byId('product-recommended').filter({ hasText: VERSION }).waitFor();
  step(`${VERSION} is current`);

  // The device asks, as ESP-AT's AT+CIUPDATE does, and downloads both files.
  const q = await get(port, '/v1/device/rom/?is_format_simple=true', { Authorization: `token ${key}` });
  expectEqual('GET /v1/device/rom/?is_format_simple=true status', q.status, 200);
  const answer = JSON.parse(q.body.toString());
  expectEqual('recommended_rom_version', answer.recommended_rom_version, VERSION);
  const unauth = await get(port, '/v1/device/rom/?is_format_simple=true', { Authorization: `token ${'0'.repeat(40)}` });
  expectEqual('a wrong device token', unauth.status, 401);
  await deviceDownload(port, key, VERSION, 'ota.bin', image);
  await deviceDownload(port, key, VERSION, 'mqtt_ca.bin', mqttCa);
  step('the device got ota.bin and mqtt_ca.bin byte for byte');

  // The console shows what the device did.
  await byId('devices-refresh').click();
  const lastDownload = deviceRow.getByTestId('device-last-download');
  await lastDownload.filter({ hasText: 'mqtt_ca.bin' }).waitFor();
  const dlText = (await lastDownload.textContent()).trim();
  if (!dlText.includes(VERSION)) fail(`last download shows "${dlText}", without ${VERSION}`);
  const lqText = (await deviceRow.getByTestId('device-last-query').textContent()).trim();
  if (!lqText.includes(VERSION)) fail(`last query shows "${lqText}", without ${VERSION}`);
  const seen = (await deviceRow.getByTestId('device-last-seen').textContent()).trim();
  if (seen === 'never') fail('last seen shows "never" after the device asked');
  step(`console shows: last query "${lqText}", last download "${dlText}"`);

  await page.screenshot({ path: path.join(OUT, 'console.png'), fullPage: true });

  // The first password is changed from the console; the server then forgets the file.
  const newPassword = crypto.randomBytes(12).toString('hex');
  await page.getByText('Change password', { exact: true }).first().click();
  await page.getByLabel('Current password').fill(password);
  await page.getByLabel('New password (at least 8 characters)').fill(newPassword);
  await byId('password-submit').click();
  await byId('notice').filter({ hasText: 'Password changed.' }).waitFor();
  if (fs.existsSync(path.join(dataDir, 'initial-admin-password'))) {
    fail('initial-admin-password is still there after the password was changed');
  }
  step('password changed');

  // Signing out ends the session: a reload shows the sign-in form again; the new password works.
  await byId('signout').click();
  await byId('signin-form').waitFor();
  await page.reload();
  await byId('signin-form').waitFor();
  if (await byId('account-name').isVisible()) fail('still signed in after signing out and a reload');
  await byId('signin-name').fill('admin');
  await byId('signin-password').fill(newPassword);
  await byId('signin-submit').click();
  await byId('account-name').filter({ hasText: 'admin' }).waitFor();
  await byId('signout').click();
  await byId('signin-form').waitFor();
  step('signed out, signed in with the new password, signed out');

  if (problems.length) fail(`the page reported:\n  ${problems.join('\n  ')}`);
}

runTest({
  ctx: {},
  name: 'console',
  flow: 'console flow',
  out: OUT,
  deadlineMs: DEADLINE_MS,
  run,
  report: (ctx) => {
    if (ctx.server) console.error(`browser: atota-server said:\n${ctx.server.log.slice(-40).join('\n')}`);
  },
  kill: (ctx) => {
    if (ctx.server) ctx.server.proc.kill('SIGKILL');
  },
  cleanup: (ctx) => stopServer(ctx.server).catch(() => {}),
});
