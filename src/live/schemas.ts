import { Type } from '@sinclair/typebox';
import { MAX_CASE_ID_LENGTH } from '../schemas/cases.js';
import { errorResponse, refTo } from '../schemas/common.js';
import { BUS_EVENT_TYPES, LIVE_EVENT_SCHEMAS } from './events.js';

const typeAlternatives = BUS_EVENT_TYPES.join('|');

/**
 * Each event's `type` to its schema, so that a client generator picks the variant by `type` (OpenAPI's discriminator)
 * instead of trying each in turn: the schemas overlap (a snapshot carries the fields a stats event has).
 */
function liveEventMapping(): Record<string, string> {
  return Object.fromEntries(
    LIVE_EVENT_SCHEMAS.map((schema) => {
      const type = (schema as { properties?: { type?: { const?: unknown } } }).properties?.type?.const;
      if (typeof type !== 'string' || schema.$id === undefined) throw new Error(`live event schema ${String(schema.$id)} has no type literal`);
      return [type, `#/components/schemas/${schema.$id}`];
    }),
  );
}

const filterFields = {
  lane: Type.Optional(Type.String({ minLength: 1, description: 'only this lane (events without a lane, such as stats, still pass)' })),
  case: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CASE_ID_LENGTH, description: 'only this case id (events without a case, such as stats, still pass)' })),
  min_score: Type.Optional(Type.Number({ description: 'evaluations, alerts and closes only when their trace_score is at least this; events without a score (case_opened, case_evicted, stats) pass' })),
};

export const LiveQuery = Type.Object({
  types: Type.Optional(
    Type.String({
      // Spaces around the commas are allowed (`evaluation, alert`), as people type lists; the route trims them.
      pattern: `^ *(${typeAlternatives}) *(, *(${typeAlternatives}) *)*$`,
      // What a client is told instead of the pattern when it does not match (see describe-error).
      'x-expected': `a comma-separated list of ${BUS_EVENT_TYPES.join(', ')}`,
      description: `comma-separated event types to receive (${BUS_EVENT_TYPES.join(', ')}); snapshot and gap are always sent`,
      examples: ['evaluation,alert'],
    }),
  ),
  ...filterFields,
  // The feed, unlike a snapshot, also tells a lane's reader of a case that left it.
  lane: Type.Optional(Type.String({ minLength: 1, description: 'only this lane, and the events of cases leaving it (`previous_lane`); events without a lane, such as stats, still pass' })),
  last_event_id: Type.Optional(Type.String({ maxLength: 64, description: 'resume after this id, as the Last-Event-ID header does; the header wins when both are given (an EventSource opened with this parameter sends its newer id in the header when it reconnects)' })),
  snapshot: Type.Optional(Type.Boolean({ description: 'start a fresh connection with a snapshot (default true); a resume or a gap is unaffected' })),
});

/**
 * Declared so that a client generator offers it (EventSource sends it on its own), and bounded as `last_event_id` is:
 * an id is a number of at most 19 digits, and a longer value would only be echoed back in the gap event and the log.
 */
export const LiveHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 64, description: 'resume after this id (EventSource sends it when it reconnects); wins over `last_event_id`; empty counts as none' })),
});

export const LiveSnapshotQuery = Type.Object(filterFields);

export const LiveStreamResponse = {
  description: 'text/event-stream of these events, one `data:` line of JSON each',
  content: { 'text/event-stream': { schema: Type.Union(LIVE_EVENT_SCHEMAS.map((schema) => refTo(schema)), { discriminator: { propertyName: 'type', mapping: liveEventMapping() } }) } },
};

export const liveUnavailable = errorResponse(
  'too_many_subscribers: too many /live streams (--live-max-subscribers; retry-after says when to try again); shutting_down: this instance is closing (reconnect to another); inference_unavailable: its inference worker stopped (the instance exits)',
  { 'retry-after': { type: 'integer', description: 'with too_many_subscribers: seconds to wait before reconnecting' } },
);
