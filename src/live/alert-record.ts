import type { AlertEvent, EvaluationSource } from './events.js';
import type { Explainer, Ranking } from './explain.js';

export interface AlertFacts {
  evaluationId: number;
  caseId: string;
  lane: string;
  source: EvaluationSource;
  nEvents: number;
  traceScore: number;
  threshold: number;
  closed: boolean;
  ranking: Ranking;
}

/**
 * An alert as numbers: its explanation's words (a text per transition, the one-sentence summary) are built when the
 * alert is read — by a subscriber, a snapshot or a webhook — not for every alert raised. With a few percent of traces
 * anomalous, formatting every explanation at once was a tenth of the service's time.
 */
export class AlertRecord {
  readonly type = 'alert';
  id = 0;
  /** Publication time, epoch milliseconds. */
  tsMs = 0;

  constructor(
    private readonly explainer: Explainer,
    readonly facts: AlertFacts,
  ) {}

  get lane(): string {
    return this.facts.lane;
  }

  get case_id(): string {
    return this.facts.caseId;
  }

  get trace_score(): number {
    return this.facts.traceScore;
  }

  toEvent(): AlertEvent {
    const f = this.facts;
    const explanation = this.explainer.items(f.ranking);
    const omitted = f.ranking.omitted;
    return {
      type: 'alert',
      id: this.id,
      ts: new Date(this.tsMs).toISOString(),
      evaluation_id: f.evaluationId,
      case_id: f.caseId,
      lane: f.lane,
      source: f.source,
      n_events: f.nEvents,
      trace_score: f.traceScore,
      threshold: f.threshold,
      closed: f.closed,
      explanation,
      ...(omitted > 0 ? { explanation_omitted: omitted } : {}),
      summary: this.explainer.summary(f.caseId, f.traceScore, f.threshold, explanation, omitted),
    };
  }
}
