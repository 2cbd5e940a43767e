import type { EvictionReason } from './case-store.js';

/** The per-case limits, by the error class an event beyond one is refused with. */
export const CASE_LIMITS = ['max_events_per_case', 'max_attributes_per_case', 'max_attribute_chars_per_case'] as const;
export type CaseLimit = (typeof CASE_LIMITS)[number];

/** A per-case limit would be exceeded; the event is rejected whole and the case is left as it was. */
export class CaseLimitError extends Error {
  constructor(
    readonly caseId: string,
    readonly limit: CaseLimit,
    readonly max: number,
    message: string,
  ) {
    super(message);
    this.name = 'CaseLimitError';
  }
}

/**
 * A change to the open cases after they were saved for the restart (--case-state-file): a shutdown that timed out, or
 * was cut short by a second signal, saves with requests still running, and the process exits moments later. An event
 * acknowledged then would be missing from the file; refused, the caller sends it again, to the next instance.
 */
export class CasesSavedError extends Error {
  constructor() {
    super('the server is shutting down and has saved its open cases for the restart; send this request again, to the restarted instance or another');
    this.name = 'CasesSavedError';
  }
}

/** How a case no longer open ended, as far as the evaluator still remembers (EndedCases). */
export interface EndedCase {
  kind: 'closed' | 'evicted';
  /** For an eviction: why (EVICTION_REASONS). */
  reason?: EvictionReason | undefined;
  nEvents: number;
  atMs: number;
}

export class UnknownCaseError extends Error {
  constructor(
    readonly caseId: string,
    readonly ended?: EndedCase | undefined,
    /** Whether a repeated close answers the final evaluation again (--repeat-close), for the words. */
    repeatsCloses = false,
    now: number = Date.now(),
  ) {
    super(`no open case '${caseId}'${ended === undefined ? '' : `: ${howItEnded(ended, repeatsCloses, now)}`}`);
    this.name = 'UnknownCaseError';
  }
}

/** How a case ended, in a word or two (the `x-petrascore-reopened` header's values, as the OpenAPI document lists them). */
export const ENDINGS = ['closed', 'deleted', 'evicted (idle)', 'evicted (capacity)', 'evicted (attribute capacity)'] as const;
type Ending = (typeof ENDINGS)[number];

const EVICTED: Record<EvictionReason, Ending> = {
  idle: 'evicted (idle)',
  capacity: 'evicted (capacity)',
  attribute_capacity: 'evicted (attribute capacity)',
  deleted: 'deleted',
};

export function endingOf(ended: EndedCase): Ending {
  return ended.kind === 'closed' ? 'closed' : EVICTED[ended.reason ?? 'idle'];
}

function howItEnded(ended: EndedCase, repeatsCloses: boolean, now: number): string {
  const ago = `${Math.max(0, Math.round((now - ended.atMs) / 1000))} s ago, after ${ended.nEvents} event${ended.nEvents === 1 ? '' : 's'}`;
  const how = endingOf(ended);
  const next =
    ended.kind === 'closed' && repeatsCloses
      ? '; a repeated close answers its final evaluation again, and an event under this id starts a new case'
      : '; an event under this id starts a new case';
  return `it was ${how} ${ago}${next}`;
}
