import { isSlipOf } from '../config/edit-distance.js';
import { InvalidInputError } from '../scoring/input-errors.js';
import { escapePointer } from '../scoring/inputs.js';
import { quoteValue } from '../scoring/quote-value.js';

const FIELD = 'attributes';

/**
 * Refuses an event field spelt near `attributes` (`attribute`, `Attributes`, `attributs`), at `path` (a JSON pointer
 * into the body, '' for the body itself). PETRA ignores a field it does not know, and so does petrascore: such a
 * field's values were dropped without a word, and the case found unscorable at its close for an attribute its caller
 * did send. Other fields an engine adds (ids, types, a lifecycle) are still ignored, as PETRA ignores them.
 */
export function refuseMisspeltAttributes(event: Readonly<Record<string, unknown>>, path: string): void {
  for (const key in event) {
    // Most keys are name, timestamp, attributes: the length alone rules them out before a distance is computed (a
    // slip of one letter, after dashes and underscores are dropped: two longer at most).
    if (key === FIELD || Math.abs(key.length - FIELD.length) > 2) continue;
    if (isSlipOf(key, FIELD)) {
      throw new InvalidInputError(`${path}/${escapePointer(key)}`, `${quoteValue(key)} is no field of an event (did you mean "${FIELD}"?): its values would be ignored`);
    }
  }
}
