/** A bundle that cannot be served. The message names the file and the problem, so startup can print it as one line. */
export class BundleError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'BundleError';
  }
}
