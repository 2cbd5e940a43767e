import type { SpecSection } from './net.js';

/** A value the client supplied for an input that is not a finite number. `path` is a JSON pointer into the request. */
export class InvalidInputError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

/**
 * The sidecar's spec needs a trace attribute that is missing or not numeric. `message` for a missing attribute is
 * PETRA's KeyError text, so batch output can repeat it verbatim.
 */
export class SpecResolutionError extends Error {
  constructor(
    readonly reason: 'missing_attribute' | 'non_numeric_attribute',
    readonly attribute: string,
    readonly place: string,
    readonly section: SpecSection,
    message: string,
  ) {
    super(message);
    this.name = 'SpecResolutionError';
  }
}
