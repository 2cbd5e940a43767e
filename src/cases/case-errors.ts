/** A per-case limit would be exceeded; the event is rejected whole and the case is left as it was. */
export class CaseLimitError extends Error {
  constructor(
    readonly caseId: string,
    readonly limit: 'max_events_per_case' | 'max_attributes_per_case',
    readonly max: number,
    message: string,
  ) {
    super(message);
    this.name = 'CaseLimitError';
  }
}

export class UnknownCaseError extends Error {
  constructor(readonly caseId: string) {
    super(`no open case '${caseId}'`);
    this.name = 'UnknownCaseError';
  }
}
