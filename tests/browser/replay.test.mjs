// End-to-end test of the dashboard's recordings timeline and replay (issue #17) in a real
// headless Chromium. Run it through `run.sh` (the relay records every camera with --record).
//   CAMRELAY_URL, CAMRELAY_CAMERAS, CHROMIUM, ARTIFACTS_DIR: as for dashboard.test.mjs.
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
const artifacts = process.env.ARTIFACTS_DIR ?? path.join(here, '..', 'artifacts');
const TEST_TIMEOUT_MS = 90_000;
const tileSelector = (name) => `.tile[data-camera="${name}"]`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function openDashboard(context, hash = '') {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  await page.goto(new URL(hash, baseUrl).href, { waitUntil: 'load' });
  return page;
}

/** The painted frame id of each camera's tile (null before a frame). */
async function paintedIds(page) {
  return page.evaluate((names) => names.map((n) => {
    const id = document.querySelector(`.tile[data-camera="${n}"]`)?.dataset.frameId;
    return id === undefined ? null : Number(id);
  }), cameras);
}

/** Waits until every camera's tile is in replay mode and has painted a frame. */
async function waitForReplayFrames(page) {
  await page.waitForFunction((names) => names.every((n) => {
    const tile = document.querySelector(`.tile[data-camera="${n}"]`);
    return tile?.dataset.mode === 'replay' && tile.dataset.frameId !== undefined;
  }), cameras, { timeout: 20_000 });
}

/** Waits until the replay is paused and both pages painted the same ids, stable for 300 ms. */
async function waitForSameStill(pages) {
  const deadline = Date.now() + 15_000;
  let last = null;
  while (Date.now() < deadline) {
    const all = await Promise.all(pages.map(paintedIds));
    const key = JSON.stringify(all);
    if (all.every((ids) => JSON.stringify(ids) === JSON.stringify(all[0])) && key === last) return all[0];
    last = key;
    await sleep(300);
  }
  throw new Error(`pages never agreed: ${last}`);
}

describe('dashboard replay', { timeout: 4 * TEST_TIMEOUT_MS }, () => {
  let browser;
  let context;

  before(async () => {
    assert.ok(baseUrl, 'CAMRELAY_URL must point at a running relay (use tests/browser/run.sh)');
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
  });
  after(async () => { await browser?.close(); });

  test('the timeline replays every recorded camera; two tabs show the same frames', { timeout: TEST_TIMEOUT_MS }, async () => {
    const page = await openDashboard(context);
    // Recorded spans for every camera, at least 4 s long.
    await page.waitForFunction((names) => {
      const t = window.__camrelay?.timeline;
      return t && names.every((n) => (t.data.get(n)?.spans || []).some((s) => s.end_us - s.start_us > 4e6));
    }, cameras, { timeout: 40_000, polling: 500 });
    await page.selectOption('#tl-window', '600');
    await page.waitForFunction(() => Number(document.querySelector('#timeline').dataset.endMs) - Number(document.querySelector('#timeline').dataset.startMs) <= 600_001);
    await page.waitForFunction((names) => names.every((n) =>
      document.querySelector(`.tile[data-camera="${n}"]`)?.dataset.frameId !== undefined), cameras, { timeout: 20_000 });
    const liveIds = await paintedIds(page);

    // Click the first camera's bar 3 s before the end of its recording.
    const { x, y } = await page.evaluate((name) => {
      const el = document.querySelector('#timeline');
      const t = window.__camrelay.timeline;
      const span = t.data.get(name).spans.at(-1);
      const at = span.end_us / 1000 - 3000;
      const bar = document.querySelector(`.tl-row[data-camera="${name}"] .tl-bar`).getBoundingClientRect();
      const frac = (at - Number(el.dataset.startMs)) / (Number(el.dataset.endMs) - Number(el.dataset.startMs));
      return { x: bar.left + frac * bar.width, y: bar.top + bar.height / 2 };
    }, cameras[0]);
    await page.mouse.click(x, y);
    await waitForReplayFrames(page);
    const replay = await page.evaluate(() => ({ id: window.__camrelay.replay.id, cameras: window.__camrelay.replay.cameras }));
    assert.match(replay.id, /^[0-9a-f]{32}$/);
    assert.deepEqual([...replay.cameras].sort(), [...cameras].sort());
    const replayed = await paintedIds(page);
    cameras.forEach((name, i) => assert.ok(replayed[i] <= liveIds[i] + 1,
      `${name}: replayed frame ${replayed[i]} is from the past (live was ${liveIds[i]})`));

    // Pause; a second tab joins the same session and shows the same frames.
    await page.click('#tl-play');
    await page.waitForFunction(() => window.__camrelay.replay.state?.paused === true);
    const second = await openDashboard(context, `#replay=${replay.id}`);
    await waitForReplayFrames(second);
    const still = await waitForSameStill([page, second]);

    // One frame forward on the first tab: both tabs move on to the next recorded frame.
    await page.click('#tl-step-fwd');
    const deadline = Date.now() + 10_000;
    let stepped = null;
    while (Date.now() < deadline) {
      const [a, b] = await Promise.all([paintedIds(page), paintedIds(second)]);
      // A step goes to the next frame of any camera of the session.
      if (JSON.stringify(a) !== JSON.stringify(still) && JSON.stringify(a) === JSON.stringify(b)) { stepped = a; break; }
      await sleep(200);
    }
    assert.ok(stepped, 'both tabs show the stepped frame');
    assert.ok(stepped.every((id, i) => id >= still[i]) && stepped.some((id, i) => id > still[i]),
      `stepped forward: ${still} -> ${stepped}`);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-replay.png'), fullPage: true });

    // Back to live on the first tab: its tiles show the live broadcast again.
    await page.click('#tl-live');
    await page.waitForFunction((names) => names.every((n) => {
      const tile = document.querySelector(`.tile[data-camera="${n}"]`);
      return tile?.dataset.mode === undefined && tile.dataset.frameId !== undefined;
    }), cameras, { timeout: 20_000 });
    const back = await paintedIds(page);
    cameras.forEach((name, i) => assert.ok(back[i] >= liveIds[i], `${name}: live again (${back[i]} >= ${liveIds[i]})`));
    assert.deepEqual(page.errors, [], 'page errors');
    assert.deepEqual(second.errors, [], 'second tab errors');
    await second.close();
    await page.close();
  });

  test('the synchronized toggle shows every camera through the wall', { timeout: TEST_TIMEOUT_MS }, async () => {
    const page = await openDashboard(context);
    const wallSockets = [];
    page.on('websocket', (ws) => { if (ws.url().includes('/live/sync/cams/')) wallSockets.push(ws.url()); });
    await page.waitForFunction((names) => names.every((n) =>
      document.querySelector(`.tile[data-camera="${n}"]`)?.dataset.frameId !== undefined), cameras, { timeout: 20_000 });
    await page.check('#sync-wall');
    const before = await paintedIds(page);
    // Every tile paints new frames, and they come from the wall's sockets.
    await page.waitForFunction(([names, ids]) => names.every((n, i) =>
      Number(document.querySelector(`.tile[data-camera="${n}"]`)?.dataset.frameId) > ids[i]), [cameras, before], { timeout: 20_000 });
    for (const name of cameras) {
      assert.ok(wallSockets.some((url) => url.includes(`/live/sync/cams/${name}/ws`)), `${name}: ${wallSockets}`);
    }
    await page.screenshot({ path: path.join(artifacts, 'dashboard-sync.png'), fullPage: true });
    await page.uncheck('#sync-wall');
    assert.deepEqual(page.errors, [], 'page errors');
    await page.close();
  });
});
