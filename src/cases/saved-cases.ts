import { isObserved } from '../scoring/observed.js';
import type { Net } from '../scoring/net.js';
import type { AttributeValue } from '../scoring/python-float.js';
import { checkpointCaseStateFile, readCaseStateFile, writeCaseStateFile, type CaseStateHeader, type CheckpointOptions, type SavedCase } from './case-state-file.js';
import type { CaseState, CaseStore } from './case-store.js';

/** What the model's identity is written as in the file's header, and read back against. */
export interface ServedModel {
  net: Net;
  modelSha256: string;
}

function savedCase(state: CaseState, net: Net): SavedCase {
  const seen: string[] = [];
  for (let column = 0; column < net.outputs.length; column++) if (isObserved(state.observed, column)) seen.push(net.outputs[column]!);
  return { id: state.caseId, n_events: state.nEvents, seen, attributes: state.attributes as Record<string, string | number | boolean | null>, last_seen: state.lastSeen };
}

/**
 * Writes the store's open cases to `file`, and after them, as the most recently touched, the cases out of the store for
 * a close still under way (`closing`, StreamingEvaluator.closesUnderWay), which a failed close would have put back;
 * returns the bytes written.
 */
export function saveOpenCases(file: string, store: CaseStore, model: ServedModel, closing: readonly CaseState[] = [], now = new Date()): number {
  const header = { written_at: now.toISOString(), scenario: model.net.scenarioName, model_sha256: model.modelSha256, open_cases: store.size + closing.length };
  return writeCaseStateFile(
    file,
    header,
    (function* () {
      for (const state of store.byRecency()) yield savedCase(state, model.net);
      for (const state of closing) yield savedCase(state, model.net);
    })(),
  );
}

/**
 * Writes the cases open now to `file` while requests go on (`checkpointCaseStateFile`): each as it stands when its
 * line is written, and none that has left the store by then, so a case closed meanwhile does not come back after a
 * crash. After them, as saveOpenCases does, the cases a close had taken out that are still open to their callers
 * (`closesUnderWay`, StreamingEvaluator's): its close still under way (the caller has no answer yet, and retries after
 * a crash), or put back by its failure. Resolves to the bytes and cases written, or undefined when called off.
 */
export function checkpointOpenCases(
  file: string,
  store: CaseStore,
  model: ServedModel,
  closesUnderWay: () => readonly CaseState[],
  options: CheckpointOptions,
  now = new Date(),
): Promise<{ bytes: number; cases: number } | undefined> {
  const states = store.snapshotByRecency();
  // Out of the store when their turn came: the closes under way as the checkpoint began, and the cases that left it
  // since (a few, against every open case in `states`). A close's case can be in `states` only if its close began after.
  const passedOver: CaseState[] = [...closesUnderWay()];
  let at = 0;
  let stillOpen: CaseState[] | undefined;
  const next = (): SavedCase | undefined => {
    while (at < states.length) {
      const state = states[at++]!;
      if (store.get(state.caseId) === state) return savedCase(state, model.net);
      passedOver.push(state);
    }
    if (stillOpen === undefined) {
      const underWay = new Set(closesUnderWay());
      stillOpen = passedOver.filter((state) => underWay.has(state) || store.get(state.caseId) === state);
    }
    const state = stillOpen.shift();
    return state === undefined ? undefined : savedCase(state, model.net);
  };
  return checkpointCaseStateFile(file, { written_at: now.toISOString(), scenario: model.net.scenarioName, model_sha256: model.modelSha256 }, next, options);
}

export interface RestoreOutcome {
  header: CaseStateHeader;
  restored: number;
  /** The least recently touched cases beyond --max-open-cases, left out. */
  overCapacity: number;
  /** Transitions the cases had seen that the served net does not have (another model was saved). */
  unknownTransitions: string[];
  /** Attribute values left out because the served bundle's specs do not read them. */
  attributesLeftOut: number;
  /** Whether the file was written while serving another model. */
  otherModel: boolean;
}

/**
 * Puts the cases of `file` back into an empty store; undefined when there is no file. A file saved with another model
 * is taken too: a case's seen transitions are matched by id, and its attributes by name, as the new model's events
 * and specs would read them; what does not match is counted, for the log.
 */
export async function restoreOpenCases(file: string, store: CaseStore, model: ServedModel): Promise<RestoreOutcome | undefined> {
  const columnOf = new Map(model.net.outputs.map((id, column) => [id, column]));
  const unknown = new Set<string>();
  let skip = 0;
  let restored = 0;
  let overCapacity = 0;
  let attributesLeftOut = 0;
  const columns: number[] = [];
  const header = await readCaseStateFile(
    file,
    (read) => {
      skip = Math.max(0, read.open_cases - store.limits.maxOpenCases);
    },
    (saved) => {
      if (overCapacity < skip) {
        overCapacity++;
        return;
      }
      columns.length = 0;
      for (const id of saved.seen) {
        const column = columnOf.get(id);
        if (column === undefined) unknown.add(id);
        else columns.push(column);
      }
      attributesLeftOut += store.restore(saved.id, saved.n_events, columns, saved.attributes as Record<string, AttributeValue>, saved.last_seen);
      restored++;
    },
  );
  if (header === undefined) return undefined;
  return { header, restored, overCapacity, unknownTransitions: [...unknown].sort(), attributesLeftOut, otherModel: header.model_sha256 !== model.modelSha256 };
}
