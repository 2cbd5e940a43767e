import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { defaultConfig } from '../src/config/options.js';
import { renderOpenApi } from '../src/openapi.js';

// Runs from dist/scripts/, so the project root is two levels up.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const app = await buildApp({ ...defaultConfig(), bundle: join(root, 'models', 'loan_approval', 'model.onnx') });
await app.ready();
writeFileSync(join(root, 'openapi.yaml'), renderOpenApi(app));
await app.close();
process.stdout.write('wrote openapi.yaml\n');
