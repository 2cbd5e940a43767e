import { compareCodePoints, type InputSlot, type Net, type SpecEntry, type SpecSection } from '../scoring/net.js';
import { parsePythonFloat } from '../scoring/python-float.js';
import type { Sidecar } from './sidecar-schema.js';

/** A problem with the sidecar's content; the loader prefixes the file name. */
export class SidecarProblem extends Error {}

export interface DerivedNet {
  net: Net;
  warnings: string[];
}

export function inputName(channel: 'marking' | 'value', place: string): string {
  return `${channel}__${place}`;
}

/** PETRA's `_resolve_attribute_spec` grammar (1c), checked once at startup so a bad spec never reaches a request. */
function parseSpec(raw: Record<string, unknown> | undefined, section: SpecSection, slots: ReadonlyMap<string, number>, warnings: string[]): SpecEntry[] {
  const entries: SpecEntry[] = [];
  for (const [place, table] of Object.entries(raw ?? {})) {
    const where = `${section}_spec.${place}`;
    if (typeof table !== 'object' || table === null || Array.isArray(table)) {
      throw new SidecarProblem(`${where} must be a table { attribute = "name" } or { constant = C }, got ${JSON.stringify(table)}`);
    }
    const entry = table as Record<string, unknown>;
    const slot = slots.get(place) ?? -1;
    if (slot < 0) {
      const noInput = `${where} names place '${place}', which is no ONNX input of the ${section === 'input_marking' ? 'marking' : 'value'} channel: its value does not reach the model`;
      // PETRA resolves every entry of the spec before it looks at the model's inputs.
      const stillRead = typeof entry.attribute === 'string' && !('constant' in entry) ? `, but as in PETRA a trace scored through the specs must still carry attribute '${entry.attribute}' as a number` : '';
      warnings.push(noInput + stillRead);
    }
    if ('constant' in entry) {
      const constant = entry.constant;
      const value =
        typeof constant === 'number' ? constant : typeof constant === 'boolean' ? Number(constant) : typeof constant === 'string' ? parsePythonFloat(constant) : undefined;
      if (value === undefined || !Number.isFinite(value)) throw new SidecarProblem(`${where}.constant must be a finite number, got ${JSON.stringify(constant)}`);
      // As for input_defaults: the model's inputs are float32, and would read it as infinite in every trace.
      if (!Number.isFinite(Math.fround(value))) throw new SidecarProblem(`${where}.constant is ${value}, beyond float32's range (±3.4e38): the model would read it as infinite`);
      entries.push({ place, slot, source: { kind: 'constant', value } });
    } else if ('attribute' in entry) {
      if (typeof entry.attribute !== 'string' || entry.attribute === '') throw new SidecarProblem(`${where}.attribute must be a non-empty string, got ${JSON.stringify(entry.attribute)}`);
      entries.push({ place, slot, source: { kind: 'attribute', attribute: entry.attribute } });
    } else {
      throw new SidecarProblem(`${section} entry for '${place}' must declare either 'attribute' or 'constant'; got ${JSON.stringify(entry)}`);
    }
  }
  return entries;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === b.length && b.every((x) => set.has(x));
}

function duplicate(list: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const x of list) {
    if (seen.has(x)) return x;
    seen.add(x);
  }
  return undefined;
}

/** Derives everything scoring needs from a schema-valid sidecar. */
export function netFromSidecar(sidecar: Sidecar): DerivedNet {
  const warnings: string[] = [];
  for (const [field, list] of [
    ['input_marking_places', sidecar.input_marking_places],
    ['input_value_places', sidecar.input_value_places],
    ['output_transitions', sidecar.output_transitions],
  ] as const) {
    const dup = duplicate(list);
    if (dup !== undefined) throw new SidecarProblem(`${field} lists '${dup}' twice`);
  }

  const derivedDefaults = sidecar.input_defaults === undefined;
  const initial = sidecar.initial_marking ?? {};
  const inputs: InputSlot[] = [];
  const markingSlot = new Map<string, number>();
  const valueSlot = new Map<string, number>();
  const addSlot = (channel: 'marking' | 'value', place: string): void => {
    const name = inputName(channel, place);
    const defaultValue = derivedDefaults ? (channel === 'value' ? 1 : Object.hasOwn(initial, place) ? 1 : 0) : (sidecar.input_defaults![name] ?? Number.NaN);
    (channel === 'marking' ? markingSlot : valueSlot).set(place, inputs.length);
    inputs.push({ name, place, channel, defaultValue });
  };
  sidecar.input_marking_places.forEach((place) => addSlot('marking', place));
  sidecar.input_value_places.forEach((place) => addSlot('value', place));
  if (inputs.length === 0) throw new SidecarProblem('declares no ONNX inputs (input_marking_places and input_value_places are both empty)');

  // The places first: a wrong place list also shows as missing defaults, which would hide the real fault.
  if (sidecar.onnx_input_names !== undefined && !sameSet(sidecar.onnx_input_names, inputs.map((i) => i.name))) {
    throw new SidecarProblem(
      `onnx_input_names ${JSON.stringify(sidecar.onnx_input_names)} disagree with input_marking_places/input_value_places, which give ${JSON.stringify(inputs.map((i) => i.name))}`,
    );
  }
  if (sidecar.places !== undefined) {
    const places = new Set(sidecar.places);
    const missing = inputs.find((i) => !places.has(i.place));
    if (missing !== undefined) throw new SidecarProblem(`places does not list '${missing.place}', an input place of input_${missing.channel === 'marking' ? 'marking' : 'value'}_places`);
  }
  if (derivedDefaults) {
    warnings.push(
      `input_defaults absent: derived from initial_marking (${inputs.map((i) => `${i.name}=${i.defaultValue}`).join(', ')}); ` +
        'this is right only for source places — a non-source marking input needs the activation PETRA computes, so add input_defaults to the sidecar',
    );
  } else {
    for (const input of inputs) {
      if (!Object.hasOwn(sidecar.input_defaults!, input.name)) throw new SidecarProblem(`input_defaults has no entry for ONNX input '${input.name}'`);
      // The model's inputs are float32: a default beyond its range would be fed as ±Infinity whenever a request omits it.
      if (!Number.isFinite(Math.fround(input.defaultValue))) {
        throw new SidecarProblem(`input_defaults/${input.name} is ${input.defaultValue}, beyond float32's range (±3.4e38): the model would read it as infinite`);
      }
    }
    const declared = new Set(inputs.map((i) => i.name));
    for (const name of Object.keys(sidecar.input_defaults!)) {
      if (!declared.has(name)) warnings.push(`input_defaults has an entry for '${name}', which is no ONNX input the sidecar declares; it is ignored`);
    }
  }

  const outputs = sidecar.output_transitions;
  const labels: Record<string, string> = {};
  for (const t of outputs) labels[t] = sidecar.transition_labels[t] ?? t;
  for (const t of outputs) if (!Object.hasOwn(sidecar.transition_labels, t)) warnings.push(`transition_labels has no label for output '${t}'; its id is used as label`);

  const scoreOrder = outputs.map((_, column) => column).sort((a, b) => compareCodePoints(outputs[a]!, outputs[b]!));
  const labelColumn = new Map<string, number>();
  for (const column of scoreOrder) labelColumn.set(labels[outputs[column]!]!, column);

  const defaultRow = new Float32Array(inputs.map((i) => i.defaultValue));
  return {
    net: {
      scenarioName: sidecar.scenario_name ?? 'unnamed',
      inputs,
      markingSlot,
      valueSlot,
      outputs,
      labels,
      labelColumn,
      scoreOrder,
      markingSpec: parseSpec(sidecar.input_marking_spec as Record<string, unknown> | undefined, 'input_marking', markingSlot, warnings),
      valuesSpec: parseSpec(sidecar.input_values_spec as Record<string, unknown> | undefined, 'input_values', valueSlot, warnings),
      defaultRow,
    },
    warnings,
  };
}
