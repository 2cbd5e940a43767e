import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from './helpers/chromium.js';
import { modelPath, readFixture } from './helpers/fixtures.js';
import { listening, type Listening } from './live/helpers.js';

/** How long Swagger UI may take to render and answer: seconds on a CI machine busy with other tests. */
const UI_WAIT_MS = 15_000;

// The few browser globals the page functions below use (they run in Chromium; tsc sees no DOM library here).
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

describeInChromium('Swagger UI at /docs in headless Chromium', () => {

  let server: Listening;
  let browser: Browser;
  beforeAll(async () => {
    server = await listening();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.app.close();
  });

  it("scores the example trace with Try it out, under its Content-Security-Policy, without a console error", async () => {
    const page = await browser.newPage();
    // A script or style the policy blocks, or a request that fails, is a console error.
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const response = await page.goto(`${server.url}/docs`);
    expect(response?.status()).toBe(200);
    const policy = (await response?.allHeaders())?.['content-security-policy'] ?? '';
    expect(policy).toContain("script-src 'self';");
    expect(policy).toContain("style-src 'self' 'unsafe-inline'");
    expect(policy).not.toContain('https:');
    expect(policy).not.toContain('upgrade-insecure-requests');

    const operation = page.locator('#operations-scoring-scoreTrace');
    await operation.locator('.opblock-summary').first().click({ timeout: UI_WAIT_MS });
    await operation.locator('.try-out__btn').click({ timeout: UI_WAIT_MS });
    await operation.locator('.execute').click({ timeout: UI_WAIT_MS });
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: UI_WAIT_MS });
    expect((await status.textContent())?.trim()).toBe('200');
    const body = await operation.locator('.live-responses-table tbody .microlight').first().textContent();
    expect(JSON.parse(body ?? '')).toMatchObject({ trace_score: expect.any(Number), per_transition_residuals: expect.any(Object) });
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows an answer in the order the server wrote it: /forward on a net whose transition ids are integers', async () => {
    // "10" and "9" are PETRA's sorted order, so the output order: reparsed, an object would list "9" first.
    const dir = mkdtempSync(join(tmpdir(), 'petrascore-docs-order-'));
    copyFileSync(modelPath('onnx_deployment'), join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'model.onnx.meta.json'), JSON.stringify(readFixture<object>('onnx_deployment', 'model.onnx.meta.json')).replaceAll('"t_approve"', '"10"').replaceAll('"t_decline"', '"9"'));
    const own = await listening({ bundle: join(dir, 'model.onnx') });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    try {
      await page.goto(`${own.url}/docs`);
      const operation = page.locator('#operations-scoring-forward');
      await operation.locator('.opblock-summary').first().click({ timeout: UI_WAIT_MS });
      await operation.locator('.try-out__btn').click({ timeout: UI_WAIT_MS });
      await operation.locator('.execute').click({ timeout: UI_WAIT_MS });
      const body = operation.locator('.live-responses-table tbody .microlight').first();
      await body.waitFor({ timeout: UI_WAIT_MS });
      const shown = (await body.textContent()) ?? '';
      expect([...shown.matchAll(/"(\d+)":/g)].map((m) => m[1])).toEqual(['10', '9']);
      // Laid out as Swagger UI lays out any other answer.
      const { transition_activations: shownActivations } = JSON.parse(shown) as { transition_activations: Record<string, number> };
      expect(shown).toBe(`{\n  "transition_activations": {\n    "10": ${shownActivations['10']},\n    "9": ${shownActivations['9']}\n  }\n}`);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
      await own.app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
