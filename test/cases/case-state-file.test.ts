import { existsSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serveArgs, startServer } from '../helpers/cli.js';
import { fileLines, get, post, useCaseStateFiles, type Line } from '../helpers/case-state.js';
import { DEFAULT_MODEL, modelPath, ROOT } from '../helpers/fixtures.js';
import { CasesSavedError } from '../../src/cases/case-errors.js';
import { CliProcess } from '../helpers/cli.js';

const { stateFile, app } = useCaseStateFiles();

function header(openCases: number, extra: Line = {}): string {
  return JSON.stringify({ format: 'petrascore-open-cases', version: 1, written_at: '2026-12-01T00:00:00.000Z', scenario: 'x', model_sha256: 'x', open_cases: openCases, ...extra });
}

describe('--case-state-file: open cases kept across a restart', () => {
  it('saves the open cases at close and restores them at the next start: same events, attributes and scores', async () => {
    const file = stateFile();
    const first = await app({ caseStateFile: file, laneAttribute: 'host' });
    await post(first.app, '/cases/C1/events', { name: 'approve loan', attributes: { risk_score: '0.9', host: 'a', ignored: 'x' } });
    await post(first.app, '/cases/C1/events', { name: 'decline loan', attributes: { risk_score: 0.35 } });
    await post(first.app, '/cases/C%2F2/events', { name: 'decline loan', attributes: { risk_score: '0.2', host: { nested: [1, 2] } } });
    await post(first.app, '/cases/C3/events', { name: 'not a label' });
    const before = { c1: await get(first.app, '/cases/C1'), c2: await get(first.app, '/cases/C%2F2'), c3: await get(first.app, '/cases/C3') };
    expect(before.c1.status).toBe(200);
    expect(before.c3.status, 'C3 has no risk_score').toBe(422);
    await first.app.close();
    expect(first.lines).toContainEqual(expect.objectContaining({ msg: 'open cases saved', file, open_cases: 3 }));

    const [saved, ...cases] = fileLines(file);
    expect(saved).toMatchObject({ format: 'petrascore-open-cases', version: 1, scenario: 'onnx_deployment', open_cases: 3 });
    // Least recently touched first; what the case keeps (the specs' and the lane's attributes), a structured value as its str().
    expect(cases.map(({ last_seen: _, ...rest }) => rest)).toEqual([
      { id: 'C1', n_events: 2, seen: ['t_approve', 't_decline'], attributes: { risk_score: 0.35, host: 'a' } },
      { id: 'C/2', n_events: 1, seen: ['t_decline'], attributes: { risk_score: '0.2', host: "{'nested': [1, 2]}" } },
      { id: 'C3', n_events: 1, seen: [], attributes: {} },
    ]);

    const restartedAt = new Date().toISOString();
    const second = await app({ caseStateFile: file, laneAttribute: 'host' });
    expect(second.lines).toContainEqual(expect.objectContaining({ msg: 'open cases restored', file, open_cases: 3, saved_at: saved!.written_at }));
    expect(second.app.cases.openCases).toBe(3);
    expect(JSON.parse((await get(second.app, '/cases')).body)).toEqual({ count: 3, case_ids: ['C/2', 'C1', 'C3'] });
    expect(await get(second.app, '/cases/C1')).toEqual(before.c1);
    expect(await get(second.app, '/cases/C%2F2')).toEqual(before.c2);
    expect(await get(second.app, '/cases/C3')).toEqual(before.c3);
    // The live view knows them, under their lanes, without a case_opened for each (they were opened before the restart).
    const snapshot = second.app.live.snapshot();
    expect(snapshot.cases.map((c) => [c.case_id, c.lane, c.n_events])).toEqual([
      ['C1', 'a', 2],
      ['C/2', "{'nested': [1, 2]}", 1],
      ['C3', '(no host)', 1],
    ]);
    // Their first events' time is not kept: `opened` is the restore's, as the snapshot's schema says.
    for (const c of snapshot.cases) expect(c.opened >= restartedAt, `${c.opened} >= ${restartedAt}`).toBe(true);
    // They go on: a new event counts on top of the saved ones, and a close frees the case.
    expect(await post(second.app, '/cases/C1/events', { name: 'approve loan' })).toEqual({ case_id: 'C1', n_events: 3 });
    expect(await post(second.app, '/cases/C%2F2/close', undefined)).toMatchObject({ case_id: 'C/2', n_events: 1, closed: true });
  });

  it('evicts at startup, as idle, a restored case whose --case-idle-timeout ran out during the downtime', async () => {
    const file = stateFile();
    const now = Date.now();
    const saved = (id: string, idleMs: number) => JSON.stringify({ id, n_events: 5, seen: ['t_approve'], attributes: { risk_score: '0.5' }, last_seen: now - idleMs });
    writeFileSync(file, [header(2), saved('OLD', 7_200_000), saved('RECENT', 60_000)].join('\n') + '\n');
    // A one-hour timeout sweeps once a minute: the first tick would come long after the event below.
    const restarted = await app({ caseStateFile: file, caseIdleTimeoutSeconds: 3600 });
    expect(restarted.app.cases.listCases(10)).toEqual(['RECENT']);
    expect(restarted.lines).toContainEqual(expect.objectContaining({ msg: 'idle cases evicted (--case-idle-timeout)', evicted: 1 }));
    const event = await restarted.app.inject({ method: 'POST', url: '/cases/OLD/events', payload: { name: 'decline loan' } });
    expect(event.json()).toEqual({ case_id: 'OLD', n_events: 1 });
    expect(event.headers['x-petrascore-reopened']).toBe('evicted (idle)');
    expect(await post(restarted.app, '/cases/RECENT/events', { name: 'decline loan' })).toEqual({ case_id: 'RECENT', n_events: 6 });
  });

  it('restored under a lower --max-attribute-chars-per-case, a case takes events that add nothing, and refuses one that grows it', async () => {
    const file = stateFile();
    const saved = { id: 'K1', n_events: 1, seen: [], attributes: { risk_score: '0.500000000000000000000000000' }, last_seen: Date.now() };
    writeFileSync(file, [header(1), JSON.stringify(saved)].join('\n') + '\n');
    const restarted = await app({ caseStateFile: file, maxAttributeCharsPerCase: 20, maxAttributeChars: 0 });
    expect(await post(restarted.app, '/cases/K1/events', { name: 'decline loan' })).toEqual({ case_id: 'K1', n_events: 2 });
    expect(await post(restarted.app, '/cases/K1/events', { name: 'decline loan', attributes: { risk_score: '0.5' } })).toEqual({ case_id: 'K1', n_events: 3 });
    const grown = await restarted.app.inject({ method: 'POST', url: '/cases/K1/events', payload: { name: 'decline loan', attributes: { risk_score: '0.5000000000000000000000000000000' } } });
    expect(grown.statusCode, grown.body).toBe(422);
    expect(grown.json()).toMatchObject({ error: 'max_attribute_chars_per_case' });
  });

  it('writes through a symbolic link (into a volume) to its target, which the next start restores; the link stays a link', async () => {
    const target = stateFile();
    const link = join(dirname(stateFile()), 'link.jsonl');
    // The target does not exist yet: a first start on a fresh volume.
    symlinkSync(target, link);
    const first = await app({ caseStateFile: link, caseStateCheckpointSeconds: 0 });
    expect(first.lines).toContainEqual(expect.objectContaining({ msg: '--case-state-file is a symbolic link: the open cases are read from and saved to its target', file: link, target }));
    await post(first.app, '/cases/L1/events', { name: 'approve loan', attributes: { risk_score: '0.9' } });
    await first.app.close();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fileLines(target).map((line) => line.id ?? line.open_cases)).toEqual([1, 'L1']);

    const second = await app({ caseStateFile: link, caseStateCheckpointSeconds: 0 });
    expect((await get(second.app, '/cases/L1')).status).toBe(200);
  });

  it('refuses events, closes and deletes once the cases are saved (a shutdown timed out): no answer for a change the file lacks', async () => {
    const file = stateFile();
    const running = await app({ caseStateFile: file });
    await post(running.app, '/cases/S1/events', { name: 'approve loan', attributes: { risk_score: '0.5' } });
    const before = await get(running.app, '/cases/S1');
    running.app.saveOpenCases();
    const refused = [
      await running.app.inject({ method: 'POST', url: '/cases/S1/events', payload: { name: 'decline loan' } }),
      await running.app.inject({ method: 'POST', url: '/cases/S2/events?score=true', payload: { name: 'approve loan', attributes: { risk_score: '0.5' } } }),
      await running.app.inject({ method: 'POST', url: '/events', payload: { events: [{ case_id: 'S3', name: 'approve loan' }] } }),
      await running.app.inject({ method: 'POST', url: '/cases/S1/close' }),
      await running.app.inject({ method: 'DELETE', url: '/cases/S1' }),
    ];
    for (const response of refused) {
      expect(response.statusCode, response.body).toBe(503);
      expect(response.json()).toMatchObject({ error: 'shutting_down', message: expect.stringContaining('saved its open cases') });
    }
    // Reading is no change: the case answers as it was saved.
    expect(await get(running.app, '/cases/S1')).toEqual(before);
    expect(fileLines(file).slice(1)).toEqual([expect.objectContaining({ id: 'S1', n_events: 1, seen: ['t_approve'] })]);
  });

  it('saves a case whose close is under way with the open ones, and refuses that close and a retry waiting on it: answered, the restart had a closed case open', async () => {
    const file = stateFile();
    const running = await app({ caseStateFile: file });
    await post(running.app, '/cases/S1/events', { name: 'approve loan', attributes: { risk_score: '0.5' } });
    await post(running.app, '/cases/S2/events', { name: 'approve loan', attributes: { risk_score: '0.5' } });
    // In one turn: the close takes S1 out and its model run begins, a retry waits on it, and the save (a shutdown that
    // timed out) comes before the run ends.
    const closing = running.app.cases.closeCase('S1');
    const retried = running.app.cases.closeCase('S1');
    running.app.saveOpenCases();
    await expect(closing).rejects.toBeInstanceOf(CasesSavedError);
    await expect(retried).rejects.toBeInstanceOf(CasesSavedError);
    expect(running.lines).toContainEqual(expect.objectContaining({ msg: 'open cases saved', open_cases: 2, closes_under_way: 1 }));
    expect(fileLines(file).map((l) => [l.id ?? 'header', l.n_events ?? l.open_cases])).toEqual([
      ['header', 2],
      ['S2', 1],
      ['S1', 1],
    ]);
  });

  it('keeps a net of more than 31 transitions exactly (scale_200: the seen transitions as a bit array)', async () => {
    const file = stateFile();
    const bundle = modelPath('scale_200');
    const first = await app({ caseStateFile: file, bundle });
    const schema = JSON.parse((await get(first.app, '/schema')).body) as { transitions: Record<string, string>; scored_transitions: string[] };
    const labels = schema.scored_transitions.map((id) => schema.transitions[id]!);
    // Labels spread over the columns, the last one included.
    const events = [labels[0], labels[40], labels[99], labels[150], labels.at(-1)].map((name) => ({ case_id: 'big', name, attributes: { signal: '1.5', aux: '0.25' } }));
    await post(first.app, '/events', { events });
    const before = await get(first.app, '/cases/big');
    expect(before.status, before.body).toBe(200);
    await first.app.close();
    expect((fileLines(file)[1]!.seen as string[]).length).toBe(5);
    const second = await app({ caseStateFile: file, bundle });
    expect(await get(second.app, '/cases/big')).toEqual(before);
  });

  it('restores a case id and attribute values holding U+2028 and U+2029, which JSON leaves unescaped in its lines', async () => {
    const file = stateFile();
    const id = 'line\u2028separator\u2029case';
    const url = `/cases/${encodeURIComponent(id)}`;
    const first = await app({ caseStateFile: file, laneAttribute: 'host' });
    // Python's float() strips U+2028 as whitespace: the case scores.
    await post(first.app, `${url}/events`, { name: 'approve loan', attributes: { risk_score: '\u20280.4\u2029', host: 'a\u2028b' } });
    const before = await get(first.app, url);
    expect(before.status, before.body).toBe(200);
    await first.app.close();
    expect(readFileSync(file, 'utf8')).toContain('\u2028');

    const second = await app({ caseStateFile: file, laneAttribute: 'host' });
    expect(await get(second.app, url)).toEqual(before);
    expect(second.app.live.snapshot().cases.map((c) => [c.case_id, c.lane])).toEqual([[id, 'a\u2028b']]);
  });

  it('restores a file saved with another model: seen transitions by id, attributes by name, the rest left out and logged', async () => {
    const file = stateFile();
    const lastSeen = Date.now();
    writeFileSync(
      file,
      [
        header(1, { scenario: 'older_model', model_sha256: 'ab'.repeat(32) }),
        JSON.stringify({ id: 'R1', n_events: 4, seen: ['t_approve', 't_retired'], attributes: { risk_score: '0.8', old_variable: 'x' }, last_seen: lastSeen }),
        '',
      ].join('\n'),
    );
    const restored = await app({ caseStateFile: file });
    expect(restored.lines).toContainEqual(
      expect.objectContaining({ level: 40, saved_scenario: 'older_model', unknown_transitions: ['t_retired'], attributes_left_out: 1, msg: expect.stringContaining('another model') }),
    );
    // Scored as the same events sent now would be.
    await post(restored.app, '/cases/live/events', { name: 'approve loan', attributes: { risk_score: '0.8' } });
    const [fromFile, live] = [JSON.parse((await get(restored.app, '/cases/R1')).body) as Line, JSON.parse((await get(restored.app, '/cases/live')).body) as Line];
    expect(fromFile).toEqual({ ...live, case_id: 'R1', n_events: 4 });
  });

  it('reads back a file of many read chunks whole: lines and multi-byte characters cut at chunk boundaries', async () => {
    const file = stateFile();
    // About 2.3 MB: dozens of the reader's 64 KiB chunks, with a 3-byte character on every line to land on their edges.
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ id: `case-€-${i}`, n_events: 1 + (i % 7), seen: i % 2 === 0 ? ['t_approve'] : [], attributes: { risk_score: `${'€'.repeat(i % 500)}${i}` }, last_seen: Date.now() }),
    );
    writeFileSync(file, [header(lines.length), ...lines].join('\n'));
    const restored = await app({ caseStateFile: file, caseStateCheckpointSeconds: 0, maxOpenCases: 5000 });
    expect(restored.app.cases.openCases).toBe(3000);
    // Listening, as a start that serves: the file read is removed (no checkpoints to replace it), and the close saves what is open.
    await restored.app.listen({ host: '127.0.0.1', port: 0 });
    expect(existsSync(file)).toBe(false);
    await restored.app.close();
    // Saved again as read: the same cases, the same attributes, the same order.
    const again = fileLines(file).slice(1);
    expect(again.map((l) => JSON.stringify({ ...l }))).toEqual(lines.map((l) => JSON.stringify(JSON.parse(l))));
  });

  it('warns of attributes left out also for the same model (a --lane-attribute changed)', async () => {
    const file = stateFile();
    const first = await app({ caseStateFile: file, laneAttribute: 'host' });
    await post(first.app, '/cases/L1/events', { name: 'approve loan', attributes: { risk_score: '0.9', host: 'a' } });
    const before = await get(first.app, '/cases/L1');
    await first.app.close();
    const second = await app({ caseStateFile: file });
    expect(second.lines).toContainEqual(expect.objectContaining({ level: 40, attributes_left_out: 1, unknown_transitions: [], msg: expect.stringMatching(/^open cases restored without attributes this service does not keep/) }));
    // The score does not read the lane.
    expect(await get(second.app, '/cases/L1')).toEqual(before);
  });

  it('restores the most recently touched cases up to --max-open-cases, and says how many were left out', async () => {
    const file = stateFile();
    const line = (id: string) => JSON.stringify({ id, n_events: 1, seen: [], attributes: {}, last_seen: Date.now() });
    writeFileSync(file, [header(3), line('oldest'), line('middle'), line('newest')].join('\n'));
    const restored = await app({ caseStateFile: file, maxOpenCases: 2 });
    expect(JSON.parse((await get(restored.app, '/cases')).body)).toEqual({ count: 2, case_ids: ['middle', 'newest'] });
    expect(restored.lines).toContainEqual(expect.objectContaining({ level: 40, left_out: 1, max_open_cases: 2 }));
  });

  it('starts without a file (a first start), and saves even no open case, so a later start reads an empty file', async () => {
    const file = stateFile();
    const first = await app({ caseStateFile: file });
    expect(first.lines).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/^no open cases to restore/), file }));
    await first.app.close();
    expect(fileLines(file)).toEqual([expect.objectContaining({ open_cases: 0 })]);
    const second = await app({ caseStateFile: file });
    expect(second.app.cases.openCases).toBe(0);
  });

  const ok = JSON.stringify({ id: 'A', n_events: 1, seen: [], attributes: {}, last_seen: 0 });
  const broken: [what: string, text: string, problem: RegExp][] = [
    ['a line that is not JSON', `${header(2)}\n${ok}\n{"id": "B",\n`, /line 3: is not valid JSON/],
    // V8's message quotes the line raw: its control characters are escaped, not written to a terminal.
    ['a binary file', '\u0000\u0001\u001b[2J', /line 1: is not valid JSON \(Unexpected token '\\u0000', "\\u0000\\u0001\\u001b\[2J" is not valid JSON\)/],
    ['another format', `${JSON.stringify({ format: 'something else' })}\n`, /line 1: is not the header of a petrascore-open-cases file \(its "format" is "something else"\)/],
    ['another version', `${header(0, { version: 2 })}\n`, /line 1: is version 2 of petrascore-open-cases; this petrascore reads version 1/],
    ['a header of the wrong shape', `${header(-1)}\n`, /line 1: is not a valid header \(\/open_cases: /],
    ['a case of the wrong shape', `${header(1)}\n${JSON.stringify({ id: 'A', n_events: 0, seen: [], attributes: {}, last_seen: 0 })}\n`, /line 2: is not an open case \(\/n_events/],
    ['a case twice', `${header(2)}\n${ok}\n${ok}\n`, /line 3: case 'A' appears a second time/],
    ['fewer cases than its header counts', `${header(2)}\n${ok}\n`, /holds 1 cases where its header says 2: it is incomplete/],
    ['more cases than its header counts', `${header(0)}\n${ok}\n`, /holds 1 cases where its header says 0: lines were added to it/],
    ['an empty file', '', /is empty/],
  ];
  for (const [what, text, problem] of broken) {
    it(`stops startup on ${what}, naming the file and the line`, async () => {
      const file = stateFile();
      writeFileSync(file, text);
      const failed = app({ caseStateFile: file });
      await expect(failed).rejects.toMatchObject({ name: 'CaseStateFileError', file, message: expect.stringMatching(problem) });
      expect(readFileSync(file, 'utf8'), 'the file is left as it was').toBe(text);
    });
  }

  it("never mixes two processes' saves into one file: a save finding another's partial file fails, and leaves it be", async () => {
    const file = stateFile();
    const partial = join(dirname(file), '.open-cases.jsonl.partial');
    // One a crash left is removed at startup (no save of this process runs yet).
    writeFileSync(partial, 'left by a crash');
    const started = await app({ caseStateFile: file });
    expect(existsSync(partial)).toBe(false);
    await post(started.app, '/cases/S1/events', { name: 'approve loan' });
    // Another instance given the same file is saving now.
    writeFileSync(partial, 'another instance, half-way');
    await started.app.close();
    expect(started.lines).toContainEqual(
      expect.objectContaining({ level: 50, msg: expect.stringMatching(/^open cases NOT saved: .*partial exists: another process is saving to .*two instances given one --case-state-file/) }),
    );
    expect(readFileSync(partial, 'utf8'), "the other's save goes on").toBe('another instance, half-way');
    expect(existsSync(file)).toBe(false);
  });

  it('stops startup when the file could not be written at shutdown (no such directory)', async () => {
    const file = join(stateFile(), 'not-a-directory', 'open-cases.jsonl');
    await expect(app({ caseStateFile: file })).rejects.toMatchObject({ name: 'CaseStateFileError', message: expect.stringContaining('cannot be written') });
  });
});

/** Serves, opens cases A, B and C, and stops with SIGTERM; returns the file as saved. */
async function savedThreeCases(file: string): Promise<string> {
  const first = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file));
  for (const id of ['A', 'B', 'C']) {
    const answer = await fetch(`${first.url}/cases/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'approve loan' }) });
    expect(answer.status).toBe(202);
  }
  first.cli.signal('SIGTERM');
  expect((await first.cli.waitForExit()).code, first.cli.describe()).toBe(0);
  return readFileSync(file, 'utf8');
}

/** Runs `use` with a port of 127.0.0.1 that another server holds. */
async function withPortInUse(use: (port: string) => Promise<void>): Promise<void> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  try {
    await use(String((holder.address() as AddressInfo).port));
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
}

describe('petrascore serve --case-state-file', () => {
  it('saves on SIGTERM, restores on the next start and, without checkpoints, removes the file once listening; a broken file exits 2', async () => {
    const file = stateFile();
    const first = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--case-state-checkpoint-interval', '0'));
    const event = { name: 'approve loan', attributes: { risk_score: '0.9' } };
    const answer = await fetch(`${first.url}/cases/W1/events?score=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    const scored = (await answer.json()) as Line;
    first.cli.signal('SIGTERM');
    expect((await first.cli.waitForExit()).code, first.cli.describe()).toBe(0);
    expect(first.cli.logLines()).toContainEqual(expect.objectContaining({ msg: 'open cases saved', open_cases: 1 }));
    expect(existsSync(file)).toBe(true);

    const second = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--case-state-checkpoint-interval', '0'));
    const closed = (await (await fetch(`${second.url}/cases/W1/close`, { method: 'POST' })).json()) as Line;
    expect(closed).toEqual({ ...scored, closed: true });
    // Once listening, the file is gone: a start after a crash (no save) must not take the same cases back again.
    expect(existsSync(file)).toBe(false);
    await second.cli.kill();

    writeFileSync(file, `${header(1)}\nnot json\n`);
    const third = new CliProcess(serveArgs(DEFAULT_MODEL, '--case-state-file', file));
    expect((await third.waitForExit()).code, third.describe()).toBe(2);
    expect(third.stderr).toContain(`cannot restore the open cases (--case-state-file): ${file}: line 2: is not valid JSON`);
    expect(third.stderr).toContain('move the file away to start without them');
  });

  it('a directory that cannot take the file exits 2 saying so, not telling the operator to move a file that does not exist', async () => {
    const file = join(stateFile(), 'no-such-directory', 'open-cases.jsonl');
    const failed = new CliProcess(serveArgs(DEFAULT_MODEL, '--case-state-file', file));
    expect((await failed.waitForExit()).code, failed.describe()).toBe(2);
    expect(failed.stderr).toContain(`petrascore: cannot keep the open cases (--case-state-file): ${file}: cannot be written`);
    expect(failed.stderr).toContain('give a directory that exists and that this user can write to');
    expect(failed.stderr).not.toContain('move the file away');
  });

  it('a start that fails after the restore (its port in use) leaves the file as it was, what it left out included', async () => {
    const file = stateFile();
    const saved = await savedThreeCases(file);
    await withPortInUse(async (port) => {
      // Two settings to fix: the port, and --max-open-cases below the cases saved (the oldest is left out at restore).
      const failed = new CliProcess(['serve', DEFAULT_MODEL, '--host', '127.0.0.1', '--port', port, '--case-state-file', file, '--max-open-cases', '2']);
      expect((await failed.waitForExit()).code, failed.describe()).toBe(2);
      expect(failed.logLines()).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(/^open cases left out at restore/), left_out: 1 }));
      expect(failed.stderr).toContain('the port is in use');
    });
    expect(readFileSync(file, 'utf8'), 'the file is left as it was').toBe(saved);

    const fixed = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file));
    expect(await (await fetch(`${fixed.url}/cases`)).json()).toEqual({ count: 3, case_ids: ['A', 'B', 'C'] });
    await fixed.cli.kill();
  });

  it('a start whose admin port is in use (the API port listened a moment) leaves the file as it was, what it left out included', async () => {
    const file = stateFile();
    const saved = await savedThreeCases(file);
    let adminPort = '';
    await withPortInUse(async (port) => {
      adminPort = port;
      const failed = new CliProcess(serveArgs(DEFAULT_MODEL, '--admin-port', port, '--case-state-file', file, '--max-open-cases', '2'));
      expect((await failed.waitForExit()).code, failed.describe()).toBe(2);
      expect(failed.stderr).toContain('the port is in use');
      expect(failed.logLines().map((l) => l.msg)).not.toContain('open cases saved');
    });
    expect(readFileSync(file, 'utf8'), 'the file is left as it was').toBe(saved);

    // The port free: the start succeeds once the admin listener listens too, and only then removes the file.
    const fixed = await startServer(serveArgs(DEFAULT_MODEL, '--admin-port', adminPort, '--case-state-file', file, '--case-state-checkpoint-interval', '0'));
    await fixed.cli.waitForStdout(/"msg":"admin listener at /, 5_000);
    expect(await (await fetch(`${fixed.url}/cases`)).json()).toEqual({ count: 3, case_ids: ['A', 'B', 'C'] });
    expect(existsSync(file)).toBe(false);
    fixed.cli.signal('SIGTERM');
    expect((await fixed.cli.waitForExit()).code, fixed.cli.describe()).toBe(0);
    expect(fileLines(file).map((l) => l.id ?? 'header')).toEqual(['header', 'A', 'B', 'C']);
  });

  it('a save cut short (the disk full, a file size limit) says so and leaves no file, rather than one that stops the next start', async () => {
    const file = stateFile();
    // 8 KiB at most per file; the cases' lines make about 20 KiB, written in one go.
    const server = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file), { fileSizeLimit: 16 });
    const events = Array.from({ length: 40 }, (_, i) => ({ case_id: `F${i}`, name: 'approve loan', attributes: { risk_score: `${' '.repeat(500)}0.5` } }));
    const answer = await fetch(`${server.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
    expect(answer.status).toBe(200);
    server.cli.signal('SIGTERM');
    // Open cases lost: the exit says so (a clean shutdown is 0).
    expect(await server.cli.waitForExit(), server.cli.describe()).toEqual({ code: 1, signal: null });
    const messages = server.cli.logLines().map((l) => l.msg);
    expect(messages, server.cli.describe()).not.toContain('open cases saved');
    expect(server.cli.logLines()).toContainEqual(expect.objectContaining({ level: 50, open_cases: 40, msg: expect.stringMatching(/^open cases NOT saved: .*EFBIG/) }));
    // Neither a file cut short nor the partial one beside it.
    expect(readdirSync(dirname(file))).toEqual([]);
  });

  it('the inference worker stopped: a close during the drain is refused and keeps its case, so the restart has it for the retry', async () => {
    const file = stateFile();
    // The tap, preloaded, terminates the worker thread on SIGUSR2 as a crash would end it.
    const tap = pathToFileURL(join(ROOT, 'test', 'helpers', 'worker-tap.mjs')).href;
    const args = serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--inference-thread', 'worker', '--drain-delay', '2000');
    const server = await startServer(args, { env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${tap}`.trim() } });
    const event = { name: 'approve loan', attributes: { risk_score: '0.9' } };
    for (const id of ['K1', 'K2']) {
      const answer = await fetch(`${server.url}/cases/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
      expect(answer.status).toBe(202);
    }
    server.cli.signal('SIGUSR2');
    await server.cli.waitForStdout(/"msg":"shutting down: \/readyz is 503, serving on until the drain"/, 5_000);
    const refused = await fetch(`${server.url}/cases/K1/close`, { method: 'POST' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: 'inference_unavailable' });
    // An event to be scored is refused before it is applied (a retry elsewhere would count it twice); one not to be
    // scored needs no model.
    const post = (url: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    const scoredEvent = await post(`${server.url}/cases/K2/events?score=true`);
    expect(scoredEvent.status).toBe(503);
    expect(await scoredEvent.json()).toMatchObject({ error: 'inference_unavailable' });
    const scoredStream = await fetch(`${server.url}/events?score=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: [{ case_id: 'K2', ...event }] }) });
    expect(scoredStream.status).toBe(503);
    expect((await post(`${server.url}/cases/K3/events`)).status).toBe(202);
    expect((await server.cli.waitForExit()).code, server.cli.describe()).toBe(1);
    expect(fileLines(file).map((l) => [l.id ?? 'header', l.n_events])).toEqual([
      ['header', undefined],
      ['K1', 1],
      ['K2', 1],
      ['K3', 1],
    ]);

    const restarted = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file));
    const retried = await fetch(`${restarted.url}/cases/K1/close`, { method: 'POST' });
    expect(retried.status, await retried.clone().text()).toBe(200);
    expect(await retried.json()).toMatchObject({ case_id: 'K1', n_events: 1, closed: true });
    await restarted.cli.kill();
  });

  it('a close under way when the worker is taken for stuck (--inference-timeout) keeps its case, so the restart has it for the retry', async () => {
    const file = stateFile();
    // The tap blocks each run's thread for 12 s in native code: the close's run is stuck, and the watchdog gives up on it.
    const tap = pathToFileURL(join(ROOT, 'test', 'helpers', 'worker-tap.mjs')).href;
    const args = serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--inference-thread', 'worker', '--inference-timeout', '500', '--shutdown-timeout', '2000');
    const server = await startServer(args, { env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${tap}`.trim(), WORKER_TAP_HANG_MS: '12000' } });
    const event = { name: 'approve loan', attributes: { risk_score: '0.9' } };
    for (const id of ['K1', 'K2']) {
      const answer = await fetch(`${server.url}/cases/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
      expect(answer.status).toBe(202);
    }
    const failed = await fetch(`${server.url}/cases/K1/close`, { method: 'POST' });
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: 'inference_unavailable' });
    // The thread is still in its stuck run when the shutdown ends: aborted, after the save.
    expect(await server.cli.waitForExit(8_000), server.cli.describe()).toEqual({ code: null, signal: 'SIGABRT' });
    expect(fileLines(file).map((l) => [l.id ?? 'header', l.n_events])).toEqual([
      ['header', undefined],
      ['K2', 1],
      ['K1', 1],
    ]);

    const restarted = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file));
    const retried = await fetch(`${restarted.url}/cases/K1/close`, { method: 'POST' });
    expect(retried.status, await retried.clone().text()).toBe(200);
    expect(await retried.json()).toMatchObject({ case_id: 'K1', n_events: 1, closed: true });
    await restarted.cli.kill();
  });

  it('a close still under way when the shutdown times out: its case is saved with the open ones, for the retry at the restart', async () => {
    const file = stateFile();
    // The tap blocks each run's thread for 4 s, beyond the shutdown timeout: the close is answered by no one.
    const tap = pathToFileURL(join(ROOT, 'test', 'helpers', 'worker-tap.mjs')).href;
    const args = serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--inference-thread', 'worker', '--shutdown-timeout', '1000');
    const server = await startServer(args, { env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${tap}`.trim(), WORKER_TAP_HANG_MS: '4000' } });
    const event = { name: 'approve loan', attributes: { risk_score: '0.9' } };
    for (const id of ['K1', 'K2']) {
      const answer = await fetch(`${server.url}/cases/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
      expect(answer.status).toBe(202);
    }
    const close = fetch(`${server.url}/cases/K1/close`, { method: 'POST' }).then(
      (answer) => answer.status,
      () => 'no answer',
    );
    // The close has taken K1 out of the store once the list no longer has it: its run is under way.
    while (((await (await fetch(`${server.url}/cases`)).json()) as { case_ids: string[] }).case_ids.includes('K1')) await new Promise((resolve) => setTimeout(resolve, 20));
    server.cli.signal('SIGTERM');
    // The worker still in the close's run when the shutdown times out: the process aborts after the save, rather than
    // wait for the run. Had the run ended first, the close would be refused, never answered 200.
    expect(await server.cli.waitForExit(10_000), server.cli.describe()).toEqual({ code: null, signal: 'SIGABRT' });
    expect(['no answer', 503]).toContain(await close);
    expect(server.cli.logLines()).toContainEqual(expect.objectContaining({ msg: 'open cases saved', open_cases: 2, closes_under_way: 1 }));
    expect(fileLines(file).map((l) => [l.id ?? 'header', l.n_events ?? l.open_cases])).toEqual([
      ['header', 2],
      ['K2', 1],
      ['K1', 1],
    ]);

    const restarted = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file));
    const retried = await fetch(`${restarted.url}/cases/K1/close`, { method: 'POST' });
    expect(retried.status, await retried.clone().text()).toBe(200);
    expect(await retried.json()).toMatchObject({ case_id: 'K1', n_events: 1, closed: true });
    await restarted.cli.kill();
  });

  it('a second signal during the drain delay: every event acknowledged until the exit is in the file', async () => {
    const file = stateFile();
    const server = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--drain-delay', '5000'));
    server.cli.signal('SIGTERM');
    await server.cli.waitForStdout(/"msg":"shutting down: \/readyz is 503, serving on until the drain"/, 5_000);
    // Events one after another until the process is gone; the second signal after 20 of them. It saves and exits
    // moments later, and the events between the two are answered.
    const acknowledged: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i === 20) server.cli.signal('SIGTERM');
      const id = `L${i}`;
      const answer = await fetch(`${server.url}/cases/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'approve loan' }) }).catch(() => undefined);
      if (answer === undefined) break;
      if (answer.status === 202) acknowledged.push(id);
      else expect(await answer.json()).toMatchObject({ error: 'shutting_down' });
    }
    expect((await server.cli.waitForExit()).code, server.cli.describe()).toBe(1);
    expect(acknowledged.length).toBeGreaterThanOrEqual(20);
    const saved = fileLines(file)
      .slice(1)
      .map((l) => l.id);
    expect(acknowledged.filter((id) => !saved.includes(id)), 'acknowledged, not saved').toEqual([]);
  });

  it('saves when the shutdown times out with a request still in flight (the app never finishes closing)', async () => {
    const file = stateFile();
    const server = await startServer(serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--shutdown-timeout', '300'));
    const answer = await fetch(`${server.url}/cases/T1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'approve loan' }) });
    expect(answer.status).toBe(202);
    // An upload that stops half-way holds the drain until --request-idle-timeout, far beyond the shutdown's.
    const upload = connect({ host: '127.0.0.1', port: server.port });
    await once(upload, 'connect');
    upload.write('POST /anomaly HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    // Its head parsed: the request is in flight.
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.cli.signal('SIGTERM');
    expect((await server.cli.waitForExit()).code, server.cli.describe()).toBe(1);
    upload.destroy();
    const messages = server.cli.logLines().map((l) => l.msg);
    expect(messages).toContain('shutdown timed out with requests still in flight');
    expect(messages).toContain('open cases saved');
    // The close may finish in the moments before the exit: it must not then call a timed-out shutdown clean.
    expect(messages).not.toContain('shut down cleanly');
    expect(fileLines(file).map((l) => l.id ?? 'header')).toEqual(['header', 'T1']);
  });
});

