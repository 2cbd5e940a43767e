import { Evaluation, type StreamItem } from '../cases/streaming-evaluator.js';
import type { Net } from '../scoring/net.js';
import { activationsRecord, type ScoredRow } from '../scoring/residuals.js';
import type { AnomalyBatchItem, AnomalyResponse } from '../schemas/anomaly.js';
import type { ErrorBody } from '../schemas/common.js';

/**
 * A JSON number as JSON.stringify writes it (a non-finite activation, which a broken model could give, is null).
 * String, not JSON.stringify: V8's number-string cache answers a value printed before in a fraction of the time, and
 * residuals repeat (saturated activations). JSON.stringify served scale_200 (201 numbers an answer) 0.776× (0 of 8
 * pairs), though String keeps each new value in that cache, an old-generation table, where it later dies.
 */
function number(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/** An /anomaly answer: the score kept as its output row, the record built only if something reads it. */
export class AnomalyAnswer implements AnomalyResponse {
  constructor(
    readonly row: ScoredRow,
    readonly ignored: readonly string[],
  ) {}

  get trace_score(): number {
    return this.row.trace_score;
  }

  get per_transition_residuals(): Record<string, number> {
    return this.row.toTraceScore().per_transition_residuals;
  }

  get ignored_inputs(): string[] | undefined {
    return this.ignored.length > 0 ? [...this.ignored] : undefined;
  }
}

/** One scored /anomaly/batch item. */
export class BatchAnswer extends AnomalyAnswer {
  constructor(
    readonly index: number,
    row: ScoredRow,
    ignored: readonly string[],
  ) {
    super(row, ignored);
  }
}

/**
 * A /forward answer: the run's activations, in output order. A record cannot keep that order for ids such as "10" and
 * "9" (PETRA's sorted order): JavaScript puts integer-like keys first.
 */
export class ForwardAnswer {
  constructor(
    readonly net: Net,
    readonly activations: Float32Array,
    readonly ignored: readonly string[],
  ) {}

  get transition_activations(): Record<string, number> {
    return activationsRecord(this.net, this.activations, 0);
  }

  get ignored_inputs(): string[] | undefined {
    return this.ignored.length > 0 ? [...this.ignored] : undefined;
  }
}

/** A batch item that was refused: the error body /anomaly would have answered for it alone. */
export type BatchItemError = Extract<AnomalyBatchItem, { error: ErrorBody }>;

export interface BatchOutcome {
  results: (BatchAnswer | BatchItemError)[];
  scored: number;
  errors: number;
}

/**
 * Writes score responses straight from the output rows with the net's transition ids quoted once: the generic
 * schema serialiser walks a 200-key record per response, which cost more than the ONNX run on a 200-transition net.
 * The layout is the response schema's (a test compares the bytes with JSON.stringify of the same answer).
 */
export class ScoreJson {
  /** `{"id":` for the first scored column, `,"id":` for the others, in summation (sorted-id) order. */
  private readonly keys: string[];
  /** The same in output order, for /forward. */
  private readonly outputKeys: string[];

  constructor(private readonly net: Net) {
    this.keys = net.scoreOrder.map((column, i) => `${i === 0 ? '{' : ','}${JSON.stringify(net.outputs[column])}:`);
    this.outputKeys = net.outputs.map((id, i) => `${i === 0 ? '{' : ','}${JSON.stringify(id)}:`);
  }

  residuals(row: ScoredRow): string {
    const order = this.net.scoreOrder;
    if (order.length === 0) return '{}';
    let text = '';
    for (let i = 0; i < order.length; i++) text += this.keys[i]! + number(row.residualAt(order[i]!));
    return `${text}}`;
  }

  /** The fields of an /anomaly response, without the braces. */
  private fields(answer: AnomalyAnswer): string {
    const ignored = answer.ignored.length > 0 ? `,"ignored_inputs":${JSON.stringify(answer.ignored)}` : '';
    return `"trace_score":${number(answer.row.trace_score)},"per_transition_residuals":${this.residuals(answer.row)}${ignored}`;
  }

  anomaly = (answer: AnomalyAnswer): string => `{${this.fields(answer)}}`;

  forward = (answer: ForwardAnswer): string => {
    let activations = '';
    for (let i = 0; i < this.outputKeys.length; i++) activations += this.outputKeys[i]! + number(answer.activations[i]!);
    const ignored = answer.ignored.length > 0 ? `,"ignored_inputs":${JSON.stringify(answer.ignored)}` : '';
    return `{"transition_activations":${activations === '' ? '{}' : `${activations}}`}${ignored}}`;
  };

  /** The fields of a case evaluation, without the braces. */
  private evaluationFields(evaluation: Evaluation): string {
    return `"case_id":${JSON.stringify(evaluation.case_id)},"n_events":${evaluation.n_events},"trace_score":${number(evaluation.row.trace_score)},"per_transition_residuals":${this.residuals(evaluation.row)},"closed":${evaluation.closed}`;
  }

  /** A case evaluation (POST /cases/{id}/events with scoring, GET /cases/{id}, POST /cases/{id}/close). */
  evaluation = (evaluation: Evaluation): string => `{${this.evaluationFields(evaluation)}}`;

  /**
   * A POST /events answer: each evaluation as `evaluation` writes it, its residuals in sorted-id order as on every other
   * route (the schema serialiser wrote the record's own order: "9" before "10"), then `reopened`; acknowledgements and
   * rejections are small objects built in schema order.
   */
  stream = (answer: { accepted: number; results: readonly StreamItem[] }): string => {
    let text = `{"accepted":${answer.accepted},"results":[`;
    answer.results.forEach((item, i) => {
      if (i > 0) text += ',';
      if (!(item instanceof Evaluation)) text += JSON.stringify(item);
      else text += `{${this.evaluationFields(item)}${item.reopened === undefined ? '' : `,"reopened":${JSON.stringify(item.reopened)}`}}`;
    });
    return `${text}]}`;
  };

  batch = (outcome: BatchOutcome): string => {
    let text = '{"results":[';
    outcome.results.forEach((item, i) => {
      if (i > 0) text += ',';
      if (item instanceof BatchAnswer) text += `{"index":${item.index},${this.fields(item)}}`;
      else text += `{"index":${item.index},"error":${errorJson(item.error)}}`;
    });
    return `${text}],"scored":${outcome.scored},"errors":${outcome.errors}}`;
  };
}

/** The ErrorBody fields only, in schema order. */
function errorJson(error: ErrorBody): string {
  return JSON.stringify({ error: error.error, message: error.message, details: error.details.map((d) => ({ path: d.path, message: d.message })) });
}
