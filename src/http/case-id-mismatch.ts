import { InvalidInputError } from '../scoring/input-errors.js';
import { quoteValue } from '../scoring/quote-value.js';

/**
 * Refuses an event posted to one case's path whose body names another case. Other fields an engine adds are ignored
 * (PETRA ignores them), but this one says the caller meant a different case: storing the event under the path's id
 * would feed it silently into the wrong case (a URL template filled from a stale variable, say). The same id (an
 * engine's numeric id as its decimal text too), or none, is fine; a case_id that is no id at all (null, an object) is
 * left alone like any other field.
 */
export function refuseOtherCaseId(event: Readonly<Record<string, unknown>>, pathId: string): void {
  const named = event.case_id;
  if ((typeof named !== 'string' && typeof named !== 'number') || String(named) === pathId) return;
  throw new InvalidInputError(
    '/case_id',
    `names case ${quoteValue(named)}, but the event was posted to case ${quoteValue(pathId)}: post it to that case's path, or leave case_id out`,
  );
}
