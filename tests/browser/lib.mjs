// What the browser tests share (console.spec.mjs, webserver.spec.mjs): the checks that fail with
// what was expected and what came, Debian's Chromium started headless, a page watched for script
// and console errors, and the main that runs a test under a hard deadline, saves a screenshot of
// the page and the programs' last words on failure, and always closes the browser.
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const STEP_MS = 15_000; // one browser action or expectation

export function fail(msg) {
  throw new Error(msg);
}

export function expectEqual(what, got, want) {
  if (got !== want) fail(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

export function expectMatch(what, got, re) {
  if (!re.test(got)) fail(`${what}: expected ${re}, got ${JSON.stringify(got)}`);
}

// Headless Chromium from CHROMIUM (never a downloaded browser), with these extra command-line
// arguments.
export function launchChromium(args) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, ...(args ? { args } : {}) });
}

// Every action on page waits STEP_MS at the most; its script errors, and its console errors that
// `expected(message)` does not accept, go into problems (the test fails on any).
export function watchPage(page, problems, expected) {
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected(m)) problems.push(`console: ${m.text()}`);
  });
}

// Runs `run(ctx)` and exits: 0 when it resolved, 1 when it threw or took more than deadlineMs.
// On failure: the error, a screenshot of ctx.page in OUT/<name>-failure.png and `report(ctx)`
// (what the programs under test said). Past the deadline: `kill(ctx)` (the programs, at once).
// Always: ctx.browser closed and `cleanup(ctx)` (the programs stopped) before the exit.
// flow names the test in the line that says how long it took.
export async function runTest({ ctx, name, flow, out, deadlineMs, run, report, kill, cleanup }) {
  const started = Date.now();
  const deadline = setTimeout(() => {
    console.error(`browser: FAIL: the test took more than ${deadlineMs / 1000} s`);
    kill(ctx);
    process.exit(1);
  }, deadlineMs);
  let ok = false;
  try {
    await run(ctx);
    ok = true;
  } catch (e) {
    console.error(`browser: FAIL: ${e.stack || e.message}`);
    if (ctx.page) {
      const shot = path.join(out, `${name}-failure.png`);
      try {
        await ctx.page.screenshot({ path: shot, fullPage: true });
        console.error(`browser: screenshot in ${shot}`);
      } catch (se) {
        console.error(`browser: no screenshot: ${se.message}`);
      }
    }
    report(ctx);
  } finally {
    if (ctx.browser) await ctx.browser.close().catch(() => {});
    await cleanup(ctx);
    clearTimeout(deadline);
  }
  console.log(`browser: ${flow} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(ok ? 'browser: 1 passed, 0 failed' : 'browser: 0 passed, 1 failed');
  process.exit(ok ? 0 : 1);
}
