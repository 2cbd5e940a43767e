import { describeModel } from '../bundle/describe-model.js';
import { modelJson } from '../bundle/model-json.js';
import { BundleError } from '../bundle/errors.js';
import { loadBundle, type Bundle } from '../bundle/load-bundle.js';
import { EXIT } from './exit-codes.js';
import { quietWhenStdoutCloses } from './standard-streams.js';

const INSPECT_USAGE = `Usage: petrascore inspect BUNDLE.onnx [--json]

Prints what a bundle expects: scenario, input places per channel with their defaults, the attribute
each spec reads, the scored transitions with labels, the opset. --json prints GET /schema's document.`;

const VALIDATE_USAGE = `Usage: petrascore validate BUNDLE.onnx

Loads the bundle as 'serve' would (sidecar schema, graph against sidecar, one inference) and exits
0 when it can be served, 1 with the first problem found when not (2: a usage error).`;

function specText(spec: unknown): string {
  if (spec === undefined) return 'requests only (no spec entry; otherwise the default)';
  const entry = spec as { attribute?: unknown; constant?: unknown };
  if (entry.constant !== undefined) return `constant ${JSON.stringify(entry.constant)}`;
  return `attribute '${String(entry.attribute)}'`;
}

export function renderInspection(bundle: Bundle): string {
  const model = describeModel(bundle);
  const lines = [`bundle     ${bundle.modelPath}`, `scenario   ${model.scenario_name}${model.scenario_description ? ` — ${model.scenario_description}` : ''}`];
  lines.push(`versions   PETRA ${model.versions.petra ?? 'unknown'}, opset ${model.versions.opset ?? 'unknown'}, output '${bundle.outputName}'`);
  for (const [channel, inputs] of [['marking', model.inputs.marking], ['values', model.inputs.values]] as const) {
    lines.push('', `${channel} inputs${inputs.length === 0 ? ': none' : ''}`);
    for (const input of inputs) lines.push(`  ${input.place.padEnd(24)} default ${String(input.default).padEnd(12)} from ${specText(input.spec)}`);
  }
  lines.push('', `scored transitions (${model.scored_transitions.length}, ONNX output order)`);
  for (const id of model.scored_transitions) lines.push(`  ${id.padEnd(24)} ${JSON.stringify(model.transitions[id] ?? id)}`);
  if (bundle.warnings.length > 0) lines.push('', 'warnings', ...bundle.warnings.map((w) => `  ${w}`));
  return `${lines.join('\n')}\n`;
}

/** The bundle named by the arguments, or why there is none (already said on stderr): each command has its exit codes. */
type Loaded = { bundle: Bundle; json: boolean } | { bundle: undefined; failure: 'usage' | 'bad_bundle' };

async function load(argv: readonly string[], usage: string, options: readonly string[] = []): Promise<Loaded> {
  const json = options.includes('--json') && argv.includes('--json');
  const positionals = argv.filter((a) => !options.includes(a));
  const unknown = positionals.filter((a) => a.startsWith('-'));
  if (positionals.length !== 1 || unknown.length > 0) {
    process.stderr.write(`petrascore: ${unknown.length > 0 ? `unknown option ${unknown[0]}` : 'expected one BUNDLE.onnx'}\n\n${usage}\n`);
    return { bundle: undefined, failure: 'usage' };
  }
  try {
    return { bundle: await loadBundle(positionals[0]!), json };
  } catch (error) {
    if (error instanceof BundleError) {
      process.stderr.write(`petrascore: bad bundle: ${error.message}\n`);
      return { bundle: undefined, failure: 'bad_bundle' };
    }
    throw error;
  }
}

/** `petrascore inspect`. */
export async function inspect(argv: readonly string[]): Promise<number> {
  quietWhenStdoutCloses();
  if (argv.includes('--help')) {
    process.stdout.write(`${INSPECT_USAGE}\n`);
    return EXIT.ok;
  }
  const loaded = await load(argv, INSPECT_USAGE, ['--json']);
  if (loaded.bundle === undefined) return EXIT.usage;
  const { bundle, json } = loaded;
  process.stdout.write(json ? `${modelJson(describeModel(bundle), 2)}\n` : renderInspection(bundle));
  await bundle.runner.close();
  return EXIT.ok;
}

/** `petrascore validate`: the bundle loads, agrees with its graph and runs one inference. */
export async function validate(argv: readonly string[]): Promise<number> {
  quietWhenStdoutCloses();
  if (argv.includes('--help')) {
    process.stdout.write(`${VALIDATE_USAGE}\n`);
    return EXIT.ok;
  }
  const loaded = await load(argv, VALIDATE_USAGE);
  // As documented: 1 for a bundle that cannot be served, 2 for a usage error.
  if (loaded.bundle === undefined) return loaded.failure === 'usage' ? EXIT.usage : EXIT.failure;
  const { bundle } = loaded;
  for (const warning of bundle.warnings) process.stderr.write(`warning: ${warning}\n`);
  process.stdout.write(`ok: ${bundle.modelPath} (${bundle.net.scenarioName}: ${bundle.net.inputs.length} inputs, ${bundle.net.outputs.length} scored transitions) loads and runs\n`);
  await bundle.runner.close();
  return EXIT.ok;
}
