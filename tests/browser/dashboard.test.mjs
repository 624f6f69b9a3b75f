// End-to-end test of the dashboard (`GET /`) in a real headless Chromium.
//
// Run it through `run.sh`, which starts the mock camera and the relay and sets the environment:
//   CAMRELAY_URL       base URL of a running relay (required), e.g. http://127.0.0.1:8080/
//   CAMRELAY_CAMERAS   camera names the relay serves, in order (default "cam1,demo2")
//   DETECT_CAMERA      the camera toggled to detect; must see real objects (default "cam1")
//   MOCK_CAMERA_PID    if set, the last test stops that process and expects "offline" frames
//   CHROMIUM           browser binary (default /usr/bin/chromium)
//   ARTIFACTS_DIR      where screenshots go (default tests/artifacts at the repository root)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const baseUrl = process.env.CAMRELAY_URL;
const cameras = (process.env.CAMRELAY_CAMERAS ?? 'cam1,demo2').split(',').filter(Boolean);
const detectCamera = process.env.DETECT_CAMERA ?? 'cam1';
const artifacts = process.env.ARTIFACTS_DIR ?? path.join(here, '..', 'artifacts');
const mockPid = process.env.MOCK_CAMERA_PID ? Number(process.env.MOCK_CAMERA_PID) : null;

const TEST_TIMEOUT_MS = 60_000;
const SAMPLES = 20;
const MIN_SAME_FRAME_SAMPLES = 18; // "within one frame" in almost all samples
const PHONE_WIDTH = 390; // CSS pixels, an iPhone 12-15

const tileSelector = (name) => `.tile[data-camera="${name}"]`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The frame id on screen in the camera's tile, or null before the first frame. */
async function frameId(page, name) {
  return page.evaluate((sel) => {
    const id = document.querySelector(sel)?.dataset.frameId;
    return id === undefined ? null : Number(id);
  }, tileSelector(name));
}

/** Waits until the camera's tile has painted a frame, and returns its id. */
async function waitForFrame(page, name, timeout = 20_000) {
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.frameId !== undefined,
    tileSelector(name), { timeout });
  return frameId(page, name);
}

/** Opens the dashboard in a new page and collects the page's errors. */
async function openDashboard(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  page.on('console', (msg) => { if (msg.type() === 'error') page.errors.push(msg.text()); });
  await page.goto(baseUrl, { waitUntil: 'load' });
  return page;
}

describe('camrelay dashboard', { timeout: 5 * TEST_TIMEOUT_MS }, () => {
  let browser;
  let context;
  let page;

  before(async () => {
    assert.ok(baseUrl, 'CAMRELAY_URL must point at a running relay (use tests/browser/run.sh)');
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close();
  });

  test('the page loads with one tile per camera and the stats panel', { timeout: TEST_TIMEOUT_MS }, async () => {
    page = await openDashboard(context);
    assert.equal(await page.title(), 'camrelay');
    for (const name of cameras) {
      await page.waitForSelector(tileSelector(name), { timeout: 10_000 });
    }
    const order = await page.$$eval('.tile', (tiles) => tiles.map((t) => t.dataset.camera));
    assert.deepEqual(order, cameras);
    await page.waitForFunction((n) => document.getElementById('stat-broadcasters').textContent === String(n),
      cameras.length, { timeout: 5_000 });
    assert.match(await page.textContent('#relay-status'), /online/);
    // The stats poll fills each tile's viewer count and upstream state.
    for (const name of cameras) {
      await page.waitForFunction((sel) => /\d/.test(document.querySelector(`${sel} .viewers`).textContent),
        tileSelector(name), { timeout: 5_000 });
    }
  });

  test('tiles update live from the WebSocket', { timeout: TEST_TIMEOUT_MS }, async () => {
    const first = {};
    for (const name of cameras) first[name] = await waitForFrame(page, name);
    await sleep(1_500);
    for (const name of cameras) {
      const later = await frameId(page, name);
      assert.ok(later > first[name], `${name}: frame id ${first[name]} -> ${later} after 1.5 s`);
      const fps = Number(await page.textContent(`${tileSelector(name)} .fps`));
      assert.ok(fps > 0, `${name}: fps ${fps}`);
      // The canvas holds a real picture: its size comes from the JPEG and its pixels vary.
      const picture = await page.$eval(`${tileSelector(name)} canvas`, (canvas) => {
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let min = 255;
        let max = 0;
        for (let i = 0; i < data.length; i += 4 * 97) {
          min = Math.min(min, data[i + 1]);
          max = Math.max(max, data[i + 1]);
        }
        return { width: canvas.width, height: canvas.height, range: max - min };
      });
      assert.ok(picture.width > 0 && picture.height > 0, `${name}: canvas ${JSON.stringify(picture)}`);
      assert.ok(picture.range > 10, `${name}: canvas looks blank ${JSON.stringify(picture)}`);
    }
  });

  test('two tabs show the same frame id within one frame', { timeout: TEST_TIMEOUT_MS }, async () => {
    const second = await openDashboard(context);
    try {
      for (const name of cameras) await waitForFrame(second, name);
      await sleep(500); // both tabs past their first, possibly late, frame
      for (const name of cameras) {
        const diffs = [];
        for (let i = 0; i < SAMPLES; i += 1) {
          const [a, b] = await Promise.all([frameId(page, name), frameId(second, name)]);
          diffs.push(a - b);
          await sleep(50);
        }
        const close = diffs.filter((d) => Math.abs(d) <= 1).length;
        console.log(`# ${name}: frame id differences between the tabs: ${diffs.join(' ')}`);
        assert.ok(close >= MIN_SAME_FRAME_SAMPLES,
          `${name}: only ${close}/${SAMPLES} samples within one frame: ${diffs.join(' ')}`);
      }
      assert.deepEqual(second.errors, [], 'errors in the second tab');
    } finally {
      await second.close();
    }
  });

  test('toggling to detect shows the detections', { timeout: TEST_TIMEOUT_MS }, async () => {
    const tile = tileSelector(detectCamera);
    await page.click(`${tile} button[data-stream="detect"]`);
    await page.waitForSelector(`${tile}[data-stream="detect"]`, { timeout: 2_000 });
    assert.equal(await page.getAttribute(`${tile} button[data-stream="detect"]`, 'aria-pressed'), 'true');
    // A detect frame on screen, with at least one detection listed ("person 0.93").
    await page.waitForFunction((name) => {
      const f = window.__camrelay.frames[name];
      return f && f.stream === 'detect' && f.painted !== null && f.detections && f.detections.length > 0;
    }, detectCamera, { timeout: 30_000 });
    const count = Number(await page.getAttribute(tile, 'data-detections'));
    assert.ok(count > 0, `data-detections = ${count}`);
    const labels = await page.$$eval(`${tile} .detections li:not(.none)`, (items) => items.map((li) => li.textContent));
    assert.ok(labels.length > 0 && labels.every((l) => /^.+ [01]\.\d\d$/.test(l)), `labels: ${labels}`);
    const detections = await page.evaluate((name) => window.__camrelay.frames[name].detections, detectCamera);
    for (const d of detections) {
      assert.ok(d.bbox.x2 > d.bbox.x1 && d.bbox.y2 > d.bbox.y1, `box ${JSON.stringify(d.bbox)}`);
    }
    // The other tiles stay raw, and the detect tile keeps updating.
    for (const name of cameras.filter((n) => n !== detectCamera)) {
      assert.equal(await page.getAttribute(tileSelector(name), 'data-stream'), 'raw');
    }
    const before = await frameId(page, detectCamera);
    await sleep(1_000);
    assert.ok((await frameId(page, detectCamera)) > before, 'detect tile stopped updating');
    await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  });

  test('works on a phone: one column, no sideways scrolling', { timeout: TEST_TIMEOUT_MS }, async () => {
    const phone = await browser.newContext({
      viewport: { width: PHONE_WIDTH, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    });
    try {
      const small = await openDashboard(phone);
      for (const name of cameras) await waitForFrame(small, name);
      const layout = await small.evaluate(() => ({
        lefts: [...document.querySelectorAll('.tile')].map((t) => Math.round(t.getBoundingClientRect().left)),
        widths: [...document.querySelectorAll('.tile')].map((t) => t.getBoundingClientRect().width),
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      assert.equal(new Set(layout.lefts).size, 1, `tiles side by side: ${JSON.stringify(layout)}`);
      // A mobile browser widens the layout viewport to fit wide content, so compare with the device.
      assert.ok(layout.innerWidth <= PHONE_WIDTH && layout.scrollWidth <= PHONE_WIDTH,
        `wider than the phone: ${JSON.stringify(layout)}`);
      assert.ok(layout.widths.every((w) => w > PHONE_WIDTH * 0.85), `narrow tiles: ${JSON.stringify(layout)}`);
      await small.screenshot({ path: path.join(artifacts, 'dashboard-phone.png') });
      assert.deepEqual(small.errors, [], 'errors on the phone page');
    } finally {
      await phone.close();
    }
  });

  test('a dropped WebSocket reconnects and the tile resumes', { timeout: TEST_TIMEOUT_MS }, async () => {
    const name = cameras[0];
    const tile = tileSelector(name);
    const isolated = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      // Playwright sits between the page and the relay on this camera's sockets and forwards
      // everything; closing its page side looks to the page as if the relay dropped the socket
      // (and the closure is forwarded to the relay).
      const sockets = [];
      await isolated.routeWebSocket((url) => url.pathname.endsWith(`/cams/${name}/ws`), (ws) => {
        ws.connectToServer();
        sockets.push(ws);
      });
      const tab = await openDashboard(isolated);
      await waitForFrame(tab, name);
      const connections = sockets.length;
      const before = await frameId(tab, name);
      // The page records the retry badge as it shows: it is up only for the backoff (~0.5 s)
      // until the next frame, which on a busy machine is less than two round trips of the test
      // to the browser (waiting for it to be visible from here then misses it).
      await tab.evaluate((sel) => {
        const badge = document.querySelector(`${sel} .badge.conn`);
        window.__connBadgeShown = null;
        new MutationObserver(() => {
          if (!badge.hidden && window.__connBadgeShown === null) window.__connBadgeShown = badge.textContent;
        }).observe(badge, { attributes: true, childList: true, characterData: true, subtree: true });
      }, tile);
      for (const ws of sockets) await ws.close({ code: 1011, reason: 'test drops the socket' });
      await tab.waitForFunction(() => window.__connBadgeShown !== null, null, { timeout: 5_000 });
      assert.match(await tab.evaluate(() => window.__connBadgeShown), /retrying in \d/);
      await tab.waitForFunction(([sel, id]) => {
        const el = document.querySelector(sel);
        return Number(el.dataset.frameId) > id && el.querySelector('.badge.conn').hidden;
      }, [tile, before], { timeout: 15_000 });
      assert.ok(sockets.length > connections, `no new connection (${sockets.length} sockets)`);
      assert.deepEqual(tab.errors.filter((e) => !/WebSocket/.test(e)), [], 'errors in the page');
    } finally {
      await isolated.close();
    }
  });

  test('a camera that goes away shows "offline — reconnecting" on raw and detect tiles', {
    timeout: TEST_TIMEOUT_MS,
    skip: mockPid ? false : 'MOCK_CAMERA_PID not set',
  }, async () => {
    const name = cameras[0];
    const tile = tileSelector(name);
    // Runs in the page: the tile shows a frame of that stream.
    const showing = ([n, stream]) => {
      const f = window.__camrelay.frames[n];
      return f && f.stream === stream && f.painted !== null;
    };
    // This tab goes back to raw (the toggle works both ways); a second tab watches detect.
    await page.click(`${tile} button[data-stream="raw"]`);
    await page.waitForFunction(showing, [name, 'raw'], { timeout: 10_000 });
    assert.equal(await page.getAttribute(tile, 'data-detections'), null, 'raw tile with data-detections');
    const detectTab = await openDashboard(context);
    try {
      await detectTab.click(`${tile} button[data-stream="detect"]`);
      await detectTab.waitForFunction(showing, [name, 'detect'], { timeout: 30_000 });
      for (const p of [page, detectTab]) {
        assert.equal(await p.isVisible(`${tile} .badge.offline`), false, 'offline before the camera stopped');
      }
      process.kill(mockPid, 'SIGTERM');
      for (const p of [page, detectTab]) {
        await p.waitForSelector(`${tile} .badge.offline`, { state: 'visible', timeout: 30_000 });
        // Placeholder frames keep coming while the relay reconnects.
        const before = await frameId(p, name);
        await p.waitForFunction(([sel, id]) => Number(document.querySelector(sel).dataset.frameId) > id,
          [tile, before], { timeout: 10_000 });
      }
      await page.waitForFunction((sel) => !/streaming/.test(document.querySelector(`${sel} .upstream`).textContent),
        tile, { timeout: 10_000 });
      await page.screenshot({ path: path.join(artifacts, 'dashboard-offline.png'), fullPage: true });
      for (const p of [page, detectTab]) {
        assert.deepEqual(p.errors.filter((e) => !/WebSocket/.test(e)), [], 'errors in the page');
      }
    } finally {
      await detectTab.close();
    }
  });
});
