import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from '../helpers/chromium.js';
import { startServer, serveArgs } from '../helpers/cli.js';
import { DEFAULT_MODEL, ROOT } from '../helpers/fixtures.js';
import { listening, logEvents, postJson, type Listening } from './helpers.js';

/** How long the page may take to show what the server published: seconds on a CI machine busy with other tests. */
const UI_WAIT_MS = 15_000;

// The dashboard in headless Chromium (test/helpers/chromium.ts).
const ARTIFACTS = join(ROOT, 'test', 'artifacts');
const SCREENSHOT = join(ARTIFACTS, 'dashboard.png');


// The few browser globals the page functions below use (they run in Chromium; tsc sees no DOM library here).
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly style: { transform: string };
  readonly textContent: string | null;
}
interface PageCase {
  id: string;
  lane: string;
  nEvents: number;
  scores: number[];
  ending: number;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & { length: number };
  getElementsByTagName(tag: string): { length: number };
};
declare const window: {
  petrascoreDashboard: {
    model: { cases: Map<string, PageCase & { last: object | null }>; lanes: Map<string, { stateless: object | null }>; stats: { id: number } | null };
    connection: { es: { dispatchEvent(event: object): boolean }; statsEvery: number };
  };
  recordState(state: string): void;
};
declare function getComputedStyle(element: PageElement): { display: string; opacity: string };
declare class MessageEvent {
  constructor(type: string, init: { data: string });
}
declare class MutationObserver {
  constructor(callback: () => void);
  observe(target: PageElement, options: { attributes: boolean }): void;
}

interface Row {
  caseId: string | undefined;
  lane: string | undefined;
  cells: string | undefined;
  stateless: boolean;
}

interface Picture {
  rows: Row[];
  cases: [string, string, number, number[]][];
  alert: string;
  explanation: string[];
}

/** What the page shows: the rows in view, every open case's cells in the model, the alert callout. */
async function picture(page: Page): Promise<Picture> {
  return page.evaluate(() => {
    const rows = [...document.querySelectorAll('#rows .case-row:not([hidden]):not(.ending)')]
      .map((el) => ({ caseId: el.dataset.case, lane: el.dataset.lane, cells: el.dataset.cells, stateless: el.dataset.stateless === 'true', top: el.style.transform }))
      .sort((a, b) => a.top.localeCompare(b.top, 'en', { numeric: true }))
      .map(({ top: _top, ...row }) => row);
    const cases = [...window.petrascoreDashboard.model.cases.values()]
      .filter((c) => !c.ending)
      .map((c) => [c.id, c.lane, c.nEvents, [...c.scores]] as [string, string, number, number[]])
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return {
      rows,
      cases,
      alert: document.querySelector('#alert-title')?.textContent ?? '',
      explanation: [...document.querySelectorAll('#alert-explanation li')].map((li) => li.textContent ?? ''),
    };
  });
}

/** Every state the connection indicator takes from now on, in order, as the page sets it. */
async function recordConnectionStates(page: Page): Promise<string[]> {
  const seen: string[] = [];
  await page.exposeFunction('recordState', (state: string) => seen.push(state));
  await page.evaluate(() => {
    const el = document.querySelector('#conn')!;
    new MutationObserver(() => window.recordState(el.dataset.state ?? '')).observe(el, { attributes: true });
  });
  return seen;
}

async function waitLive(page: Page): Promise<void> {
  await page.waitForFunction(() => ['live', 'resumed'].includes(document.querySelector('#conn')?.dataset.state ?? ''), undefined, { timeout: 10_000 });
}

describeInChromium('GET /dashboard in headless Chromium', () => {

  let server: Listening;
  let browser: Browser;
  beforeAll(async () => {
    server = await listening({ laneAttribute: 'channel', liveStatsIntervalMs: 250, scoreEveryEvent: true });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.app.close();
  });

  it('shows lane cells and the alert explained, survives a reload, and stays small with 500 open cases', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });

    const response = await page.goto(`${server.url}/dashboard`);
    expect(response?.status()).toBe(200);
    expect(page.url()).toBe(`${server.url}/dashboard/`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
    await waitLive(page);
    expect(await page.locator('#callout').getAttribute('data-state')).toBe('none');

    // Normal traffic in two lanes, then the log's anomalous case C030 (approve and decline: decline unexpected).
    await postJson(server.url, '/events', {
      events: [
        { case_id: 'W-1', name: 'approve loan', attributes: { risk_score: '0.9', channel: 'web' } },
        { case_id: 'B-1', name: 'decline loan', attributes: { risk_score: '0.1', channel: 'branch' } },
      ],
    });
    await page.waitForSelector('#rows .case-row[data-case="W-1"][data-lane="web"][data-cells="1"]', { timeout: UI_WAIT_MS });
    await page.waitForSelector('#rows .lane-head[data-lane="branch"]', { timeout: UI_WAIT_MS });
    for (const event of logEvents('onnx_deployment').filter((e) => e.case_id === 'C030')) await postJson(server.url, `/cases/${event.case_id}/events?score=false`, event);
    expect((await postJson(server.url, '/cases/C030/close', undefined)).status).toBe(200);
    await page.waitForFunction(() => document.querySelector('#callout')?.dataset.caseId === 'C030', undefined, { timeout: UI_WAIT_MS });
    expect(await page.locator('#callout').getAttribute('data-state')).toBe('alert');
    expect(await page.locator('#alert-title').textContent()).toMatch(/^case C030 in web scored 1\.00 \(alert at 0\.50\) at close$/);
    expect(await page.locator('#alert-explanation li').allTextContents()).toEqual([expect.stringMatching(/^observed decline loan, not expected \(<?0\.\d\d\) · residual 1\.00$/)]);
    expect(await page.locator('#alert-explanation strong').allTextContents()).toEqual(['decline loan']);

    // Load: 500 open cases in 3 lanes, then about 200 evaluations per second for 3 seconds.
    const lanes = ['web', 'branch', 'partner'];
    const caseIds = Array.from({ length: 500 }, (_, i) => `L-${String(i).padStart(3, '0')}`);
    const attributes = (i: number) => ({ risk_score: String(0.05 + ((i * 37) % 90) / 100), channel: lanes[i % 3]! });
    for (let start = 0; start < caseIds.length; start += 100) {
      const events = caseIds.slice(start, start + 100).map((case_id, k) => ({ case_id, name: 'submit', attributes: attributes(start + k) }));
      expect((await postJson(server.url, '/events?score=false', { events })).status).toBe(200);
    }
    const started = Date.now();
    let tick = 0;
    // At least 25 ticks, the ones that reach every case (tick × 20 + k × 7 covers all 500 from the 25th on): a case
    // left unscored has the snapshot's event count in the page's model after the reload (1), none before it (0). A
    // busy machine ran fewer in the 3 s and failed the comparison below.
    while (tick < 25 || Date.now() - started < 3000) {
      // Mostly the decision the model expects for the risk score, sometimes a review, now and then the wrong one.
      const events = Array.from({ length: 20 }, (_, k) => {
        const i = (tick * 20 + k * 7) % caseIds.length;
        const risk = Number(attributes(i).risk_score);
        const roll = (tick * 31 + k * 17) % 20;
        const right = risk > 0.5 ? 'approve loan' : 'decline loan';
        const wrong = risk > 0.5 ? 'decline loan' : 'approve loan';
        return { case_id: caseIds[i]!, name: roll < 13 ? right : roll < 19 ? 'review' : wrong, attributes: attributes(i) };
      });
      await postJson(server.url, '/events', { events });
      if (tick % 5 === 0) await postJson(server.url, '/anomaly', { events: [{ name: tick % 10 === 0 ? 'approve loan' : 'decline loan' }], attributes: { risk_score: '0.8', channel: 'partner' } });
      tick++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await page.waitForFunction((n) => window.petrascoreDashboard.model.cases.size >= n, 502, { timeout: 10_000 });
    // Closed C030 has faded out by now (4 s): what is left is the open cases.
    await page.waitForFunction(() => document.querySelectorAll('#rows .case-row.ending:not([hidden])').length === 0, undefined, { timeout: 10_000 });
    const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    expect(nodes).toBeLessThan(1000);
    await page.waitForFunction(() => Number(document.querySelector('#stat-open')?.textContent) === 502, undefined, { timeout: UI_WAIT_MS });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });

    // Reload: the snapshot paints the same picture.
    const before = await picture(page);
    expect(before.rows.length).toBeGreaterThan(20);
    expect(before.cases.length).toBe(502);
    await page.reload();
    await waitLive(page);
    await page.waitForFunction(() => document.querySelectorAll('#rows .case-row').length > 20, undefined, { timeout: UI_WAIT_MS });
    const after = await picture(page);
    // The rows in view depend on the viewport left below the stats and the callout: compare the first 30.
    expect(after.rows.slice(0, 30)).toEqual(before.rows.slice(0, 30));
    expect({ ...after, rows: [] }).toEqual({ ...before, rows: [] });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('ignores an event it has shown already, pins the header of a long lane, and hides the rows of ended cases', async () => {
    const own = await listening({ laneAttribute: 'channel', liveStatsIntervalMs: 250 });
    const page = await browser.newPage({ viewport: { width: 1200, height: 600 } });
    try {
      await page.goto(`${own.url}/dashboard/`);
      await waitLive(page);
      const ids = Array.from({ length: 80 }, (_, i) => `long-${String(i).padStart(2, '0')}`);
      const fed = await postJson(own.url, '/events?score=true', { events: ids.map((case_id) => ({ case_id, name: 'approve loan', attributes: { risk_score: '0.9', channel: 'long' } })) });
      expect(fed.status).toBe(200);
      await page.waitForFunction(() => window.petrascoreDashboard.model.cases.size === 80, undefined, { timeout: UI_WAIT_MS });

      // The same evaluation again, as a resume from an older id would replay it: still one cell.
      const cells = await page.evaluate(() => {
        const shown = window.petrascoreDashboard.model.cases.get('long-00')!;
        window.petrascoreDashboard.connection.es.dispatchEvent(new MessageEvent('evaluation', { data: JSON.stringify(shown.last) }));
        return window.petrascoreDashboard.model.cases.get('long-00')!.scores.length;
      });
      expect(cells).toBe(1);

      // Scrolled into the middle of the lane, its header stays at the top of the view.
      await page.locator('#viewport').evaluate((el) => (el as unknown as { scrollTop: number }).scrollTop = 700);
      await page.waitForFunction(() => {
        const pinned = document.querySelector('#rows .lane-head.pinned');
        return pinned !== null && getComputedStyle(pinned).display !== 'none' && pinned.dataset.lane === 'long' && pinned.style.transform === 'translateY(700px)';
      }, undefined, { timeout: UI_WAIT_MS });

      for (const id of ids) expect((await fetch(`${own.url}/cases/${id}`, { method: 'DELETE' })).status).toBe(200);
      // Each row fades for 4 s, then leaves: nothing of the lane stays drawn, and no header stays greyed.
      await page.waitForFunction(() => window.petrascoreDashboard.model.cases.size === 0, undefined, { timeout: 10_000 });
      const drawn = await page.evaluate(() =>
        [...document.querySelectorAll('#rows .item')].filter((el) => getComputedStyle(el).display !== 'none').map((el) => el.dataset.case ?? `head ${el.dataset.lane}`),
      );
      expect(drawn).toEqual([]);
      expect(await page.locator('#lanes-count').textContent()).toBe('0 lanes · 0 open cases shown');

      // An evaluation of fewer events than the one shown, published late (a large POST /events runs beside the queue):
      // the case keeps the one shown. Last: its made-up id is ahead of the server's, whose next events would be ignored.
      for (const name of ['approve loan', 'decline loan']) {
        expect((await postJson(own.url, '/cases/late/events?score=true', { name, attributes: { risk_score: '0.9', channel: 'long' } })).status).toBe(200);
      }
      await page.waitForFunction(() => window.petrascoreDashboard.model.cases.get('late')?.nEvents === 2, undefined, { timeout: UI_WAIT_MS });
      const late = await page.evaluate(() => {
        const shown = window.petrascoreDashboard.model.cases.get('late')!;
        const last = shown.last as { id: number; n_events: number };
        const older = { ...last, id: last.id + 1_000_000, n_events: 1, trace_score: 0.123 };
        window.petrascoreDashboard.connection.es.dispatchEvent(new MessageEvent('evaluation', { data: JSON.stringify(older) }));
        const after = window.petrascoreDashboard.model.cases.get('late')!;
        return [after.scores.length, after.nEvents, (after.last as { id: number }).id === last.id];
      });
      expect(late).toEqual([2, 2, true]);
    } finally {
      await page.close();
      await own.app.close();
    }
  }, 60_000);

  it("says whether a case's top transition is missing or unexpected as the server says it, also at an activation of 0.5", async () => {
    const own = await listening({ laneAttribute: 'channel', liveStatsIntervalMs: 250 });
    const page = await browser.newPage();
    try {
      await page.goto(`${own.url}/dashboard/`);
      await waitLive(page);
      // At these risk scores the model's activation of "approve loan" is 0.5 and 0.49999976 (float32): both labels were
      // observed, so approve's residual (0.5 and 0.50000024, the largest) says it came unexpected, not that it is
      // missing. From the numbers alone (activation − residual) the two readings are the same or 5e-7 apart.
      for (const [id, risk] of [['half', '0.4921996593475342'], ['near-half', '0.4921996295452118']] as const) {
        const scored = await postJson(own.url, '/events?score=true', {
          events: [
            { case_id: id, name: 'approve loan', attributes: { risk_score: risk, channel: 'web' } },
            { case_id: id, name: 'decline loan' },
          ],
        });
        expect(scored.status).toBe(200);
      }
      for (const id of ['half', 'near-half']) {
        const why = page.locator(`#rows .case-row[data-case="${id}"][data-cells="2"] .why`);
        await why.waitFor({ timeout: UI_WAIT_MS });
        expect(await why.textContent()).toBe('unexpected approve loan (0.50)');
      }
      // The same from the snapshot after a reload.
      await page.reload();
      await waitLive(page);
      const again = page.locator('#rows .case-row[data-case="half"][data-cells="2"] .why');
      await again.waitFor({ timeout: UI_WAIT_MS });
      expect(await again.textContent()).toBe('unexpected approve loan (0.50)');
      // A label never observed is missing: at a high risk score the model expects approve, and no event carried it.
      await postJson(own.url, '/cases/missing/events?score=true', { name: 'submit', attributes: { risk_score: '0.9', channel: 'web' } });
      const missing = page.locator('#rows .case-row[data-case="missing"][data-cells="1"] .why');
      await missing.waitFor({ timeout: UI_WAIT_MS });
      expect(await missing.textContent()).toMatch(/^missing approve loan \((>0\.99|0\.\d\d)\)$/);
    } finally {
      await page.close();
      await own.app.close();
    }
  }, 60_000);

  it('keeps the words around a case id or lane that holds a right-to-left override in their order, and shows the same event count after a reload', async () => {
    const own = await listening({ laneAttribute: 'channel', liveStatsIntervalMs: 250 });
    const page = await browser.newPage();
    try {
      await page.goto(`${own.url}/dashboard/`);
      await waitLive(page);
      const spoof = 'abc\u202eevil';
      // Two alerts (a low risk score, approve observed): the latest in the title, the one before in the history.
      for (const id of [`${spoof}-1`, `${spoof}-2`]) {
        const scored = await postJson(own.url, `/cases/${encodeURIComponent(id)}/events?score=true`, { name: 'approve loan', attributes: { risk_score: '0.1', channel: `lane\u202e${id.at(-1)}` } });
        expect(scored.status).toBe(200);
      }
      await page.waitForFunction((id) => document.querySelector('#callout')?.dataset.caseId === id, `${spoof}-2`, { timeout: UI_WAIT_MS });
      // Each text the client chose in an element of its own that isolates its direction (a <bdi>): without it the override
      // ran on over " in lane scored 2.00 (alert at 0.50)" and reversed it.
      const isolated = await page.evaluate(() => [...document.querySelectorAll('#alert-title bdi, #alert-history bdi')].map((el) => el.textContent));
      expect(isolated).toEqual([`${spoof}-2`, 'lane\u202e2', `${spoof}-1`]);
      expect(await page.locator('#alert-title').textContent()).toMatch(/^case abc\u202eevil-2 in lane\u202e2 scored \d\.\d\d \(alert at 0\.50\)$/);

      // One event scored, two not: the page counts the events of the evaluation it shows, before and after a reload.
      expect((await postJson(own.url, '/cases/counted/events?score=true', { name: 'approve loan', attributes: { risk_score: '0.9', channel: 'web' } })).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await postJson(own.url, '/cases/counted/events?score=false', { name: 'review' })).status).toBe(202);
      await page.waitForFunction(() => window.petrascoreDashboard.model.cases.get('counted')?.nEvents === 1, undefined, { timeout: UI_WAIT_MS });
      await page.reload();
      await waitLive(page);
      await page.waitForFunction(() => window.petrascoreDashboard.model.cases.has('counted'), undefined, { timeout: UI_WAIT_MS });
      expect(await page.evaluate(() => window.petrascoreDashboard.model.cases.get('counted')!.nEvents)).toBe(1);
    } finally {
      await page.close();
      await own.app.close();
    }
  }, 60_000);

  it('keeps the rows of /anomaly calls of the lanes scored most lately, as many as a reload shows', async () => {
    const own = await listening({ laneAttribute: 'host', liveStatsIntervalMs: 250 });
    const page = await browser.newPage();
    try {
      await page.goto(`${own.url}/dashboard/`);
      await waitLive(page);
      // A lane attribute of many values: each trace of the batch comes from a host of its own.
      const hosts = Array.from({ length: 230 }, (_, i) => `host-${String(i).padStart(3, '0')}`);
      const batch = await postJson(own.url, '/anomaly/batch', { traces: hosts.map((host) => ({ events: [{ name: 'approve loan' }], attributes: { risk_score: '0.9', host } })) });
      expect(batch.status).toBe(200);
      await page.waitForFunction(() => window.petrascoreDashboard.model.lanes.get('host-229')?.stateless != null, undefined, { timeout: UI_WAIT_MS });
      const shown = await page.evaluate(() => [...window.petrascoreDashboard.model.lanes].filter(([, lane]) => lane.stateless !== null).map(([name]) => name));
      const snapshot = (await (await fetch(`${own.url}/live/snapshot`)).json()) as { stateless: { lane: string }[] };
      // The 200 scored last, the same after a reload.
      expect(snapshot.stateless.map((lane) => lane.lane).sort()).toEqual(hosts.slice(30));
      expect(shown.sort()).toEqual(hosts.slice(30));

      // A lane scored again is the most recent: a new one then takes the place of the one after it.
      for (const host of ['host-030', 'host-new']) {
        expect((await postJson(own.url, '/anomaly', { events: [{ name: 'approve loan' }], attributes: { risk_score: '0.9', host } })).status).toBe(200);
      }
      await page.waitForFunction(() => window.petrascoreDashboard.model.lanes.get('host-new')?.stateless != null, undefined, { timeout: UI_WAIT_MS });
      const after = await page.evaluate(() => [...window.petrascoreDashboard.model.lanes].filter(([, lane]) => lane.stateless !== null).map(([name]) => name));
      expect(after.sort()).toEqual([...hosts.slice(30).filter((host) => host !== 'host-031'), 'host-new'].sort());
    } finally {
      await page.close();
      await own.app.close();
    }
  }, 60_000);

  it('says the stream is stale when a frozen server stops sending, and is live again when it resumes', async () => {
    // A real server process, frozen with SIGSTOP: its connection stays open and silent, as a hung process's would.
    const frozen = await startServer(serveArgs(DEFAULT_MODEL, '--live-stats-interval', '200'));
    const page = await browser.newPage();
    try {
      await page.goto(`${frozen.url}/dashboard/`);
      await waitLive(page);
      // The page learns the stats pace from two stats events, then goes quiet with the server. Waited for, not slept
      // for (600 ms): without the pace the page never calls a stream stale, and on a busy machine the second stats
      // event can come later than that.
      await page.waitForFunction(() => Number(document.querySelector('#stat-open')?.textContent) === 0, undefined, { timeout: UI_WAIT_MS });
      await page.waitForFunction(() => window.petrascoreDashboard.connection.statsEvery > 0, undefined, { timeout: UI_WAIT_MS });
      frozen.cli.signal('SIGSTOP');
      await page.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'stale', undefined, { timeout: 15_000 });
      expect(await page.locator('#conn-text').textContent()).toMatch(/^stale · nothing from the server for \d+ s$/);
      frozen.cli.signal('SIGCONT');
      await page.waitForFunction(() => ['live', 'resumed'].includes(document.querySelector('#conn')?.dataset.state ?? ''), undefined, { timeout: 15_000 });
    } finally {
      frozen.cli.signal('SIGCONT');
      await page.close();
      await frozen.cli.kill();
    }
  }, 60_000);

  it('learns the stats pace from the server\'s clock, also from stats events a resume replays at once', async () => {
    // No ticker: the test publishes the stats events itself.
    const own = await listening({ liveStatsIntervalMs: 0 });
    const page = await browser.newPage();
    try {
      await page.goto(`${own.url}/dashboard/`);
      await waitLive(page);
      // Cut while two stats events are published apart: the page's reconnect (after a second) replays both at once.
      own.app.live.bus.closeAll();
      const first = own.app.live.tick();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = own.app.live.tick();
      await page.waitForFunction((id) => window.petrascoreDashboard.model.stats?.id === id, second.id, { timeout: UI_WAIT_MS });
      const pace = await page.evaluate(() => window.petrascoreDashboard.connection.statsEvery);
      expect(pace).toBe(Date.parse(second.ts) - Date.parse(first.ts));
    } finally {
      await page.close();
      await own.app.close();
    }
  }, 60_000);

  it('shows resynced, and never resumed, when the server cannot resume the stream it cut', async () => {
    // A ring of 16 events, and no stats events: while the stream is cut, more is published than the ring holds.
    const own = await listening({ laneAttribute: 'channel', liveStatsIntervalMs: 0, liveRingSize: 16 });
    const page = await browser.newPage();
    try {
      await page.goto(`${own.url}/dashboard/`);
      await waitLive(page);
      const seen = await recordConnectionStates(page);
      own.app.live.bus.closeAll();
      const events = Array.from({ length: 20 }, (_, i) => ({ case_id: `cut-${i}`, name: 'approve loan', attributes: { risk_score: '0.9', channel: 'web' } }));
      expect((await postJson(own.url, '/events?score=true', { events })).status).toBe(200);
      await page.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'resynced', undefined, { timeout: UI_WAIT_MS });
      // "resumed" stood from the reconnect until the gap's snapshot was applied.
      expect(seen).not.toContain('resumed');
      expect(await page.evaluate(() => window.petrascoreDashboard.model.cases.size)).toBe(20);
    } finally {
      await page.close();
      await own.app.close();
    }
  }, 60_000);

  it('shows reconnecting, then resumed, when the stream is cut', async () => {
    // Its own server: the case it opens made the shared server's 502 open cases 503 when a shuffled order ran this
    // test before the first one (vitest --sequence.shuffle, seed 3).
    const own = await listening({ laneAttribute: 'channel', liveStatsIntervalMs: 250 });
    const page = await browser.newPage();
    try {
      await page.goto(`${own.url}/dashboard/`);
      await waitLive(page);
      // Cut every stream from the server side, as an overflow would; EventSource reconnects with Last-Event-ID.
      const seen = await recordConnectionStates(page);
      own.app.live.bus.closeAll();
      await postJson(own.url, '/cases/after-cut/events', { name: 'approve loan', attributes: { risk_score: '0.9', channel: 'web' } });
      await page.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'resumed', undefined, { timeout: 10_000 });
      expect(seen).toContain('reconnecting');
      // Read while it says so: "resumed" turns back to "live" after a few seconds.
      expect(await page.locator('#conn-text').textContent()).toMatch(/^resumed after #\d+$/);
      await page.waitForFunction(() => window.petrascoreDashboard.model.cases.has('after-cut'), undefined, { timeout: UI_WAIT_MS });
    } finally {
      await page.close();
      await own.app.close();
    }
  }, 60_000);
});
