import type { BusEventType } from './events.js';

/**
 * What one subscriber wants. Every condition given must hold; an event that does not carry the field a condition
 * looks at (stats has no lane or case, case_opened no score) passes that condition.
 */
export interface LiveFilter {
  types?: ReadonlySet<BusEventType> | undefined;
  lane?: string | undefined;
  caseId?: string | undefined;
  minScore?: number | undefined;
}

/** What a filter looks at: a bus event, or a ring slot that holds one. */
export interface FilterSubject {
  readonly type: BusEventType;
  readonly lane?: string | undefined;
  /** The lane a case left with this event (its attribute changed): a reader of that lane learns it went. */
  readonly previous_lane?: string | undefined;
  readonly case_id?: string | undefined;
  readonly trace_score?: number | undefined;
}

export function matchesFilter(filter: LiveFilter, event: FilterSubject): boolean {
  if (filter.types !== undefined && !filter.types.has(event.type)) return false;
  if (event.type === 'stats') return true;
  if (filter.lane !== undefined && event.lane !== filter.lane && event.previous_lane !== filter.lane) return false;
  if (filter.caseId !== undefined && event.case_id !== filter.caseId) return false;
  if (filter.minScore !== undefined && event.trace_score !== undefined && event.trace_score < filter.minScore) return false;
  return true;
}

/** A reader of alerts alone: it can resume from the ring's alert history after the ring itself has moved on. */
export function readsAlertsOnly(filter: LiveFilter): boolean {
  return filter.types !== undefined && filter.types.size === 1 && filter.types.has('alert');
}

export function describeFilter(filter: LiveFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (filter.types !== undefined) out.types = [...filter.types];
  if (filter.lane !== undefined) out.lane = filter.lane;
  if (filter.caseId !== undefined) out.case = filter.caseId;
  if (filter.minScore !== undefined) out.min_score = filter.minScore;
  return out;
}
