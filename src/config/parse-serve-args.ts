import { isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { parseArgsProblem, repeatedOption } from '../cli/parse-args-error.js';
import { defaultConfig, describeOption, SERVE_OPTIONS, type OptionSpec, type ServeConfig } from './options.js';
import { editDistance } from './edit-distance.js';

/** A mistake on the command line or in the environment; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {}

/**
 * Whether listening on both addresses, one port, collides: the same address, or a wildcard covering the other one
 * (0.0.0.0 every IPv4 address; ::, dual-stack as Node listens on it, every address). Host names are not resolved, but
 * localhost is the loopback address it names in every resolver's hosts file: `--host localhost --admin-host 127.0.0.1`
 * would otherwise pass here and fail at listen with "the port is in use", read as another process's doing.
 */
function addressesOverlap(a: string, b: string): boolean {
  return listenAddresses(a).some((x) => listenAddresses(b).some((y) => addressPairOverlaps(x, y)));
}

function listenAddresses(host: string): string[] {
  const name = canonicalAddress(host).replace(/\.$/, '');
  return name === 'localhost' ? ['127.0.0.1', '::1'] : [name];
}

/**
 * One spelling per address, as the WHATWG URL parser writes a host (lower case, IPv6 compressed, IPv4 in any of the
 * forms inet_aton reads, `127.000.000.001` or `0x7f.1`, in dotted decimal), an IPv4-mapped IPv6 address as its IPv4
 * one (dual-stack, they are the same socket address): `::1` and `0:0:0:0:0:0:0:1` are one address to listen on.
 */
function canonicalAddress(host: string): string {
  try {
    if (!isIPv6(host)) return new URL(`http://${host}/`).hostname;
    const v6 = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
    if (mapped === null) return v6;
    const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  } catch {
    // Not a URL host (an IPv6 zone index, `fe80::1%eth0`): compared as written.
    return host.toLowerCase();
  }
}

function addressPairOverlaps(a: string, b: string): boolean {
  if (a === b || a === '::' || b === '::') return true;
  if (a === '0.0.0.0') return !isIPv6(b);
  return b === '0.0.0.0' && !isIPv6(a);
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const FALSE = new Set(['0', 'false', 'no', 'off']);

function convert(option: OptionSpec, raw: string | boolean, source: string): string | number | boolean {
  if (option.kind === 'string' || option.kind === 'list') {
    // Whitespace around a value is ignored, as for numbers: a trailing space in a .env file or a ConfigMap is invisible.
    const text = typeof raw === 'string' ? raw.trim() : '';
    // An option whose default is empty says what empty means (--case-state-file: none): a generated argument list
    // (`--case-state-file $(STATE)`, STATE unset) may give it so.
    if (text === '' && option.default === '') return '';
    if (text === '') throw new UsageError(`${source} needs a value`);
    if (option.choices !== undefined) {
      // The choices are lower case words (log levels, thread settings): INFO means info.
      const choice = text.toLowerCase();
      if (!option.choices.includes(choice)) throw new UsageError(`${source} must be one of ${option.choices.join(', ')}, got '${String(raw)}'`);
      return choice;
    }
    const problem = option.check?.(text);
    if (problem !== undefined) throw new UsageError(`${source}: ${problem}`);
    return text;
  }
  if (option.kind === 'number') {
    const text = String(raw).trim();
    // Decimal numerals only: Number() would also read '0x10' as 16 and '' as 0.
    const value = DECIMAL.test(text) ? Number(text) : Number.NaN;
    if (!Number.isFinite(value)) throw new UsageError(`${source} must be a number, got '${String(raw)}'`);
    if (option.min !== undefined && value < option.min) throw new UsageError(`${source} must be at least ${option.min}, got ${text}`);
    if (option.max !== undefined && value > option.max) throw new UsageError(`${source} must be at most ${option.max}, got ${text}`);
    return value;
  }
  if (option.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const lower = raw.trim().toLowerCase();
    if (TRUE.has(lower)) return true;
    if (FALSE.has(lower)) return false;
    throw new UsageError(`${source} must be true or false, got '${raw}'`);
  }
  const text = String(raw).trim();
  if (!/^\d+$/.test(text)) throw new UsageError(`${source} must be a whole number, got '${String(raw)}'`);
  const value = Number(text);
  // The text is quoted back, not the number: 9007199254740993 would read as 9007199254740992, a value nobody gave.
  if (option.min !== undefined && value < option.min) throw new UsageError(`${source} must be at least ${option.min}, got ${text}`);
  const max = option.max ?? Number.MAX_SAFE_INTEGER;
  if (value > max) throw new UsageError(`${source} must be at most ${max}, got ${text}`);
  return value;
}

/** Flags win over environment variables, which win over defaults. */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ServeConfig {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const option of SERVE_OPTIONS) {
    options[option.flag] = { type: option.kind === 'boolean' ? 'boolean' : 'string', multiple: option.kind === 'list' };
    if (option.kind === 'boolean') options[`no-${option.flag}`] = { type: 'boolean' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error, Object.keys(options)));
  }
  const repeated = repeatedOption(parsed.tokens, options);
  if (repeated !== undefined) throw new UsageError(repeated);
  if (parsed.positionals.length > 1) throw new UsageError(`expected one bundle, got ${parsed.positionals.join(' ')}`);
  const config = defaultConfig() as unknown as Record<string, string | number | boolean | string[]>;
  /** The settings a flag or a variable gave (the others keep their defaults). */
  const given = new Set<string>();
  const links = new Set(serviceLinkPorts(env).map((link) => link.variable));
  for (const option of SERVE_OPTIONS) {
    if (option.kind === 'list') {
      // Flags replace the environment's list rather than add to it, as for every other option.
      const fromEnv = env[option.env];
      const fromFlags = parsed.values[option.flag];
      if (Array.isArray(fromFlags)) config[option.key] = fromFlags.map((v) => convert(option, v, `--${option.flag}`) as string);
      else if (fromEnv !== undefined && fromEnv.trim() !== '') config[option.key] = fromEnv.trim().split(/\s+/).map((v) => convert(option, v, option.env) as string);
      continue;
    }
    const fromFlag = parsed.values[option.flag];
    const negated = parsed.values[`no-${option.flag}`] === true;
    // Which one was meant cannot be told: the --no- form won whatever the order.
    if (negated && fromFlag !== undefined) throw new UsageError(`--${option.flag} and --no-${option.flag} both given; give one`);
    const fromEnv = links.has(option.env) ? undefined : env[option.env];
    // A flag wins, so the variable it overrides is not read at all (a stale bad value there does not stop the server).
    if (fromFlag !== undefined && !Array.isArray(fromFlag)) config[option.key] = convert(option, fromFlag, `--${option.flag}`);
    else if (!negated && fromEnv !== undefined && fromEnv.trim() !== '') config[option.key] = convert(option, fromEnv, option.env);
    else if (!negated) continue;
    if (negated) config[option.key] = false;
    given.add(option.key);
  }
  const positional = parsed.positionals[0];
  if (positional !== undefined && parsed.values.bundle !== undefined) {
    throw new UsageError(`give the bundle once, as the first argument or as --bundle, not both ('${positional}' and '${String(parsed.values.bundle)}')`);
  }
  // The first argument is --bundle by another name: it too wins over PETRASCORE_BUNDLE.
  if (positional !== undefined) config.bundle = positional;
  const serve = config as unknown as ServeConfig;
  // A retried close is answered from the memory of ended cases: with none, --repeat-close would quietly do nothing.
  if (serve.repeatClose && serve.endedCaseMemory === 0) {
    throw new UsageError('--repeat-close answers a retried close from the ended cases it remembers: it needs --ended-case-memory above 0');
  }
  // Below one case's limit, one case could hold more than all of them may: every other case would be evicted for it.
  // The default bound rises to a larger per-case limit (a deployment that raised that one before the bound existed
  // keeps starting); a bound given below it is a mistake to name.
  if (!given.has('maxAttributeChars') && serve.maxAttributeChars < serve.maxAttributeCharsPerCase) serve.maxAttributeChars = serve.maxAttributeCharsPerCase;
  if (serve.maxAttributeChars !== 0 && serve.maxAttributeChars < serve.maxAttributeCharsPerCase) {
    throw new UsageError(
      `--max-attribute-chars (${serve.maxAttributeChars}) bounds all open cases together: it must be 0 or at least --max-attribute-chars-per-case (${serve.maxAttributeCharsPerCase}); lower that too`,
    );
  }
  // On one port the second listen would fail with "the port is in use", which reads as another process's doing.
  if (serve.adminPort !== 0 && serve.adminPort === serve.port && addressesOverlap(serve.host, serve.adminHost === '' ? serve.host : serve.adminHost)) {
    throw new UsageError(`--admin-port ${serve.adminPort} is also --port, on the same host: the admin listener needs a port of its own (or 0 for none)`);
  }
  // Every /live stream holds a connection: a cap they could fill alone would leave none for scoring, probes or scrapes.
  if (serve.maxConnections > 0 && serve.maxConnections <= serve.liveMaxSubscribers) {
    throw new UsageError(
      `--max-connections ${serve.maxConnections} could all be held by /live streams (--live-max-subscribers ${serve.liveMaxSubscribers}), leaving no connection for requests: give --max-connections more than --live-max-subscribers, or 0 for no cap`,
    );
  }
  return serve;
}


const PREFIX = 'PETRASCORE_';

export interface UnknownVariable {
  variable: string;
  /** The setting's variable it is nearest to, when that is a likely misspelling of it. */
  closest: string | undefined;
}

/**
 * Kubernetes gives every pod variables for each Service of its namespace (Docker's links did the same): a Service named
 * petrascore brings PETRASCORE_SERVICE_HOST, PETRASCORE_SERVICE_PORT, PETRASCORE_PORT_8000_TCP… and
 * PETRASCORE_PORT=tcp://10.0.0.1:8000. None of them is a setting, and the last is not a port. A Service named
 * petrascore-<name> (a canary's, say; a headless Service, with no cluster IP, brings none) brings the same under
 * PETRASCORE_<NAME>_…: eight warnings at every start, about variables nobody set, would teach the reader to skip the
 * one about a real typo.
 */
const SERVICE_LINK = /^PETRASCORE_(?:[A-Z0-9_]+_)?(?:SERVICE_(?:HOST|PORT)(?:_.+)?|PORT_\d+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)$/;
/** PETRASCORE_<NAME>_PORT, a link of Service petrascore-<name> when its value is one (PETRASCORE_PORT is a setting). */
const OTHER_SERVICE_PORT = /^PETRASCORE_[A-Z0-9_]+_PORT$/;

/** A port variable as a service link sets it (`tcp://10.0.0.1:8000`). */
function isServiceLinkPort(value: string | undefined): boolean {
  return value !== undefined && /^(?:tcp|udp|sctp):\/\//i.test(value.trim());
}

/** A setting's variable that a Service's link sets too: PETRASCORE_PORT (Service petrascore), PETRASCORE_ADMIN_PORT (petrascore-admin). */
const LINKED_SETTING = /^PETRASCORE_(?:([A-Z0-9_]+)_)?PORT$/;

export interface ServiceLinkPort {
  variable: string;
  flag: string;
  /** The Service whose link it looks like. */
  service: string;
}

/**
 * The port settings whose variable holds a service link rather than a port: ignored, as if unset, so that the port is
 * the flag's or the default. A Service named petrascore-admin (one for the admin port, say) would otherwise stop every
 * pod of the namespace at startup, PETRASCORE_ADMIN_PORT not being a number.
 */
export function serviceLinkPorts(env: NodeJS.ProcessEnv): ServiceLinkPort[] {
  const links: ServiceLinkPort[] = [];
  for (const option of SERVE_OPTIONS) {
    const name = LINKED_SETTING.exec(option.env);
    if (name === null || !isServiceLinkPort(env[option.env])) continue;
    const service = name[1] === undefined ? 'petrascore' : `petrascore-${name[1].toLowerCase().replaceAll('_', '-')}`;
    links.push({ variable: option.env, flag: `--${option.flag}`, service });
  }
  return links;
}

/**
 * The PETRASCORE_* variables of `env` that are no setting's. A misspelt one (PETRASCORE_PORTT) is otherwise ignored in
 * silence and the server runs on the default; the caller warns, and starts anyway (a variable meant for another tool
 * must not stop the service). The nearest setting is named when it is within a third of the name's length in edits
 * (at least one, at most three), compared without regard to case: petrascore_port is a typo too.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): UnknownVariable[] {
  const known = SERVE_OPTIONS.map((o) => o.env);
  const unknown: UnknownVariable[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(PREFIX) || known.includes(variable) || SERVICE_LINK.test(variable)) continue;
    if (OTHER_SERVICE_PORT.test(variable) && isServiceLinkPort(env[variable])) continue;
    const name = variable.slice(PREFIX.length).toUpperCase();
    const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
    let closest: string | undefined;
    let closestDistance = limit + 1;
    for (const candidate of known) {
      const distance = editDistance(name, candidate.slice(PREFIX.length));
      if (distance < closestDistance) [closest, closestDistance] = [candidate, distance];
    }
    unknown.push({ variable, closest });
  }
  return unknown;
}

export function serveUsage(): string {
  const lines = SERVE_OPTIONS.map((o) => {
    const flag = o.kind === 'boolean' ? `--[no-]${o.flag}` : `--${o.flag} ${o.metavar ?? (o.kind === 'integer' ? 'N' : o.kind === 'number' ? 'X' : 'VALUE')}`;
    const choices = o.choices === undefined ? '' : ` (${o.choices.join(', ')})`;
    return `  ${flag.padEnd(34)} ${describeOption(o)}${choices}\n  ${''.padEnd(34)} env ${o.env}, default ${JSON.stringify(o.default)}`;
  });
  return ['Usage: petrascore serve [BUNDLE.onnx] [options]', '', 'Options (each also read from its environment variable):', ...lines, '  --help'.padEnd(36) + ' show this help'].join('\n');
}
