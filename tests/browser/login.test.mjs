// The dashboard's login in a real headless Chromium, against a relay with access tokens.
//
// This file starts its own relay (two built-in demo cameras, no detector): a viewer token for
// every camera (from the environment, as an operator would keep it out of the process list)
// and one limited to the camera "garden" (from the config file). run.sh sets:
//   CAMRELAY_BIN   the relay binary (required)
//   CHROMIUM       browser binary (default /usr/bin/chromium)
//   ARTIFACTS_DIR  where the screenshots and the relay's log go (default tests/artifacts)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = process.env.ARTIFACTS_DIR ?? path.join(here, '..', 'artifacts');
const relayBin = process.env.CAMRELAY_BIN;

const TEST_TIMEOUT_MS = 60_000;
const CAMERAS = ['door', 'garden'];
const VIEWER = 'browser-viewer-0123456789abcdef';
const GARDEN_VIEWER = 'browser-garden-0123456789abcdef';
const COOKIE = 'camrelay_token';

const tileSelector = (name) => `.tile[data-camera="${name}"]`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the relay on a free port; resolves with its base URL once it says where it listens.
 * Its log goes to `${artifacts}/camrelay-login.log`.
 */
function startRelay(configFile) {
  const log = createWriteStream(path.join(artifacts, 'camrelay-login.log'));
  const env = { ...process.env, CAMRELAY_VIEWER_TOKEN: VIEWER, RUST_LOG: 'info' };
  for (const name of ['CAMRELAY_LISTEN', 'CAMRELAY_ADMIN_TOKEN', 'CAMRELAY_METRICS_TOKEN', 'CAMRELAY_MQTT']) {
    delete env[name];
  }
  const child = spawn(relayBin, [
    '--listen', '127.0.0.1:0', '--config', configFile, '--no-detect',
    ...CAMERAS.flatMap((name) => ['--camera', `${name}=demo`]),
  ], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`relay did not start within 60 s:\n${seen}`)), 60_000);
    child.stderr.on('data', (chunk) => {
      log.write(chunk);
      if (seen === null) return;
      seen += chunk.toString();
      const match = /camrelay listening on (http:\/\/\S+\/)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        seen = null;
        resolve({ child, url: match[1] });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (seen !== null) reject(new Error(`relay exited (${code}) before listening:\n${seen}`));
    });
  });
}

/** Collects the page's errors; a refused resource (401/403) is expected in some tests. */
function watchErrors(page) {
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  page.on('console', (msg) => { if (msg.type() === 'error') page.errors.push(msg.text()); });
  return page;
}

/** Waits until the camera's tile has painted frames and keeps painting. */
async function tilePlays(page, name) {
  const sel = tileSelector(name);
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.frameId !== undefined, sel,
    { timeout: 20_000 });
  const first = Number(await page.getAttribute(sel, 'data-frame-id'));
  await page.waitForFunction(([s, id]) => Number(document.querySelector(s).dataset.frameId) > id,
    [sel, first], { timeout: 10_000 });
}

/** Types `token` into the login form on `page` and submits it; returns the answer. */
async function logIn(page, token) {
  await page.fill('input[name="token"]', token);
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('button[type="submit"]'),
  ]);
  return response;
}

describe('dashboard login with access tokens', { timeout: 6 * TEST_TIMEOUT_MS }, () => {
  let relay;
  let baseUrl;
  let browser;
  let configDir;
  let context; // logged in with the viewer token

  before(async () => {
    assert.ok(relayBin, 'CAMRELAY_BIN must name the relay binary (use tests/browser/run.sh)');
    mkdirSync(artifacts, { recursive: true });
    configDir = mkdtempSync(path.join(os.tmpdir(), 'camrelay-login-'));
    const configFile = path.join(configDir, 'relay.toml');
    writeFileSync(configFile, [
      '[[auth.token]]',
      'name = "garden tablet"',
      `token = "${GARDEN_VIEWER}"`,
      'role = "viewer"',
      'cameras = ["garden"]',
      '',
    ].join('\n'));
    relay = await startRelay(configFile);
    baseUrl = relay.url;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    if (relay) {
      relay.child.kill('SIGTERM');
      await new Promise((resolve) => {
        if (relay.child.exitCode !== null) resolve();
        else relay.child.once('exit', resolve);
      });
    }
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  test('without a token the dashboard answers 401 with the login page', { timeout: TEST_TIMEOUT_MS }, async () => {
    const page = watchErrors(await context.newPage());
    try {
      const response = await page.goto(baseUrl, { waitUntil: 'load' });
      assert.equal(response.status(), 401);
      assert.equal(await page.title(), 'camrelay: log in');
      assert.equal(await page.locator('input[name="token"]').count(), 1);
      assert.equal(await page.locator('.tile').count(), 0, 'tiles without a login');
      // What the page would read answers 401 too, and says nothing about the cameras.
      const stats = await page.evaluate(async () => {
        const r = await fetch('api/stats');
        return { status: r.status, body: await r.text() };
      });
      assert.equal(stats.status, 401);
      for (const name of CAMERAS) assert.ok(!stats.body.includes(name), stats.body);
    } finally {
      await page.close();
    }
  });

  test('a wrong token is refused', { timeout: TEST_TIMEOUT_MS }, async () => {
    const page = watchErrors(await context.newPage());
    try {
      await page.goto(new URL('login', baseUrl).href, { waitUntil: 'load' });
      const response = await logIn(page, 'not-a-token-0123456789abcdef');
      assert.equal(response.status(), 401);
      assert.match(await page.textContent('.err'), /not valid/);
      assert.equal(await page.locator('input[name="token"]').count(), 1);
      const cookies = await context.cookies(baseUrl);
      assert.deepEqual(cookies.filter((c) => c.name === COOKIE), [], 'a cookie for a wrong token');
    } finally {
      await page.close();
    }
  });

  test('the viewer token logs in with a cookie, the tiles play and a logout button shows', { timeout: TEST_TIMEOUT_MS }, async () => {
    const page = watchErrors(await context.newPage());
    await page.goto(baseUrl, { waitUntil: 'load' });
    assert.equal(await page.title(), 'camrelay: log in');
    const response = await logIn(page, VIEWER);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(await page.title(), 'camrelay');
    const [cookie] = (await context.cookies(baseUrl)).filter((c) => c.name === COOKIE);
    assert.ok(cookie, 'no login cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie.includes('camrelay_token')), false,
      'the page script can read the token');
    for (const name of CAMERAS) await page.waitForSelector(tileSelector(name), { timeout: 10_000 });
    const order = await page.$$eval('.tile', (tiles) => tiles.map((t) => t.dataset.camera));
    assert.deepEqual(order, CAMERAS);
    for (const name of CAMERAS) await tilePlays(page, name);
    await page.waitForSelector('#logout button', { state: 'visible', timeout: 5_000 });
    assert.equal(await page.textContent('#login-role'), 'viewer');
    assert.match(await page.textContent('#relay-status'), /online/);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-login.png'), fullPage: true });
    // The login page came with status 401, which Chromium reports on the console.
    assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), [], 'errors in the page');
    await page.close();
  });

  test('a viewer token limited to one camera sees only that camera', { timeout: TEST_TIMEOUT_MS }, async () => {
    const garden = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = watchErrors(await garden.newPage());
      await page.goto(baseUrl, { waitUntil: 'load' });
      await logIn(page, GARDEN_VIEWER);
      assert.equal(await page.title(), 'camrelay');
      await page.waitForSelector(tileSelector('garden'), { timeout: 10_000 });
      await tilePlays(page, 'garden');
      // A few stats polls later there is still only the one tile.
      await page.waitForFunction(() => window.__camrelay.stats !== null, null, { timeout: 5_000 });
      await sleep(1_500);
      const order = await page.$$eval('.tile', (tiles) => tiles.map((t) => t.dataset.camera));
      assert.deepEqual(order, ['garden']);
      assert.equal(await page.textContent('#stat-broadcasters'), '1');
      // The other camera is refused, and answers like a camera that does not exist.
      const answers = await page.evaluate(async () => {
        const door = await fetch('cams/door/snapshot.jpg');
        const nosuch = await fetch('cams/nosuch/snapshot.jpg');
        return [door.status, await door.text(), nosuch.status, await nosuch.text()];
      });
      assert.equal(answers[0], 403);
      assert.deepEqual(answers.slice(0, 2), answers.slice(2), 'door and an unknown camera differ');
      await page.waitForSelector('#logout button', { state: 'visible', timeout: 5_000 });
      assert.equal(await page.getAttribute('#login-role', 'title'), 'token: garden tablet');
      await page.screenshot({ path: path.join(artifacts, 'dashboard-login-garden.png'), fullPage: true });
      assert.deepEqual(page.errors.filter((e) => !/status of 40[13]/.test(e)), [], 'errors in the page');
    } finally {
      await garden.close();
    }
  });

  test('logout clears the cookie, and the other tabs go back to the login page', { timeout: TEST_TIMEOUT_MS }, async () => {
    const page = watchErrors(await context.newPage());
    const other = watchErrors(await context.newPage());
    await page.goto(baseUrl, { waitUntil: 'load' });
    await other.goto(baseUrl, { waitUntil: 'load' });
    for (const p of [page, other]) {
      assert.equal(await p.title(), 'camrelay', 'still logged in');
      await p.waitForSelector('#logout button', { state: 'visible', timeout: 5_000 });
    }
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('#logout button'),
    ]);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(await page.locator('input[name="token"]').count(), 1);
    const cookies = await context.cookies(baseUrl);
    assert.deepEqual(cookies.filter((c) => c.name === COOKIE), [], 'the cookie is still there');
    // The dashboard is closed again...
    const response = await page.goto(baseUrl, { waitUntil: 'load' });
    assert.equal(response.status(), 401);
    assert.equal(await page.title(), 'camrelay: log in');
    // ...and the other tab's next stats poll gets 401 and reloads into the login page.
    await other.waitForSelector('input[name="token"]', { timeout: 10_000 });
    assert.equal(await other.title(), 'camrelay: log in');
    assert.equal(await other.locator('.tile').count(), 0);
    await page.close();
    await other.close();
  });
});
