import { describe, expect, it } from 'vitest';
import { editDistance } from '../../src/config/edit-distance.js';
import { parseServeArgs, serviceLinkPorts, unknownVariables, UsageError } from '../../src/config/parse-serve-args.js';

describe('petrascore serve: flags, then the environment, then the defaults', () => {
  it('PETRASCORE_BUNDLE serves when no bundle is given; an argument or --bundle wins over it; both at once is a mistake', () => {
    const env = { PETRASCORE_BUNDLE: '/bundle/model.onnx' };
    expect(parseServeArgs([], env).bundle).toBe('/bundle/model.onnx');
    expect(parseServeArgs(['other.onnx'], env).bundle).toBe('other.onnx');
    expect(parseServeArgs(['--bundle', 'flag.onnx'], env).bundle).toBe('flag.onnx');
    expect(() => parseServeArgs(['a.onnx', '--bundle', 'b.onnx'], {})).toThrow(/give the bundle once/);
    expect(() => parseServeArgs(['--port', '8000', '--host', '0.0.0.0', '--port=9000'], {})).toThrow('--port given twice ("8000" and "9000"); give it once');
    expect(() => parseServeArgs(['--repeat-close=yes'], {})).toThrow('--repeat-close takes no value: give --repeat-close alone (or --no-repeat-close to turn it off)');
    // Lists take several, and a flag given twice says the same twice.
    expect(parseServeArgs(['--alert-lane-threshold', 'a=1', '--alert-lane-threshold', 'b=2', '--repeat-close', '--repeat-close'], {}).repeatClose).toBe(true);
    // Both forms of a flag: the --no- form won whatever the order.
    expect(() => parseServeArgs(['--no-repeat-close', '--repeat-close'], {})).toThrow('--repeat-close and --no-repeat-close both given; give one');
    // Empty where the default is empty and says what empty means; a variable of white space alone is unset.
    expect(parseServeArgs(['--case-state-file', '', '--lane-attribute=', '--admin-host='], {})).toMatchObject({ caseStateFile: '', laneAttribute: '', adminHost: '' });
    expect(() => parseServeArgs(['--host', ''], {})).toThrow('--host needs a value');
    expect(parseServeArgs([], { PETRASCORE_CASE_STATE_FILE: ' ', PETRASCORE_PORT: '  ' })).toMatchObject({ caseStateFile: '', port: 8000 });
    // Lane thresholds are decimal numerals, as every number option's value.
    expect(() => parseServeArgs(['--alert-lane-threshold', 'web=0x10'], {})).toThrow(/'web=0x10' is not LANE=SCORE/);
    expect(parseServeArgs(['--alert-lane-threshold', 'web=1.5e1'], {}).alertLaneThresholds).toEqual(['web=1.5e1']);
  });

  it('does not read a variable its flag overrides, so a stale bad value there does not stop the server', () => {
    expect(parseServeArgs(['--port', '9000'], { PETRASCORE_PORT: 'abc' }).port).toBe(9000);
    expect(() => parseServeArgs([], { PETRASCORE_PORT: 'abc' })).toThrow(UsageError);
    expect(parseServeArgs(['--no-score-every-event'], { PETRASCORE_SCORE_EVERY_EVENT: 'maybe' }).scoreEveryEvent).toBe(false);
    expect(parseServeArgs(['--alert-webhook', 'http://a/'], { PETRASCORE_ALERT_WEBHOOKS: 'not-a-url' }).alertWebhooks).toEqual(['http://a/']);
  });

  it('refuses --repeat-close without an ended-case memory to answer from', () => {
    expect(parseServeArgs(['--repeat-close'], {}).repeatClose).toBe(true);
    expect(() => parseServeArgs(['--repeat-close', '--ended-case-memory', '0'], {})).toThrow(/needs --ended-case-memory above 0/);
    expect(() => parseServeArgs([], { PETRASCORE_REPEAT_CLOSE: 'true', PETRASCORE_ENDED_CASE_MEMORY: '0' })).toThrow(UsageError);
    expect(parseServeArgs(['--ended-case-memory', '0'], {}).endedCaseMemory).toBe(0);
  });

  it("refuses a bound on all open cases' attribute characters below one case's, which would evict every other case for it", () => {
    expect(parseServeArgs([], {}).maxAttributeChars).toBeGreaterThanOrEqual(parseServeArgs([], {}).maxAttributeCharsPerCase);
    expect(() => parseServeArgs(['--max-attribute-chars', '1000'], {})).toThrow(
      '--max-attribute-chars (1000) bounds all open cases together: it must be 0 or at least --max-attribute-chars-per-case (1048576); lower that too',
    );
    expect(parseServeArgs(['--max-attribute-chars', '1000', '--max-attribute-chars-per-case', '1000'], {}).maxAttributeChars).toBe(1000);
    // Not given, the bound rises to a larger per-case limit: a deployment that had raised that one still starts.
    expect(parseServeArgs([], { PETRASCORE_MAX_ATTRIBUTE_CHARS_PER_CASE: '300000000' }).maxAttributeChars).toBe(300_000_000);
    expect(() => parseServeArgs(['--max-attribute-chars', '268435456'], { PETRASCORE_MAX_ATTRIBUTE_CHARS_PER_CASE: '300000000' })).toThrow(/must be 0 or at least/);
    expect(parseServeArgs([], { PETRASCORE_MAX_ATTRIBUTE_CHARS: '0' }).maxAttributeChars).toBe(0);
  });

  it('reads numbers as decimal numerals, trims every kind alike, and takes choices in any case', () => {
    expect(parseServeArgs([], { PETRASCORE_PORT: ' 8441 ' }).port).toBe(8441);
    expect(parseServeArgs([], { PETRASCORE_ALERT_THRESHOLD: ' 0.75 ' }).alertThreshold).toBe(0.75);
    expect(parseServeArgs([], { PETRASCORE_ALERT_THRESHOLD: '1e-1' }).alertThreshold).toBe(0.1);
    expect(() => parseServeArgs([], { PETRASCORE_ALERT_THRESHOLD: '0x10' })).toThrow(/must be a number, got '0x10'/);
    expect(() => parseServeArgs(['--alert-threshold', ' '], {})).toThrow(/must be a number/);
    expect(parseServeArgs([], { PETRASCORE_LOG_LEVEL: 'INFO' }).logLevel).toBe('info');
    expect(parseServeArgs(['--inference-thread', 'Worker'], {}).inferenceThread).toBe('worker');
    expect(parseServeArgs([], { PETRASCORE_SCORE_EVERY_EVENT: ' Yes ' }).scoreEveryEvent).toBe(true);
  });

  it('shows a refused webhook URL without its credentials, path, query or fragment', () => {
    const refused = (value: string) => {
      try {
        parseServeArgs([], { PETRASCORE_ALERT_WEBHOOKS: value });
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused('https://user:s3cret@[bad/x?token=abc')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'https://…@[bad/…?…' is not a URL");
    expect(refused('ftp://u:pw@host/hook#sig=1')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'ftp://…@host/…#…' is not an http:// or https:// URL");
    // A password with a / or an @ in a URL that does not parse.
    expect(refused('https://user:pa/ss@[bad/x')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'https://…@[bad/…' is not a URL");
    expect(refused('https://user:p@ss@[bad/x')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'https://…@[bad/…' is not a URL");
    // A token in the path, as Slack's incoming webhooks carry it, with or without a scheme.
    expect(refused('ftp://hooks.slack.com/services/T0/B0/s3cret')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'ftp://hooks.slack.com/…' is not an http:// or https:// URL");
    expect(refused('hooks.slack.com/services/T0/B0/s3cret')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'hooks.slack.com/…' is not a URL");
    // Credentials that parse but do not decode (the Basic authorization header is made of them decoded).
    expect(refused('https://us%zz:s3cret@host/hook?token=abc')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'https://…@host/…?…' has a user name or password that is not valid percent-encoding");
    expect(refused('https://user:s3cret%E0%A4@host/hook')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'https://…@host/…' has a user name or password that is not valid percent-encoding");
    // Without a path there is none to cut: the scheme and host stay as they were given.
    expect(refused('ftp://hooks.example.com')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'ftp://hooks.example.com' is not an http:// or https:// URL");
    expect(refused('ftp://hooks.example.com/')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'ftp://hooks.example.com/' is not an http:// or https:// URL");
    expect(refused('https://us%zz:s3cret@host')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'https://…@host' has a user name or password that is not valid percent-encoding");
    expect(refused('ftp://host?token=abc')).toBe("PETRASCORE_ALERT_WEBHOOKS: 'ftp://host?…' is not an http:// or https:// URL");
  });
});

describe('--request-log', () => {
  it('is all by default, errors or none from the flag or PETRASCORE_REQUEST_LOG, and nothing else', () => {
    expect(parseServeArgs([], {}).requestLog).toBe('all');
    expect(parseServeArgs([], { PETRASCORE_REQUEST_LOG: 'Errors' }).requestLog).toBe('errors');
    expect(parseServeArgs(['--request-log', 'none'], { PETRASCORE_REQUEST_LOG: 'errors' }).requestLog).toBe('none');
    expect(() => parseServeArgs(['--request-log', 'some'], {})).toThrow(/--request-log must be one of all, errors, none, got 'some'/);
  });
});

describe('PETRASCORE_* variables that are no setting', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('PORTT', 'PORT')).toBe(1);
    expect(editDistance('HOTS', 'HOST')).toBe(1);
    expect(editDistance('BUNDEL', 'BUNDLE')).toBe(1);
    expect(editDistance('', 'ABC')).toBe(3);
    expect(editDistance('KITTEN', 'SITTING')).toBe(3);
  });

  it('are listed with the setting they are nearest to, when one is near; settings and other variables are not', () => {
    const env = { PETRASCORE_PORTT: '9000', PETRASCORE_PORT: '8000', PETRASCORE_LOGLEVEL: 'debug', petrascore_port: '1', PETRASCORE_port: '1', PETRASCORE_FOO: 'x', HOME: '/root' };
    expect(unknownVariables(env)).toEqual([
      { variable: 'PETRASCORE_FOO', closest: undefined },
      { variable: 'PETRASCORE_LOGLEVEL', closest: 'PETRASCORE_LOG_LEVEL' },
      { variable: 'PETRASCORE_PORTT', closest: 'PETRASCORE_PORT' },
      { variable: 'PETRASCORE_port', closest: 'PETRASCORE_PORT' },
    ]);
    expect(unknownVariables({ PETRASCORE_PORT: '1', PETRASCORE_ALERT_WEBHOOKS: 'http://a/' })).toEqual([]);
  });

  it("takes a Kubernetes Service named petrascore's variables for what they are: no settings, and PETRASCORE_PORT=tcp://… no port", () => {
    const links = {
      PETRASCORE_PORT: 'tcp://10.0.0.7:8000',
      PETRASCORE_SERVICE_HOST: '10.0.0.7',
      PETRASCORE_SERVICE_PORT: '8000',
      PETRASCORE_SERVICE_PORT_HTTP: '8000',
      PETRASCORE_PORT_8000_TCP: 'tcp://10.0.0.7:8000',
      PETRASCORE_PORT_8000_TCP_PROTO: 'tcp',
      PETRASCORE_PORT_8000_TCP_PORT: '8000',
      PETRASCORE_PORT_8000_TCP_ADDR: '10.0.0.7',
    };
    expect(parseServeArgs([], links).port).toBe(8000);
    expect(parseServeArgs(['--port', '9000'], links).port).toBe(9000);
    expect(unknownVariables(links)).toEqual([]);
    // A real number still counts, and a misspelling is still named.
    expect(parseServeArgs([], { PETRASCORE_PORT: '9100' }).port).toBe(9100);
    expect(unknownVariables({ PETRASCORE_SERVICE_HOTS: 'x' }).map((u) => u.variable)).toEqual(['PETRASCORE_SERVICE_HOTS']);
  });

  it('takes the variables of a Service named petrascore-<name> (a canary, a headless Service) for links too, and warns of no setting', () => {
    const links = {
      PETRASCORE_CANARY_PORT: 'tcp://10.0.0.9:8000',
      PETRASCORE_CANARY_SERVICE_HOST: '10.0.0.9',
      PETRASCORE_CANARY_SERVICE_PORT: '8000',
      PETRASCORE_CANARY_SERVICE_PORT_HTTP: '8000',
      PETRASCORE_CANARY_PORT_8000_TCP: 'tcp://10.0.0.9:8000',
      PETRASCORE_CANARY_PORT_8000_TCP_PROTO: 'tcp',
      PETRASCORE_CANARY_PORT_8000_TCP_PORT: '8000',
      PETRASCORE_CANARY_PORT_8000_TCP_ADDR: '10.0.0.9',
      PETRASCORE_METRICS_V2_SERVICE_HOST: '10.0.0.10',
    };
    expect(unknownVariables(links)).toEqual([]);
    expect(parseServeArgs([], links).port).toBe(8000);
    // A variable of that shape whose value is no link was set by someone, and is named.
    expect(unknownVariables({ PETRASCORE_METRICS_PORT: '9100' }).map((u) => u.variable)).toEqual(['PETRASCORE_METRICS_PORT']);
  });

  it("takes a Service named petrascore-admin's PETRASCORE_ADMIN_PORT=tcp://… for a link too: no admin port, and no stop", () => {
    const links = {
      PETRASCORE_ADMIN_PORT: 'tcp://10.0.0.11:9000',
      PETRASCORE_ADMIN_SERVICE_HOST: '10.0.0.11',
      PETRASCORE_ADMIN_SERVICE_PORT: '9000',
      PETRASCORE_ADMIN_PORT_9000_TCP: 'tcp://10.0.0.11:9000',
      PETRASCORE_ADMIN_PORT_9000_TCP_PROTO: 'tcp',
      PETRASCORE_ADMIN_PORT_9000_TCP_PORT: '9000',
      PETRASCORE_ADMIN_PORT_9000_TCP_ADDR: '10.0.0.11',
    };
    expect(parseServeArgs([], links).adminPort).toBe(0);
    expect(parseServeArgs(['--admin-port', '9100'], links).adminPort).toBe(9100);
    expect(unknownVariables(links)).toEqual([]);
    expect(serviceLinkPorts({ ...links, PETRASCORE_PORT: 'tcp://10.0.0.7:8000' })).toEqual([
      { variable: 'PETRASCORE_PORT', flag: '--port', service: 'petrascore' },
      { variable: 'PETRASCORE_ADMIN_PORT', flag: '--admin-port', service: 'petrascore-admin' },
    ]);
    // A number is still a port.
    expect(parseServeArgs([], { PETRASCORE_ADMIN_PORT: '9100' }).adminPort).toBe(9100);
    expect(serviceLinkPorts({ PETRASCORE_ADMIN_PORT: '9100', PETRASCORE_PORT: '8000' })).toEqual([]);
  });
});


/** serve with --port and --admin-port both 8000, on these hosts. */
const same = (host: string, adminHost: string) => () => parseServeArgs(['--host', host, '--port', '8000', '--admin-host', adminHost, '--admin-port', '8000'], {});

describe('--admin-port', () => {
  it('is 0 (none) by default; on the same host it must differ from --port, on another host it may be the same number', () => {
    expect(parseServeArgs([], {}).adminPort).toBe(0);
    expect(() => parseServeArgs(['--port', '8000', '--admin-port', '8000'], {})).toThrow('--admin-port 8000 is also --port, on the same host');
    expect(() => parseServeArgs(['--host', '10.0.0.5', '--port', '8000', '--admin-host', '10.0.0.5', '--admin-port', '8000'], {})).toThrow(UsageError);
    const apart = parseServeArgs(['--host', '10.0.0.5', '--port', '8000', '--admin-host', '127.0.0.1', '--admin-port', '8000'], {});
    expect([apart.adminHost, apart.adminPort]).toEqual(['127.0.0.1', 8000]);
  });

  it('counts a wildcard host as every address it covers: 0.0.0.0 every IPv4 one, :: (dual-stack) every one', () => {
    // Each pair would fail at listen with "the port is in use (--admin-port)", read as another process's doing.
    expect(same('0.0.0.0', '127.0.0.1')).toThrow('--admin-port 8000 is also --port, on the same host');
    expect(same('10.0.0.5', '0.0.0.0')).toThrow(UsageError);
    expect(same('::', '127.0.0.1')).toThrow(UsageError);
    expect(same('::1', '::')).toThrow(UsageError);
    // An IPv4 wildcard leaves IPv6 addresses alone.
    expect(same('0.0.0.0', '::1')().adminPort).toBe(8000);
  });

  it('counts localhost as the loopback address it names, in any case, with or without the root dot', () => {
    expect(same('localhost', '127.0.0.1')).toThrow('--admin-port 8000 is also --port, on the same host');
    expect(same('::1', 'LocalHost.')).toThrow(UsageError);
    expect(same('localhost', '0.0.0.0')).toThrow(UsageError);
    expect(same('localhost', '10.0.0.5')().adminPort).toBe(8000);
  });

  it('counts an address however it is spelt (they passed here and failed at listen with "the port is in use")', () => {
    expect(same('::1', '0:0:0:0:0:0:0:1')).toThrow('--admin-port 8000 is also --port, on the same host');
    expect(same('127.0.0.1', '127.000.000.001')).toThrow(UsageError);
    expect(same('::ffff:127.0.0.1', '127.0.0.1')).toThrow(UsageError);
    expect(same('0:0:0:0:0:0:0:0', '10.0.0.5')).toThrow(UsageError);
    expect(same('127.0.0.1', '127.0.0.2')().adminPort).toBe(8000);
    expect(same('fe80::1%lo', '::1')().adminPort).toBe(8000);
  });
});

describe('--max-connections', () => {
  it('is 10,000 by default, a whole number from the flag or PETRASCORE_MAX_CONNECTIONS, the flag winning; 0 is no cap', () => {
    expect(parseServeArgs([], {}).maxConnections).toBe(10_000);
    expect(parseServeArgs([], { PETRASCORE_MAX_CONNECTIONS: ' 500 ' }).maxConnections).toBe(500);
    expect(parseServeArgs(['--max-connections', '2000'], { PETRASCORE_MAX_CONNECTIONS: '500' }).maxConnections).toBe(2000);
    expect(parseServeArgs(['--max-connections', '0'], {}).maxConnections).toBe(0);
    expect(parseServeArgs(['--max-connections=1048576'], {}).maxConnections).toBe(1_048_576);
  });

  it('refuses what is not a count of connections, naming the flag or the variable', () => {
    expect(() => parseServeArgs(['--max-connections', 'many'], {})).toThrow("--max-connections must be a whole number, got 'many'");
    expect(() => parseServeArgs(['--max-connections', '1.5'], {})).toThrow("--max-connections must be a whole number, got '1.5'");
    expect(() => parseServeArgs([], { PETRASCORE_MAX_CONNECTIONS: '-1' })).toThrow("PETRASCORE_MAX_CONNECTIONS must be a whole number, got '-1'");
    expect(() => parseServeArgs(['--max-connections', '1048577'], {})).toThrow('--max-connections must be at most 1048576, got 1048577');
    expect(() => parseServeArgs(['--max-connections'], {})).toThrow(UsageError);
  });

  it('quotes a number back as it was given, not as a double rounds it, and refuses one beyond exact whole numbers', () => {
    expect(() => parseServeArgs(['--port', '9007199254740993'], {})).toThrow('--port must be at most 65535, got 9007199254740993');
    expect(() => parseServeArgs(['--max-open-cases', '99999999999999999999'], {})).toThrow(
      '--max-open-cases must be at most 9007199254740991, got 99999999999999999999',
    );
  });

  it('must exceed --live-max-subscribers, whose streams could otherwise hold every connection', () => {
    expect(() => parseServeArgs(['--max-connections', '64'], {})).toThrow(
      '--max-connections 64 could all be held by /live streams (--live-max-subscribers 64), leaving no connection for requests: give --max-connections more than --live-max-subscribers, or 0 for no cap',
    );
    expect(() => parseServeArgs([], { PETRASCORE_MAX_CONNECTIONS: '10', PETRASCORE_LIVE_MAX_SUBSCRIBERS: '10' })).toThrow(UsageError);
    expect(parseServeArgs(['--max-connections', '65'], {}).maxConnections).toBe(65);
    expect(parseServeArgs(['--max-connections', '10', '--live-max-subscribers', '9'], {}).maxConnections).toBe(10);
    expect(parseServeArgs(['--max-connections', '0', '--live-max-subscribers', '1000'], {}).maxConnections).toBe(0);
  });
});
