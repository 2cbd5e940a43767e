export type Channel = 'marking' | 'value';
export type SpecSection = 'input_marking' | 'input_values';

/** One ONNX input: `marking__<place>` or `value__<place>`, and what to feed when a request omits it. */
export interface InputSlot {
  readonly name: string;
  readonly place: string;
  readonly channel: Channel;
  readonly defaultValue: number;
}

/** A validated entry of `input_marking_spec` / `input_values_spec` (PETRA's `_resolve_attribute_spec`). */
export type SpecSource = { readonly kind: 'constant'; readonly value: number } | { readonly kind: 'attribute'; readonly attribute: string };

export interface SpecEntry {
  readonly place: string;
  readonly source: SpecSource;
  /** Index into `Net.inputs`, or -1 when the spec names a place that is no ONNX input (PETRA would not export that). */
  readonly slot: number;
}

/**
 * Everything PETRA's scoring needs to know about a net, derived once from the sidecar: input slots with defaults,
 * output columns, the label → column map and the summation order. Knows nothing of ONNX sessions or HTTP.
 */
export interface Net {
  readonly scenarioName: string;
  readonly inputs: readonly InputSlot[];
  readonly markingSlot: ReadonlyMap<string, number>;
  readonly valueSlot: ReadonlyMap<string, number>;
  /** Transition ids of the ONNX output columns. */
  readonly outputs: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Event name → output column; for shared labels the last transition in sorted-id order wins, as in PETRA. */
  readonly labelColumn: ReadonlyMap<string, number>;
  /** Output columns in PETRA's summation order (transition ids sorted by code point). */
  readonly scoreOrder: readonly number[];
  readonly markingSpec: readonly SpecEntry[];
  readonly valuesSpec: readonly SpecEntry[];
  /** Input row with every default filled in; copy it before overriding. */
  readonly defaultRow: Float32Array;
}

/** The attributes the net's specs read (marking first, then values), each once: all a trace's attributes can change. */
export function specAttributes(net: Net): string[] {
  const names = [...net.markingSpec, ...net.valuesSpec].flatMap((entry) => (entry.source.kind === 'attribute' ? [entry.source.attribute] : []));
  return [...new Set(names)];
}

export function labelOf(net: Net, transition: string): string {
  return net.labels[transition] ?? transition;
}

/** Python's default string order compares code points; JS `<` compares UTF-16 units, which differs past U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}
