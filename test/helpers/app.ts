import { buildApp, type App, type AppConfig } from '../../src/app.js';
import { defaultConfig } from '../../src/config/options.js';
import { DEFAULT_MODEL } from './fixtures.js';

/** The app as `petrascore serve` builds it, on a given bundle, with settings overridden per test. */
export async function testApp(overrides: Partial<AppConfig> = {}): Promise<App> {
  const app = await buildApp({ ...defaultConfig(), bundle: DEFAULT_MODEL, ...overrides });
  await app.ready();
  return app;
}
