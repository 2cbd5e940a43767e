import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { describe, it } from 'vitest';

/**
 * Debian's `chromium` package, driven by playwright-core (no browser is downloaded). In CI (CI set) a missing browser
 * fails the browser tests; on a developer machine they are skipped with a message.
 */
export const CHROMIUM = process.env.PETRASCORE_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_MODE: 'run' | 'fail' | 'skip' = existsSync(CHROMIUM) ? 'run' : process.env.CI ? 'fail' : 'skip';

// Headless, sandbox off (CI runs as root), and none of the background traffic Chromium would send to Google.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * A describe block that needs Chromium: its tests where the browser is installed; in CI without it, one failing test
 * that says how to install it; elsewhere, one skipped test that names the missing browser.
 */
export function describeInChromium(name: string, body: () => void): void {
  describe(name, () => {
    if (CHROMIUM_MODE === 'fail') {
      it('needs Chromium in CI', () => {
        throw new Error(`no Chromium at ${CHROMIUM}: CI must install it (apt-get install -y chromium)`);
      });
    } else if (CHROMIUM_MODE === 'skip') {
      console.warn(`${name}: skipped, no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set PETRASCORE_CHROMIUM)`);
      it.skip(`needs Chromium at ${CHROMIUM}`, () => {});
    } else {
      body();
    }
  });
}

/** Debian's Chromium, headless, as the browser tests drive it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}
