import type { RequestInputs } from '../scoring/inputs.js';

/** More items in one request than the configured limit allows (answered with 413). */
export class RequestLimitError extends Error {
  constructor(
    readonly path: string,
    readonly count: number,
    readonly max: number,
    what: string,
    setting = '--max-events-per-request',
  ) {
    super(`${path} has ${count} ${what}, more than the ${max} allowed in one request (${setting})`);
    this.name = 'RequestLimitError';
  }
}

export function checkCount(path: string, count: number, max: number, what: string): void {
  if (count > max) throw new RequestLimitError(path, count, max, what);
}

/**
 * An answer with a residual per scored transition for each of `items` (traces, scored events) is written in one piece
 * on the event loop: 10,000 traces of scale_200 made 57 MB and held the loop for more than a second.
 */
export function checkResiduals(path: string, items: number, what: string, transitions: number, max: number): void {
  const residuals = items * transitions;
  if (residuals > max) {
    throw new RequestLimitError(path, residuals, max, `residuals to answer (${items} ${what} × ${transitions} scored transitions)`, '--max-residuals-per-request');
  }
}

/**
 * input_marking and input_values may each name at most `max` inputs. A net's own places are few; keys that are no input
 * are listed back in ignored_inputs (and echoed by /sensitivity's gradients), so without a cap a body of short unknown
 * keys made an answer twice its size and held the event loop for most of a second.
 */
export function checkInputCounts(inputs: RequestInputs, max: number): void {
  if (inputs.input_marking && countsOver(inputs.input_marking, max)) checkCount('body/input_marking', Object.keys(inputs.input_marking).length, max, 'inputs');
  if (inputs.input_values && countsOver(inputs.input_values, max)) checkCount('body/input_values', Object.keys(inputs.input_values).length, max, 'inputs');
}

/** One /anomaly trace's limits (a whole request's, or one item of /anomaly/batch): its events and its input keys. */
export function checkTraceLimits(trace: RequestInputs & { events: readonly unknown[] }, max: number): void {
  checkCount('body/events', trace.events.length, max, 'events');
  checkInputCounts(trace, max);
}

/** Whether `map` has more than `max` keys, without an array of them (this runs for every /anomaly request). */
function countsOver(map: object, max: number): boolean {
  let count = 0;
  for (const key in map) if (Object.hasOwn(map, key) && ++count > max) return true;
  return false;
}
