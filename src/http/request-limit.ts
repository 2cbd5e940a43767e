/** More items in one request than the configured limit allows (answered with 413). */
export class RequestLimitError extends Error {
  constructor(
    readonly path: string,
    readonly count: number,
    readonly max: number,
    what: string,
  ) {
    super(`${path} has ${count} ${what}, more than the ${max} allowed in one request (--max-events-per-request)`);
    this.name = 'RequestLimitError';
  }
}

export function checkCount(path: string, count: number, max: number, what: string): void {
  if (count > max) throw new RequestLimitError(path, count, max, what);
}
