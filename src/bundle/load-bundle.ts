import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { OnnxRunner, type RunnerOptions } from '../inference/onnx-runner.js';
import type { Net } from '../scoring/net.js';
import { visibleText } from '../scoring/quote-value.js';
import { BundleError } from './errors.js';
import { netFromSidecar, SidecarProblem } from './net-from-sidecar.js';
import { Sidecar } from './sidecar-schema.js';

export interface Bundle {
  readonly modelPath: string;
  readonly sidecarPath: string;
  readonly sidecar: Sidecar;
  readonly net: Net;
  readonly runner: OnnxRunner;
  readonly outputName: string;
  /** sha256 of model.onnx, lowercase hex: which model is served, as `sha256sum` names it. */
  readonly modelSha256: string;
  /** Things that work but deserve the operator's attention (derived defaults, unlabeled outputs, …). */
  readonly warnings: readonly string[];
}

const checkSidecar = TypeCompiler.Compile(Sidecar);

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  return `cannot be read (${error instanceof Error ? error.message : String(error)})`;
}

/** What a file that is not a regular one is, for the message. */
function specialKind(stats: Stats): string {
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The file's bytes, when it is a regular file: a named pipe read as one blocks until a writer comes, a device such as
 * /dev/zero never ends (the read grew by gigabytes before it was killed), so neither is read.
 */
async function readOrFail(path: string): Promise<Buffer> {
  try {
    const stats = await stat(path);
    if (stats.isDirectory()) throw new BundleError(path, 'is a directory, expected a file');
    if (!stats.isFile()) throw new BundleError(path, `is ${specialKind(stats)}, expected a file`);
    return await readFile(path);
  } catch (error) {
    if (error instanceof BundleError) throw error;
    throw new BundleError(path, describeFsError(error));
  }
}

/**
 * The model file's bytes. A directory is what an operator gives who thinks of the bundle as its folder (the README's
 * models/loan_approval): the error names the model in it to give instead, as the sidecar's does.
 */
async function readModel(path: string): Promise<Buffer> {
  const isDirectory = await stat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (isDirectory) throw new BundleError(path, await describeBundleDirectory(path));
  return readOrFail(path);
}

async function describeBundleDirectory(dir: string): Promise<string> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    // Unlistable: say only what it is.
  }
  const models = names
    .filter((name) => name.endsWith('.onnx') && names.includes(`${name}.meta.json`))
    .sort()
    .map((name) => join(dir, name));
  if (models.length === 1) return `is a directory; give the model in it: ${models[0]!}`;
  if (models.length > 1) return `is a directory; give one of the models in it: ${models.join(', ')}`;
  return 'is a directory, expected a model file (an .onnx file with its .meta.json sidecar beside it)';
}

async function readSidecar(path: string): Promise<Sidecar> {
  // A byte-order mark (some Windows editors write one) is not part of the JSON.
  let text: string;
  try {
    // JSON is UTF-8 (RFC 8259): a sidecar in another encoding would have its labels silently garbled.
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readOrFail(path)).replace(/^\uFEFF/, '');
  } catch (error) {
    if (error instanceof BundleError) throw error;
    throw new BundleError(path, 'is not valid UTF-8 (JSON must be UTF-8; was it saved in another encoding?)');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BundleError(path, `is not valid JSON (${whyNotJson(text, error as Error)})`);
  }
  if (!checkSidecar.Check(json)) {
    // TypeBox reports a missing field twice ("Expected required property", then "Expected array"): the first per path says it.
    const byPath = new Map<string, string>();
    for (const e of checkSidecar.Errors(json)) if (!byPath.has(e.path)) byPath.set(e.path, e.message);
    const problems = [...byPath].slice(0, 3).map(([path, message]) => `${path || '/'}: ${message}`);
    throw new BundleError(path, `does not match the sidecar schema: ${problems.join('; ')}`);
  }
  return json;
}

/**
 * Why JSON.parse refused the sidecar, on one line (V8 quotes the text around the error, new lines and all). Python's
 * json writes NaN and Infinity for a float that is not finite (the loss of a training that diverged) and reads them
 * back; JSON has no such values, and V8's message shows no position for them: said, with the line.
 */
function whyNotJson(text: string, error: Error): string {
  // Strings blanked out (they hold no raw line break, so the lines stay where they were): a token outside them.
  const outsideStrings = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const token = /(?<![\w.])(-?Infinity|NaN)(?![\w.])/.exec(outsideStrings);
  if (token !== null) {
    const line = outsideStrings.slice(0, token.index).split('\n').length;
    return `line ${line}: ${token[1]}, which Python's json writes for a float that is not finite, such as the loss of a training that diverged, is no JSON value`;
  }
  return visibleText(error.message.replace(/\s*\n\s*/g, ' '));
}

/** Checks the graph's inputs and output against what the sidecar promises, so a mismatched pair never serves. */
function checkGraph(runner: OnnxRunner, net: Net, outputName: string, modelPath: string): void {
  const expected = net.inputs.map((i) => i.name);
  const actual = runner.inputNames;
  const missing = expected.filter((n) => !actual.includes(n));
  const extra = actual.filter((n) => !expected.includes(n));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [missing.length > 0 ? `lacks inputs the sidecar declares: ${missing.join(', ')}` : '', extra.length > 0 ? `has inputs the sidecar does not declare: ${extra.join(', ')}` : ''];
    throw new BundleError(modelPath, `graph ${parts.filter(Boolean).join('; ')}`);
  }
  const description = runner.describe();
  for (const input of description.inputs) {
    if (input.type !== 'float32') throw new BundleError(modelPath, `graph input '${input.name}' is ${input.type ?? 'not a tensor'}, expected float32`);
    checkBatchAxis(modelPath, input.name, input.shape);
  }
  const output = description.outputs.find((o) => o.name === outputName);
  if (output === undefined) throw new BundleError(modelPath, `graph has no output '${outputName}' (outputs: ${runner.outputNames.join(', ')})`);
  const width = output.shape?.[1];
  if (typeof width === 'number' && width !== net.outputs.length) {
    throw new BundleError(modelPath, `graph output '${outputName}' has ${width} columns, but the sidecar lists ${net.outputs.length} output_transitions`);
  }
}

/**
 * An input exported without a dynamic batch axis takes exactly as many rows as the export's example had (usually 1):
 * onnxruntime refuses any other count, so the graph would pass the one-row warm-up and then fail every batched run
 * (score, /anomaly/batch, concurrent requests sharing a run). A fixed output shape alone does no harm: onnxruntime
 * only checks inputs.
 */
function checkBatchAxis(modelPath: string, input: string, shape: readonly (number | string)[] | undefined): void {
  const rows = shape?.[0];
  if (typeof rows === 'number' && rows > 0) {
    throw new BundleError(
      modelPath,
      `graph input '${input}' has a fixed batch size of ${rows} (shape [${shape!.join(', ')}]), but petrascore runs many rows at once: export it with a dynamic batch axis (torch.onnx.export's dynamic_axes, as PETRA's export_onnx does)`,
    );
  }
}

/**
 * Files → a servable bundle: sidecar read and validated, ONNX session opened, graph checked against the sidecar and
 * one warm-up inference run. Every failure is a BundleError naming the file.
 */
export async function loadBundle(modelFile: string, options: RunnerOptions = {}): Promise<Bundle> {
  const modelPath = resolve(modelFile);
  if (modelPath.endsWith('.meta.json')) {
    throw new BundleError(modelPath, `is a sidecar; give the model beside it: ${modelPath.slice(0, -'.meta.json'.length)}`);
  }
  const sidecarPath = `${modelPath}.meta.json`;
  const model = await readModel(modelPath);
  const sidecar = await readSidecar(sidecarPath);
  let derived;
  try {
    derived = netFromSidecar(sidecar);
  } catch (error) {
    if (error instanceof SidecarProblem) throw new BundleError(sidecarPath, error.message);
    throw error;
  }
  const { net, warnings } = derived;
  const outputName = sidecar.output_name ?? 'activations';
  let runner: OnnxRunner;
  try {
    runner = await OnnxRunner.open(model, net, outputName, options);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new BundleError(modelPath, `cannot be loaded as an ONNX model (${reason})`);
  }
  try {
    checkGraph(runner, net, outputName, modelPath);
    await runner.run(net.defaultRow, 1);
  } catch (error) {
    await runner.close();
    if (error instanceof BundleError) throw error;
    throw new BundleError(modelPath, `warm-up inference failed (${error instanceof Error ? error.message : String(error)})`);
  }
  const modelSha256 = createHash('sha256').update(model).digest('hex');
  return { modelPath, sidecarPath, sidecar, net, runner, outputName, modelSha256, warnings };
}
