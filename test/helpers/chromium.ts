import { existsSync } from 'node:fs';

/**
 * Debian's `chromium` package, driven by playwright-core (no browser is downloaded). In CI (CI set) a missing browser
 * fails the browser tests; on a developer machine they are skipped with a message.
 */
export const CHROMIUM = process.env.PETRASCORE_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_MODE: 'run' | 'fail' | 'skip' = existsSync(CHROMIUM) ? 'run' : process.env.CI ? 'fail' : 'skip';

// Headless, sandbox off (CI runs as root), and none of the background traffic Chromium would send to Google.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
