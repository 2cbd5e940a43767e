import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from './app.js';

/** The OpenAPI document of a ready app, as YAML; `openapi.yaml` at the top level is exactly this for the default model. */
export function renderOpenApi(app: App): string {
  return app.swagger({ yaml: true });
}

export function committedOpenApi(root: string): string {
  return readFileSync(join(root, 'openapi.yaml'), 'utf8');
}
