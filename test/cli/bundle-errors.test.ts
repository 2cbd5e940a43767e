import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { copyBundle, editSidecar, killAllClis, permissionsCanApply, removeTempDirs, runCli, serveArgs, startServer, type CliResult, type JsonObject, type TempBundle } from '../helpers/cli.js';
import { modelPath } from '../helpers/fixtures.js';

afterEach(killAllClis);
afterAll(removeTempDirs);

type Fixture = 'onnx_deployment' | 'credit_approval_coloured';

interface BrokenBundle {
  name: string;
  fixture: Fixture;
  breakIt: (bundle: TempBundle) => void;
  /** Which file the one line must name. */
  file: 'model' | 'sidecar';
  problem: RegExp;
  /** Run the CLI as file permissions apply to it (root reads an unreadable file anyway). */
  permissions?: boolean;
}

function renameInputPlace(sidecar: JsonObject, from: string, to: string): JsonObject {
  // Consistent within the sidecar (so only the graph can disagree): every list and map that names the place.
  const text = JSON.stringify(sidecar).replaceAll(`"${from}"`, `"${to}"`).replaceAll(`__${from}"`, `__${to}"`);
  return JSON.parse(text) as JsonObject;
}

const BROKEN: BrokenBundle[] = [
  { name: 'missing model file', fixture: 'onnx_deployment', breakIt: (b) => rmSync(b.model), file: 'model', problem: /file not found/ },
  { name: 'missing sidecar', fixture: 'onnx_deployment', breakIt: (b) => rmSync(b.sidecar), file: 'sidecar', problem: /file not found/ },
  {
    name: 'unreadable sidecar (a directory in its place)',
    fixture: 'onnx_deployment',
    breakIt: (b) => {
      rmSync(b.sidecar);
      mkdirSync(b.sidecar);
    },
    file: 'sidecar',
    problem: /is a directory/,
  },
  {
    name: 'unreadable sidecar (no read permission)',
    fixture: 'onnx_deployment',
    breakIt: (b) => chmodSync(b.sidecar, 0o000),
    file: 'sidecar',
    problem: /permission denied/,
    permissions: true,
  },
  { name: 'sidecar not JSON', fixture: 'onnx_deployment', breakIt: (b) => writeFileSync(b.sidecar, '{"input_marking_places": ["p_application"'), file: 'sidecar', problem: /is not valid JSON/ },
  {
    name: "sidecar with NaN (Python's json writes it for a diverged training's loss): one line, with the line of the NaN",
    fixture: 'onnx_deployment',
    breakIt: (b) => writeFileSync(b.sidecar, readFileSync(b.sidecar, 'utf8').replace(/"final_loss": [^,\n]+/, '"final_loss": NaN')),
    file: 'sidecar',
    problem: /is not valid JSON \(line 78: NaN, which Python's json writes for a float that is not finite, such as the loss of a training that diverged, is no JSON value\)/,
  },
  { name: 'sidecar empty', fixture: 'onnx_deployment', breakIt: (b) => writeFileSync(b.sidecar, ''), file: 'sidecar', problem: /is not valid JSON/ },
  { name: 'sidecar JSON but not an object', fixture: 'onnx_deployment', breakIt: (b) => writeFileSync(b.sidecar, '["p_application"]'), file: 'sidecar', problem: /does not match the sidecar schema/ },
  {
    name: 'schema: output_transitions missing',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        delete s.output_transitions;
      }),
    file: 'sidecar',
    problem: /does not match the sidecar schema: .*\/output_transitions/,
  },
  {
    name: 'schema: a number where a list is expected',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_marking_places = 5;
      }),
    file: 'sidecar',
    problem: /does not match the sidecar schema: .*\/input_marking_places: Expected array/,
  },
  {
    name: 'schema: a label that is not a string',
    fixture: 'credit_approval_coloured',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.transition_labels = { t_approve: 'approve loan', t_decline: 7 };
      }),
    file: 'sidecar',
    problem: /does not match the sidecar schema: .*\/transition_labels\/t_decline/,
  },
  {
    name: 'spec grammar: a table with neither attribute nor constant',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_marking_spec = { p_application: { attr: 'risk_score' } };
      }),
    file: 'sidecar',
    problem: /input_marking entry for 'p_application' must declare either 'attribute' or 'constant'/,
  },
  {
    name: 'spec grammar: a constant that is no number',
    fixture: 'credit_approval_coloured',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_marking_spec = { p_submitted: { constant: 'lots' } };
      }),
    file: 'sidecar',
    problem: /input_marking_spec\.p_submitted\.constant must be a finite number/,
  },
  {
    name: 'spec grammar: a constant beyond float32 (the model would read it as infinite)',
    fixture: 'credit_approval_coloured',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_marking_spec = { p_submitted: { constant: 1e300 } };
      }),
    file: 'sidecar',
    problem: /input_marking_spec\.p_submitted\.constant is 1e\+300, beyond float32's range/,
  },
  {
    name: 'onnx_input_names disagree with the input places',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.onnx_input_names = ['marking__p_other'];
      }),
    file: 'sidecar',
    problem: /onnx_input_names .*marking__p_other.* disagree with input_marking_places\/input_value_places/,
  },
  {
    name: 'input_defaults lacks an input',
    fixture: 'credit_approval_coloured',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_defaults = { marking__p_submitted: 0 };
      }),
    file: 'sidecar',
    problem: /input_defaults has no entry for ONNX input 'value__p_submitted'/,
  },
  {
    name: 'an input default beyond float32 (the model would read it as infinite)',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_defaults = { marking__p_application: 1e39 };
      }),
    file: 'sidecar',
    problem: /input_defaults\/marking__p_application is 1e\+39, beyond float32's range/,
  },
  {
    name: 'places leaves out an input place',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.places = ['p_approved'];
      }),
    file: 'sidecar',
    problem: /places does not list 'p_application', an input place of input_marking_places/,
  },
  {
    name: 'an input place the exporter did not write (named as such, not as a missing default)',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_marking_places = ['p_zzz'];
      }),
    file: 'sidecar',
    problem: /onnx_input_names \["marking__p_application"\] disagree with input_marking_places\/input_value_places, which give \["marking__p_zzz"\]/,
  },
  {
    name: 'a sidecar that is not UTF-8',
    fixture: 'onnx_deployment',
    breakIt: (b) => writeFileSync(b.sidecar, Buffer.from(readFileSync(b.sidecar, 'utf8').replace('"scenario_name"', '"scenario_name_\u00e9"'), 'latin1')),
    file: 'sidecar',
    problem: /is not valid UTF-8/,
  },
  {
    name: 'an output transition listed twice',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.output_transitions = ['t_approve', 't_approve'];
      }),
    file: 'sidecar',
    problem: /output_transitions lists 't_approve' twice/,
  },
  {
    name: 'an input place renamed in the sidecar (graph disagrees)',
    fixture: 'onnx_deployment',
    breakIt: (b) => editSidecar(b, (s) => renameInputPlace(s, 'p_application', 'p_app')),
    file: 'model',
    problem: /graph lacks inputs the sidecar declares: marking__p_app; has inputs the sidecar does not declare: marking__p_application/,
  },
  {
    name: 'a value-channel input the sidecar does not declare',
    fixture: 'credit_approval_coloured',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.input_value_places = [];
        s.onnx_input_names = ['marking__p_submitted'];
        s.input_defaults = { marking__p_submitted: 0 };
        s.input_values_spec = {};
      }),
    file: 'model',
    problem: /graph has inputs the sidecar does not declare: value__p_submitted/,
  },
  {
    name: 'fewer output_transitions than the graph has columns',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.output_transitions = ['t_approve'];
      }),
    file: 'model',
    problem: /graph output 'activations' has 2 columns, but the sidecar lists 1 output_transitions/,
  },
  {
    name: 'more output_transitions than the graph has columns',
    fixture: 'credit_approval_coloured',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.output_transitions = ['t_approve', 't_decline', 't_review'];
      }),
    file: 'model',
    problem: /graph output 'activations' has 2 columns, but the sidecar lists 3 output_transitions/,
  },
  {
    // As torch.onnx.export writes a graph without dynamic_axes: `batch` becomes the example's 1. The input's Dimension
    // {dim_param: "batch"} is rewritten in place, at the same length, as {dim_value: 1, denotation: "DIM"}.
    name: 'graph input with a fixed batch size (exported without a dynamic batch axis)',
    fixture: 'onnx_deployment',
    breakIt: (b) => {
      const model = readFileSync(b.model);
      const dynamic = Buffer.from('\x0a\x07\x12\x05batch', 'latin1');
      const at = model.indexOf(dynamic);
      expect(at).toBeGreaterThan(0);
      Buffer.from('\x0a\x07\x08\x01\x1a\x03DIM', 'latin1').copy(model, at);
      writeFileSync(b.model, model);
    },
    file: 'model',
    problem: /graph input 'marking__p_application' has a fixed batch size of 1 \(shape \[1\]\), but petrascore runs many rows at once: export it with a dynamic batch axis/,
  },
  {
    name: 'wrong output_name',
    fixture: 'onnx_deployment',
    breakIt: (b) =>
      editSidecar(b, (s) => {
        s.output_name = 'scores';
      }),
    file: 'model',
    problem: /graph has no output 'scores' \(outputs: activations\)/,
  },
  {
    name: 'corrupt ONNX (truncated)',
    fixture: 'onnx_deployment',
    breakIt: (b) => writeFileSync(b.model, readFileSync(b.model).subarray(0, 100)),
    file: 'model',
    problem: /cannot be loaded as an ONNX model/,
  },
  {
    name: 'corrupt ONNX (garbage bytes)',
    fixture: 'credit_approval_coloured',
    breakIt: (b) => writeFileSync(b.model, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256))),
    file: 'model',
    problem: /cannot be loaded as an ONNX model/,
  },
  {
    name: 'a named pipe in the model file\'s place (read, it would block until a writer came)',
    fixture: 'onnx_deployment',
    breakIt: (b) => {
      rmSync(b.model);
      execFileSync('mkfifo', [b.model]);
    },
    file: 'model',
    problem: /is a named pipe \(FIFO\), expected a file/,
  },
  { name: 'corrupt ONNX (empty file)', fixture: 'onnx_deployment', breakIt: (b) => writeFileSync(b.model, ''), file: 'model', problem: /cannot be loaded as an ONNX model/ },
];

/** Exit 2, nothing served, and stderr exactly one line (no stack trace) naming `path` and matching `problem`. */
function expectOneLineFailure(result: CliResult, path: string, problem: RegExp): void {
  expect(result.code, result.describe).toBe(2);
  expect(result.signal, result.describe).toBeNull();
  expect(result.stderr, result.describe).not.toMatch(/^\s+at /m);
  expect(result.stderr, result.describe).toMatch(/^petrascore: [^\n]+\n$/);
  expect(result.stderr, result.describe).toContain(`${path}: `);
  expect(result.stderr, result.describe).toMatch(problem);
  expect(result.stdout, result.describe).not.toContain('Server listening');
}

describe('petrascore serve on a broken bundle', () => {
  for (const broken of BROKEN) {
    it.skipIf(broken.permissions === true && !permissionsCanApply)(`${broken.name} (${broken.fixture}): exit 2 and one line naming the ${broken.file}`, async () => {
      const bundle = copyBundle(broken.fixture);
      broken.breakIt(bundle);
      const result = await runCli(serveArgs(bundle.model), { permissionsApply: broken.permissions === true });
      expectOneLineFailure(result, broken.file === 'model' ? bundle.model : bundle.sidecar, broken.problem);
    });
  }

  it('a directory given as the bundle: exit 2 naming it and the model in it to give instead', async () => {
    const bundle = copyBundle('onnx_deployment');
    const result = await runCli(serveArgs(bundle.dir));
    expectOneLineFailure(result, bundle.dir, new RegExp(`is a directory; give the model in it: ${bundle.model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
  });

  it('a directory without a model and its sidecar: exit 2 saying what the bundle is', async () => {
    const bundle = copyBundle('onnx_deployment');
    rmSync(bundle.sidecar);
    const result = await runCli(serveArgs(bundle.dir));
    expectOneLineFailure(result, bundle.dir, /is a directory, expected a model file \(an \.onnx file with its \.meta\.json sidecar beside it\)/);
  });

  it('the sidecar given as the bundle: exit 2 naming it and the model to give instead', async () => {
    const bundle = copyBundle('onnx_deployment');
    const result = await runCli(serveArgs(bundle.sidecar));
    expectOneLineFailure(result, bundle.sidecar, new RegExp(`is a sidecar; give the model beside it: ${bundle.model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('the unbroken copy serves (the breakages above are what fails, not the copying); a byte-order mark on the sidecar is fine', async () => {
    const bundle = copyBundle('credit_approval_coloured');
    writeFileSync(bundle.sidecar, `\uFEFF${readFileSync(bundle.sidecar, 'utf8')}`);
    const server = await startServer(serveArgs(bundle.model));
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(200);
  });
});

const MINIMAL_KEYS = ['input_marking_places', 'input_value_places', 'output_transitions', 'transition_labels'];

function minimal(bundle: TempBundle, keep: readonly string[] = []): void {
  editSidecar(bundle, (s) => Object.fromEntries([...MINIMAL_KEYS, ...keep].map((k) => [k, s[k]])));
}

interface SchemaInput {
  name: string;
  place: string;
  default: number;
}
interface SchemaBody {
  inputs: { marking: SchemaInput[]; values: SchemaInput[] };
}
interface Score {
  trace_score: number;
  per_transition_residuals: Record<string, number>;
}

async function postJson(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

async function score(url: string, body: unknown): Promise<Score> {
  const { status, json } = await postJson(`${url}/anomaly`, body);
  expect(status, JSON.stringify(json)).toBe(200);
  const result = json as Score;
  expect(typeof result.trace_score).toBe('number');
  return result;
}

async function defaults(url: string): Promise<Record<string, number>> {
  const response = await fetch(`${url}/schema`);
  expect(response.status).toBe(200);
  const schema = (await response.json()) as SchemaBody;
  return Object.fromEntries([...schema.inputs.marking, ...schema.inputs.values].map((i) => [i.name, i.default]));
}

function derivedDefaultsWarning(lines: Record<string, unknown>[]): string | undefined {
  const line = lines.find((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.includes('input_defaults absent'));
  return line?.msg as string | undefined;
}

describe('petrascore serve on a minimal sidecar (export_onnx schema + transition_labels)', () => {
  const approve = [{ name: 'approve loan' }];

  it('without initial_marking: starts, derives marking default 0.0 with a warning, scores /anomaly as the full bundle does at 0.0', async () => {
    const bundle = copyBundle('onnx_deployment');
    minimal(bundle);
    const [small, full] = await Promise.all([startServer(serveArgs(bundle.model)), startServer(serveArgs(modelPath('onnx_deployment')))]);
    expect((await fetch(`${small.url}/readyz`)).status).toBe(200);
    expect(await defaults(small.url)).toEqual({ marking__p_application: 0 });
    expect(await defaults(full.url)).toEqual({ marking__p_application: 1 });
    const warning = derivedDefaultsWarning(small.cli.logLines());
    expect(warning, small.cli.describe()).toContain('marking__p_application=0');
    expect(derivedDefaultsWarning(full.cli.logLines()), 'the full sidecar has input_defaults: no warning').toBeUndefined();

    const derived = await score(small.url, { input_marking: {}, events: approve });
    expect(derived).toEqual(await score(full.url, { input_marking: { p_application: 0 }, events: approve }));
    // …and not what the real defaults (1.0) give, so the comparison above can fail.
    expect(derived.trace_score).not.toBe((await score(full.url, { input_marking: {}, events: approve })).trace_score);
  });

  it('with initial_marking and the specs: derives 1.0 for the marked source place and scores from attributes like the full bundle', async () => {
    const bundle = copyBundle('onnx_deployment');
    minimal(bundle, ['initial_marking', 'input_marking_spec', 'input_values_spec']);
    const [small, full] = await Promise.all([startServer(serveArgs(bundle.model)), startServer(serveArgs(modelPath('onnx_deployment')))]);
    expect(await defaults(small.url)).toEqual({ marking__p_application: 1 });
    expect(derivedDefaultsWarning(small.cli.logLines()), small.cli.describe()).toContain('marking__p_application=1');
    for (const body of [{ input_marking: {}, events: approve }, { events: approve, attributes: { risk_score: '0.07' } }]) {
      expect(await score(small.url, body)).toEqual(await score(full.url, body));
    }
  });

  it('coloured net without initial_marking: marking default 0.0, value default 1.0', async () => {
    const bundle = copyBundle('credit_approval_coloured');
    minimal(bundle);
    const [small, full] = await Promise.all([startServer(serveArgs(bundle.model)), startServer(serveArgs(modelPath('credit_approval_coloured')))]);
    expect(await defaults(small.url)).toEqual({ marking__p_submitted: 0, value__p_submitted: 1 });
    expect(derivedDefaultsWarning(small.cli.logLines()), small.cli.describe()).toContain('marking__p_submitted=0, value__p_submitted=1');
    const explicit = await score(full.url, { input_marking: { p_submitted: 0 }, input_values: { p_submitted: 1 }, events: approve });
    expect(await score(small.url, { input_marking: {}, input_values: null, events: approve })).toEqual(explicit);
  });
});

describe('petrascore usage errors', () => {
  const bundle = modelPath('onnx_deployment');

  async function expectUsageError(args: string[], message: RegExp, env: Record<string, string> = {}, usage = 'petrascore serve --help lists every option'): Promise<void> {
    const result = await runCli(args, { env });
    expect(result.code, result.describe).toBe(2);
    expect(result.stderr, result.describe).toMatch(/^petrascore: /);
    expect(result.stderr, result.describe).toMatch(message);
    expect(result.stderr, result.describe).toContain(usage);
    expect(result.stderr, result.describe).not.toMatch(/^\s+at /m);
    if (usage.startsWith('petrascore serve')) {
      // The same line for a log pipeline that reads only the JSON on stdout.
      const fatal = result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; exit_code: number });
      expect(fatal.at(-1), result.describe).toMatchObject({ level: 60, exit_code: 2 });
      expect(result.stderr).toContain(fatal.at(-1)!.msg);
    }
    // Rejected before the bundle is even opened.
    expect(result.stdout, result.describe).not.toContain('bundle loaded');
    expect(result.stdout, result.describe).not.toContain('Server listening');
  }

  it('an unknown flag', () => expectUsageError([...serveArgs(bundle), '--bogus'], /petrascore: unknown option --bogus\n/));
  it('a mistyped flag, with the one meant', () => expectUsageError([...serveArgs(bundle), '--prot', '9000'], /unknown option --prot; did you mean --port\?/));
  it('--port abc', () => expectUsageError(['serve', bundle, '--port', 'abc'], /--port must be a whole number, got 'abc'/));
  it('--port beyond 65535', () => expectUsageError(['serve', bundle, '--port', '70000'], /must be at most 65535, got 70000/));
  it('--port without a value', () => expectUsageError(['serve', bundle, '--port'], /petrascore: --port needs a value/));
  it('--port -1 (a value that begins with a dash): one line saying how to give it', () =>
    expectUsageError(['serve', bundle, '--port', '-1'], /^petrascore: --port needs a value, and the next argument begins with a dash; give a value that does so as --port=VALUE\n\(petrascore serve --help/));
  it('PETRASCORE_PORT=abc names the variable', () => expectUsageError(['serve', bundle], /PETRASCORE_PORT must be a whole number, got 'abc'/, { PETRASCORE_PORT: 'abc' }));
  it('PETRASCORE_SCORE_EVERY_EVENT=maybe', () => expectUsageError(['serve', bundle], /PETRASCORE_SCORE_EVERY_EVENT must be true or false, got 'maybe'/, { PETRASCORE_SCORE_EVERY_EVENT: 'maybe' }));
  it('PETRASCORE_MAX_CONNECTIONS=-1 names the variable', () => expectUsageError(['serve', bundle], /PETRASCORE_MAX_CONNECTIONS must be a whole number, got '-1'/, { PETRASCORE_MAX_CONNECTIONS: '-1' }));
  it('--max-connections that /live streams could fill', () => expectUsageError(['serve', bundle, '--max-connections', '64'], /--max-connections 64 could all be held by \/live streams \(--live-max-subscribers 64\)/));
  it('an unknown log level', () => expectUsageError([...serveArgs(bundle), '--log-level', 'loud'], /--log-level .*must be one of .*got 'loud'/));
  it('two bundles', () => expectUsageError(['serve', bundle, bundle], /expected one bundle/));
  it('an unknown command', () => expectUsageError(['frobnicate'], /unknown command 'frobnicate'/, {}, 'Usage: petrascore <command>'));
  it('no command at all', () => expectUsageError([], /no command/, {}, 'Usage: petrascore <command>'));
});
