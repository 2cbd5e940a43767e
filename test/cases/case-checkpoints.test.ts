import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { CaseStore } from '../../src/cases/case-store.js';
import { checkpointOpenCases, restoreOpenCases, type ServedModel } from '../../src/cases/saved-cases.js';
import { fileLines, post, until, useCaseStateFiles, type Line } from '../helpers/case-state.js';
import { serveArgs, startServer } from '../helpers/cli.js';
import { DEFAULT_MODEL } from '../helpers/fixtures.js';

const { stateFile, app } = useCaseStateFiles();

/** Where a checkpoint is written before its rename. */
function checkpointPartial(file: string): string {
  return join(dirname(file), '.open-cases.jsonl.checkpoint');
}

async function metric(target: App, series: string): Promise<number> {
  const text = (await target.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

const written = 'petrascore_case_checkpoints_total{result="written"}';
const unchanged = 'petrascore_case_checkpoints_total{result="unchanged"}';
const failed = 'petrascore_case_checkpoints_total{result="failed"}';

/** A store of the default bundle's shape, and the model the file names, from an app that serves it. */
async function storeOf(): Promise<{ store: CaseStore; model: ServedModel }> {
  const { app: served } = await app({});
  const net = served.petra.net;
  const store = new CaseStore(net.outputs.length, new Set(['risk_score']), {
    maxOpenCases: 1000,
    idleTimeoutMs: 0,
    maxEventsPerCase: 100,
    maxAttributesPerCase: 10,
    maxAttributeCharsPerCase: 10_000,
    maxAttributeChars: 0,
  });
  return { store, model: { net, modelSha256: served.petra.bundle.modelSha256 } };
}

describe('--case-state-checkpoint-interval: the open cases checkpointed while serving', () => {
  it('writes the cases open when it starts, each as its line is written, none closed meanwhile; the header counts the lines', async () => {
    const file = stateFile();
    const { store, model } = await storeOf();
    for (let i = 0; i < 50; i++) store.record(`c${i}`, 0, { risk_score: i });
    // One case a slice: the changes below land before any line is written, and each line is read when its turn comes.
    const checkpoint = checkpointOpenCases(file, store, model, () => [], { sliceMs: 0, cancelled: () => false });
    store.delete('c49');
    store.record('c48', 1, { risk_score: 'touched' });
    store.record('opened meanwhile', undefined, undefined);
    expect(await checkpoint).toMatchObject({ cases: 49 });

    const [header, ...cases] = fileLines(file);
    expect(header).toMatchObject({ format: 'petrascore-open-cases', version: 1, open_cases: 49 });
    expect(cases.map((c) => c.id)).toEqual(Array.from({ length: 49 }, (_, i) => `c${i}`));
    expect(cases[48]).toMatchObject({ id: 'c48', n_events: 2, seen: model.net.outputs.slice(0, 2), attributes: { risk_score: 'touched' } });
    expect(existsSync(checkpointPartial(file))).toBe(false);

    const restored = (await storeOf()).store;
    expect(await restoreOpenCases(file, restored, model)).toMatchObject({ restored: 49 });
    expect(restored.get('c48')).toMatchObject({ nEvents: 2, attributes: { risk_score: 'touched' } });
  });

  it('writes after the open cases those a close took out that are still open to their callers: under way, or put back', async () => {
    const file = stateFile();
    const { store, model } = await storeOf();
    for (let i = 0; i < 10; i++) store.record(`c${i}`, 0, { risk_score: i });
    // c1's close is under way as the checkpoint begins.
    const c1 = store.get('c1')!;
    store.delete('c1');
    const underWay = [c1];
    const checkpoint = checkpointOpenCases(file, store, model, () => underWay, { sliceMs: 0, cancelled: () => false });
    // Before any line is written: c5's close begins, c7's begins and succeeds, c8's begins and fails (put back), c1's fails.
    const c5 = store.get('c5')!;
    underWay.push(c5);
    store.delete('c5');
    store.delete('c7');
    const c8 = store.get('c8')!;
    store.delete('c8');
    store.reinstate(c8);
    underWay.splice(underWay.indexOf(c1), 1);
    store.reinstate(c1);
    expect(await checkpoint).toMatchObject({ cases: 9 });
    expect(fileLines(file).slice(1).map((c) => c.id)).toEqual(['c0', 'c2', 'c3', 'c4', 'c6', 'c8', 'c9', 'c1', 'c5']);
  });

  it('called off (the shutdown saves meanwhile): leaves the file as it was and nothing of its own', async () => {
    const file = stateFile();
    writeFileSync(file, 'the last save');
    const { store, model } = await storeOf();
    for (let i = 0; i < 20; i++) store.record(`c${i}`, 0, undefined);
    // Called off after its third slice (one case each), with its own file half-written.
    let checks = 0;
    let halfWritten = '';
    const cancelled = () => {
      if (++checks < 3) return false;
      halfWritten = readFileSync(checkpointPartial(file), 'utf8');
      return true;
    };
    expect(await checkpointOpenCases(file, store, model, () => [], { sliceMs: 0, cancelled })).toBeUndefined();
    expect(halfWritten.trimEnd().split('\n').length, 'the header and three cases').toBe(4);
    expect(readFileSync(file, 'utf8')).toBe('the last save');
    expect(existsSync(checkpointPartial(file))).toBe(false);
  });

  it('skips a checkpoint while nothing changed, writes one after a change, and counts both', async () => {
    const file = stateFile();
    const { app: served, lines } = await app({ caseStateFile: file, caseStateCheckpointSeconds: 1 });
    served.startedServing();
    await until('a checkpoint has been skipped', async () => (await metric(served, unchanged)) >= 1);
    expect(existsSync(file), 'no case, no file').toBe(false);
    expect(await metric(served, written)).toBe(0);
    expect(await metric(served, 'petrascore_case_checkpoint_last_written_timestamp_seconds')).toBe(0);

    const before = Date.now() / 1000;
    await post(served, '/cases/K1/events', { name: 'approve loan', attributes: { risk_score: 0.9 } });
    await until('a checkpoint has been written', () => existsSync(file));
    expect(fileLines(file).map((l) => l.id ?? l.open_cases)).toEqual([1, 'K1']);
    await until('the checkpoint is counted', async () => (await metric(served, written)) === 1);
    expect(await metric(served, 'petrascore_case_checkpoint_last_written_timestamp_seconds')).toBeGreaterThanOrEqual(before);
    expect(await metric(served, 'petrascore_case_checkpoint_duration_seconds')).toBeGreaterThan(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 20, msg: 'open cases checkpointed', file, open_cases: 1 }));
  });

  it('skips the checkpoints after a restore while nothing changed: the file restored from stays as it was', async () => {
    const file = stateFile();
    const { app: first } = await app({ caseStateFile: file, caseStateCheckpointSeconds: 0 });
    await post(first, '/cases/K1/events', { name: 'approve loan', attributes: { risk_score: 0.9 } });
    await first.close();
    const saved = readFileSync(file, 'utf8');

    const { app: served } = await app({ caseStateFile: file, caseStateCheckpointSeconds: 1 });
    served.startedServing();
    await until('a checkpoint has been skipped', async () => (await metric(served, unchanged)) >= 1);
    expect(await metric(served, written), 'the restored cases are what the file holds').toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(saved);
  });

  it("fails loudly beside another instance's checkpoint under way, leaves it be, and writes at the next interval", async () => {
    const file = stateFile();
    const { app: served, lines } = await app({ caseStateFile: file, caseStateCheckpointSeconds: 1 });
    served.startedServing();
    // Another instance given the same file is writing a checkpoint now.
    writeFileSync(checkpointPartial(file), 'another instance, half-way');
    await post(served, '/cases/K1/events', { name: 'approve loan' });
    await until('a checkpoint has failed', async () => (await metric(served, failed)) === 1);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 40, msg: expect.stringMatching(/^open cases NOT checkpointed: .*\.checkpoint exists: another process is writing a checkpoint of .*two instances given one --case-state-file/) }),
    );
    expect(readFileSync(checkpointPartial(file), 'utf8')).toBe('another instance, half-way');
    expect(existsSync(file)).toBe(false);

    rmSync(checkpointPartial(file));
    await until('a checkpoint has been written', () => existsSync(file));
    expect(fileLines(file).map((l) => l.id ?? l.open_cases)).toEqual([1, 'K1']);
  });

  it("the shutdown's save during a checkpoint is what stays: the checkpoint is called off and removes its file", async () => {
    const file = stateFile();
    const { app: served, lines } = await app({ caseStateFile: file, caseStateCheckpointSeconds: 1 });
    served.startedServing();
    // Enough to write in several pieces (3 MB), with the event loop free between them.
    const value = 'x'.repeat(1000);
    for (let i = 0; i < 3000; i++) await post(served, `/cases/c${i}/events`, { name: 'approve loan', attributes: { risk_score: value } });
    const partial = checkpointPartial(file);
    await until('a checkpoint is under way', () => existsSync(partial), 15_000, true);
    await post(served, '/cases/after/events', { name: 'approve loan' });
    // Earlier checkpoints may have been written while the cases were opened (a slow machine): not this one.
    const checkpointed = () => lines.filter((l) => l.msg === 'open cases checkpointed').length;
    const writtenBefore = checkpointed();
    await served.close();
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'open cases saved', open_cases: 3001 }));
    await until('the checkpoint has removed its file', () => !existsSync(partial));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [header, ...cases] = fileLines(file);
    expect(header).toMatchObject({ open_cases: 3001 });
    expect(cases.at(-1)).toMatchObject({ id: 'after' });
    expect(checkpointed()).toBe(writtenBefore);
  });

  it("checks at startup that the checkpoint's longer name fits, and only with checkpoints on", async () => {
    // `.NAME.partial` fits in 255 bytes, `.NAME.checkpoint` does not.
    const file = join(dirname(stateFile()), 'a'.repeat(244));
    await expect(app({ caseStateFile: file, caseStateCheckpointSeconds: 1 })).rejects.toMatchObject({ name: 'CaseStateFileError', message: expect.stringContaining('cannot be written') });
    const { app: started } = await app({ caseStateFile: file, caseStateCheckpointSeconds: 0 });
    await post(started, '/cases/K1/events', { name: 'approve loan' });
    await started.close();
    expect(fileLines(file).map((l) => l.id ?? l.open_cases)).toEqual([1, 'K1']);
  });
});

describe('petrascore serve --case-state-checkpoint-interval', () => {
  it('a crash (SIGKILL) keeps the open cases of the last checkpoint: the next start restores them, and keeps the file', async () => {
    const file = stateFile();
    const args = serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--case-state-checkpoint-interval', '1');
    const first = await startServer(args);
    const send = (id: string, path: string, body?: unknown) =>
      fetch(`${first.url}/cases/${id}/${path}`, { method: 'POST', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const scored = (await (await send('K1', 'events?score=true', { name: 'approve loan', attributes: { risk_score: '0.9' } })).json()) as Line;
    expect((await send('K2', 'events', { name: 'approve loan', attributes: { risk_score: 0.2 } })).status).toBe(202);
    expect((await send('K2', 'close')).status).toBe(200);
    // On a slow machine a checkpoint may come between K2's event and its close: the next one has K1 alone.
    await until('a checkpoint holds K1 alone', () => existsSync(file) && JSON.stringify(fileLines(file).map((l) => l.id ?? l.open_cases)) === '[1,"K1"]');
    await first.cli.kill();
    expect(first.cli.logLines().map((l) => l.msg)).not.toContain('open cases saved');

    const second = await startServer(args);
    expect(second.cli.logLines()).toContainEqual(expect.objectContaining({ msg: 'open cases restored', open_cases: 1 }));
    // Kept until the next checkpoint replaces it: a second crash before then takes the same cases back.
    expect(existsSync(file)).toBe(true);
    expect((await fetch(`${second.url}/cases/K2`)).status, 'closed before the checkpoint: not back').toBe(404);
    const closed = (await (await fetch(`${second.url}/cases/K1/close`, { method: 'POST' })).json()) as Line;
    expect(closed).toEqual({ ...scored, closed: true });
    second.cli.signal('SIGTERM');
    expect((await second.cli.waitForExit()).code, second.cli.describe()).toBe(0);
    expect(fileLines(file)).toEqual([expect.objectContaining({ open_cases: 0 })]);
  });

  it('a save cut short (a file size limit) leaves the last checkpoint as it was, which the next start restores', async () => {
    const file = stateFile();
    const args = serveArgs(DEFAULT_MODEL, '--case-state-file', file, '--case-state-checkpoint-interval', '1');
    // 8 KiB at most per file: one case fits, the forty below (about 20 KiB) do not.
    const first = await startServer(args, { fileSizeLimit: 16 });
    const send = (events: unknown[]) => fetch(`${first.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
    expect((await send([{ case_id: 'K1', name: 'approve loan', attributes: { risk_score: 0.9 } }])).status).toBe(200);
    await until('a checkpoint holds K1', () => existsSync(file));
    const checkpoint = readFileSync(file, 'utf8');
    expect((await send(Array.from({ length: 40 }, (_, i) => ({ case_id: `F${i}`, name: 'approve loan', attributes: { risk_score: `${' '.repeat(500)}0.5` } })))).status).toBe(200);
    first.cli.signal('SIGTERM');
    expect(await first.cli.waitForExit(), first.cli.describe()).toEqual({ code: 1, signal: null });
    expect(first.cli.logLines()).toContainEqual(expect.objectContaining({ level: 50, open_cases: 41, msg: expect.stringMatching(/^open cases NOT saved: .*EFBIG/) }));
    expect(readFileSync(file, 'utf8'), 'neither the save nor a checkpoint cut short replaced it').toBe(checkpoint);
    expect(readdirSync(dirname(file))).toEqual(['open-cases.jsonl']);

    const second = await startServer(args);
    expect(second.cli.logLines()).toContainEqual(expect.objectContaining({ msg: 'open cases restored', open_cases: 1 }));
  });
});
