import { firstSorted } from './first-sorted.js';
import { emptyObserved, markObserved, type Observed } from '../scoring/observed.js';
import { pythonStr, type AttributeValue } from '../scoring/python-float.js';
import { CaseLimitError } from './case-errors.js';
import { RecencyList, type RecencyLinks } from './recency-list.js';

/**
 * What scoring needs of a case, and nothing more: which labels were seen, how many events arrived, the merged
 * attributes it reads (latest wins). The event list itself is not kept, nor attributes nothing reads.
 */
export interface CaseState extends RecencyLinks<CaseState> {
  readonly caseId: string;
  nEvents: number;
  observed: Observed;
  /** The attributes the store keeps (`keptAttributes`), merged: latest wins. */
  attributes: Record<string, AttributeValue>;
  /** Characters of the merged attributes' names and string values, as kept: what they hold beyond their count. */
  attributeChars: number;
  lastSeen: number;
  /**
   * What an observer keeps of the case (the live view's record of it), reached from the state the store already
   * looked up: a second map by case id cost a lookup per event, measurable on a map of thousands of cases.
   */
  attachment: object | undefined;
  /**
   * Evaluations of the case under way (scored, not yet published). An eviction meanwhile is told once the last is
   * published, so that the feed never shows a case's evaluation after its eviction. A count on the state, not a map
   * beside the store: it changes twice per scored event.
   */
  scoring: number;
}

/**
 * Why a case left the store without a close: its idle timeout, the open-case limit, the open cases' attribute
 * characters, or a DELETE.
 */
export const EVICTION_REASONS = ['idle', 'capacity', 'attribute_capacity', 'deleted'] as const;
export type EvictionReason = (typeof EVICTION_REASONS)[number];

/**
 * Why a case was dropped without a closing evaluation, as the live feed (`case_evicted`) and the evictions metric say
 * it: the store's reasons, and a close whose model run failed after a new case had taken its id, so that the failed
 * one could not be put back (StreamingEvaluator's onCloseFailed, not reinstated).
 */
export const DROP_REASONS = [...EVICTION_REASONS, 'close_failed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface CaseLimits {
  maxOpenCases: number;
  /** A case untouched this long is evicted at the next sweep; 0 disables idle eviction. */
  idleTimeoutMs: number;
  maxEventsPerCase: number;
  /** Distinct names of the attributes one case keeps. */
  maxAttributesPerCase: number;
  /**
   * Characters of the kept attributes' names and values one case may hold: the count alone bounds nothing, as one value
   * of a 4 MB body would stay whole.
   */
  maxAttributeCharsPerCase: number;
  /**
   * Characters of attribute names and values all open cases together may hold; beyond it the least recently touched
   * cases holding attributes are evicted (`attribute_capacity`). 0: no bound but the per-case one times the open cases, which is none to
   * speak of (100,000 cases of two megabytes). At least `maxAttributeCharsPerCase`, so that one case always fits.
   */
  maxAttributeChars: number;
}

export interface CaseStoreEvents {
  onEvict?(caseId: string, state: CaseState, reason: EvictionReason): void;
}

/**
 * Open cases by id, and in least-recently-touched order (a list through the states), so both idle sweeps and capacity
 * eviction take from the old end without scanning.
 */
export class CaseStore {
  private readonly cases = new Map<string, CaseState>();
  private readonly recency = new RecencyList<CaseState>();
  /** The open cases' attributeChars, summed. */
  private totalChars = 0;
  /** Changes to the open cases so far: a checkpoint with nothing new to write is skipped. */
  private changeCount = 0;

  constructor(
    private readonly columns: number,
    /**
     * The attributes a case keeps: those the bundle's specs read, and the live view's lane. Nothing reads the others, so
     * they can change no answer; kept, every process variable a workflow engine sends would hold memory for nothing,
     * and count against the per-case limits until an event was refused for them.
     */
    private readonly keptAttributes: ReadonlySet<string>,
    readonly limits: CaseLimits,
    private readonly events: CaseStoreEvents = {},
    private readonly now: () => number = Date.now,
  ) {
    const { maxAttributeChars, maxAttributeCharsPerCase } = limits;
    if (maxAttributeChars !== 0 && maxAttributeChars < maxAttributeCharsPerCase) {
      throw new RangeError(`the open cases' attribute characters (${maxAttributeChars}) must be 0 or at least one case's (${maxAttributeCharsPerCase})`);
    }
  }

  get size(): number {
    return this.cases.size;
  }

  /** Characters of attribute names and values the open cases hold, as `maxAttributeChars` counts them. */
  get attributeChars(): number {
    return this.totalChars;
  }

  /** Grows with every change to the open cases (an event, a restore, a close, an eviction); compare, do not count. */
  get changes(): number {
    return this.changeCount;
  }

  get(caseId: string): CaseState | undefined {
    return this.cases.get(caseId);
  }

  /**
   * Checks the limits for one more event with these attributes, then applies it; nothing changes when a limit would be
   * exceeded. Returns the case's state (new on first sight). `column`: the output column the event's label marks as
   * observed, or undefined when it matches no transition.
   */
  record(caseId: string, column: number | undefined, attributes: Readonly<Record<string, AttributeValue>> | undefined): CaseState {
    let state = this.cases.get(caseId);
    // Idle past the timeout but not swept yet (sweeps run every tenth of it, at most a minute apart; a case restored
    // after a long downtime waits for the first): it is evicted now, as the sweep would have, and the event opens a new
    // case, rather than reviving one its caller may already have been told is gone.
    if (state !== undefined && state.lastSeen <= this.idleCutoff()) {
      this.evict(state, 'idle');
      state = undefined;
    }
    let added = 0;
    let chars = state?.attributeChars ?? 0;
    // for…in, not Object.keys: no array per event. The attributes are a parsed JSON object, with no inherited keys.
    if (attributes !== undefined) {
      for (const key in attributes) {
        if (!this.keptAttributes.has(key)) continue;
        if (state === undefined || !Object.hasOwn(state.attributes, key)) {
          added++;
          chars += key.length;
        } else {
          chars -= keptChars(state.attributes[key]);
        }
        chars += keptChars(attributes[key]);
      }
    }
    const { maxEventsPerCase, maxAttributesPerCase, maxAttributeCharsPerCase } = this.limits;
    if ((state?.nEvents ?? 0) + 1 > maxEventsPerCase) {
      throw new CaseLimitError(caseId, 'max_events_per_case', maxEventsPerCase, `case '${caseId}' already has ${state?.nEvents ?? 0} events, and ${maxEventsPerCase} is the most one case may have; close it, or delete it if it cannot be scored`);
    }
    // Counted when an event adds names (most events of a case add none): a count kept per case would cost every open
    // case 8 bytes.
    const current = state === undefined || added === 0 ? 0 : countKeys(state.attributes);
    if (current + added > maxAttributesPerCase) {
      throw new CaseLimitError(
        caseId,
        'max_attributes_per_case',
        maxAttributesPerCase,
        `case '${caseId}' would have ${current + added} attributes, more than the ${maxAttributesPerCase} one case may have`,
      );
    }
    // Only an event that grows the case past the limit is refused: one restored under a lower limit (or put back by a
    // failed close) still takes events that add nothing.
    if (chars > maxAttributeCharsPerCase && chars > (state?.attributeChars ?? 0)) {
      throw new CaseLimitError(
        caseId,
        'max_attribute_chars_per_case',
        maxAttributeCharsPerCase,
        `case '${caseId}' would hold ${chars} characters of attribute names and values, more than the ${maxAttributeCharsPerCase} one case may hold`,
      );
    }
    if (state === undefined) {
      this.makeRoom();
      state = { caseId, nEvents: 0, observed: emptyObserved(this.columns), attributes: {}, attributeChars: 0, lastSeen: 0, attachment: undefined, scoring: 0, older: undefined, newer: undefined };
      this.cases.set(caseId, state);
      this.recency.push(state);
    } else {
      this.recency.touch(state);
    }
    state.nEvents += 1;
    if (column !== undefined) state.observed = markObserved(state.observed, column);
    if (attributes !== undefined) for (const key in attributes) if (this.keptAttributes.has(key)) state.attributes[key] = kept(attributes[key]);
    this.totalChars += chars - state.attributeChars;
    state.attributeChars = chars;
    state.lastSeen = this.now();
    this.changeCount++;
    if (this.limits.maxAttributeChars !== 0 && this.totalChars > this.limits.maxAttributeChars) this.makeAttributeRoom(state);
    return state;
  }

  /**
   * Puts back a case saved at the last shutdown (`--case-state-file`), as the most recently touched one: call it in the
   * saved order. Attributes this store does not keep (another bundle's specs read others) are left out and counted;
   * the per-case limits are for new events and not checked. Returns how many attributes were left out.
   */
  restore(caseId: string, nEvents: number, columns: Iterable<number>, attributes: Readonly<Record<string, AttributeValue>>, lastSeen: number): number {
    if (this.cases.has(caseId)) throw new RangeError(`case '${caseId}' is open already`);
    this.makeRoom();
    let observed = emptyObserved(this.columns);
    for (const column of columns) observed = markObserved(observed, column);
    const state: CaseState = { caseId, nEvents, observed, attributes: {}, attributeChars: 0, lastSeen, attachment: undefined, scoring: 0, older: undefined, newer: undefined };
    let leftOut = 0;
    for (const key in attributes) {
      if (!this.keptAttributes.has(key)) {
        leftOut++;
        continue;
      }
      state.attributes[key] = kept(attributes[key]);
      state.attributeChars += key.length + keptChars(attributes[key]);
    }
    this.cases.set(caseId, state);
    this.recency.push(state);
    this.totalChars += state.attributeChars;
    this.changeCount++;
    return leftOut;
  }

  /**
   * Puts back, as the most recently touched case, one a close took out (`delete`) and then could not score: it stays
   * open, as a case that cannot be scored does. False, and nothing changes, when its id is open again (a POST /events
   * opened a new case under it meanwhile).
   */
  reinstate(state: CaseState): boolean {
    if (this.cases.has(state.caseId)) return false;
    this.makeRoom();
    state.lastSeen = this.now();
    this.cases.set(state.caseId, state);
    this.recency.push(state);
    this.totalChars += state.attributeChars;
    this.changeCount++;
    if (this.limits.maxAttributeChars !== 0 && this.totalChars > this.limits.maxAttributeChars) this.makeAttributeRoom(state);
    return true;
  }

  /**
   * A close under way has ended, whatever came of it: the case it took out, which a checkpoint may have written as
   * still open to its caller, is gone for good or back in the store. A change, so that the next checkpoint writes again.
   */
  closeEnded(): void {
    this.changeCount++;
  }

  /** Drops an open case without a close, as an eviction with reason `deleted` (told to the store's onEvict). */
  discard(caseId: string): CaseState | undefined {
    const state = this.cases.get(caseId);
    if (state !== undefined) this.evict(state, 'deleted');
    return state;
  }

  delete(caseId: string): boolean {
    const state = this.cases.get(caseId);
    if (state === undefined) return false;
    this.cases.delete(caseId);
    this.recency.remove(state);
    this.totalChars -= state.attributeChars;
    this.changeCount++;
    return true;
  }

  /** The open cases, least recently touched first. */
  byRecency(): Iterable<CaseState> {
    return this.recency;
  }

  /** The open cases as they are now, least recently touched first (the list itself changes as events touch cases). */
  snapshotByRecency(): CaseState[] {
    return this.recency.toArray(this.cases.size);
  }

  /** Open case ids in code-unit order, from after `after` on, at most `limit`. */
  ids(limit = Number.POSITIVE_INFINITY, after?: string): string[] {
    return firstSorted(this.cases.keys(), limit, after);
  }

  /**
   * Evicts idle cases, the least recently touched first, at most `limit` of them (the caller sweeps again for the
   * rest: 200,000 evictions in one go held the event loop for most of a second). Returns how many it evicted.
   */
  sweepIdle(limit = Number.POSITIVE_INFINITY): number {
    const cutoff = this.idleCutoff();
    if (cutoff === Number.NEGATIVE_INFINITY) return 0;
    let evicted = 0;
    for (let state = this.recency.oldest; state !== undefined && state.lastSeen <= cutoff && evicted < limit; state = this.recency.oldest) {
      this.evict(state, 'idle');
      evicted++;
    }
    return evicted;
  }

  /** A case last touched at or before this is idle (-Infinity, none, when idle eviction is off). */
  private idleCutoff(): number {
    return this.limits.idleTimeoutMs > 0 ? this.now() - this.limits.idleTimeoutMs : Number.NEGATIVE_INFINITY;
  }

  private makeRoom(): void {
    while (this.cases.size >= this.limits.maxOpenCases) {
      const oldest = this.recency.oldest;
      if (oldest === undefined) return;
      this.evict(oldest, 'capacity');
    }
  }

  /**
   * Evicts the least recently touched cases that hold attributes until the open cases' attributes fit again, never
   * `current` (the case the event that overflowed them went to, now the most recent: it fits alone, as the constructor
   * checked). A case holding none frees nothing, and is passed over rather than losing its state for nothing.
   */
  private makeAttributeRoom(current: CaseState): void {
    for (let state = this.recency.oldest; state !== undefined && state !== current && this.totalChars > this.limits.maxAttributeChars; ) {
      const newer = state.newer;
      if (state.attributeChars > 0) this.evict(state, 'attribute_capacity');
      state = newer;
    }
  }

  private evict(state: CaseState, reason: EvictionReason): void {
    this.cases.delete(state.caseId);
    this.recency.remove(state);
    this.totalChars -= state.attributeChars;
    this.changeCount++;
    this.events.onEvict?.(state.caseId, state, reason);
  }
}

function countKeys(attributes: Readonly<Record<string, AttributeValue>>): number {
  let n = 0;
  // for…in, not Object.keys: no array. The case's own object, with no inherited keys.
  for (const _key in attributes) n++;
  return n;
}

/**
 * What a value adds to a case's attribute characters, as `kept` keeps it: a string its length, a structured value its
 * cut-short str() (made twice for an event that carries one, which is rare: a number's or a boolean's size is fixed).
 */
function keptChars(value: AttributeValue | undefined): number {
  if (typeof value === 'string') return value.length;
  return typeof value === 'object' && value !== null ? pythonStr(value).length : 0;
}

/**
 * An attribute value as the case keeps it: an object or list (a structured variable, which no spec can read as a
 * number) as its Python str(), cut short, rather than the parsed structure: a 4 MB body of nested lists would
 * otherwise stay in the case's state at many times its size. A spec reading it still finds it not numeric, as before.
 */
function kept(value: AttributeValue): AttributeValue {
  return typeof value === 'object' && value !== null ? pythonStr(value) : value;
}
