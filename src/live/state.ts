import type { CaseState } from '../cases/case-store.js';
import { EvaluationRecord, type TransitionNames } from './evaluation-record.js';
import type { AlertRecord } from './alert-record.js';
import { CaseScores, type ScoredCase } from './case-scores.js';
import type { BusEventType, SnapshotCase, SnapshotEvent, SnapshotLane } from './events.js';
import { matchesFilter, type LiveFilter } from './filter.js';
import type { StatsNumbers } from './stats.js';

/** Cells a case row shows, and scores kept per case for the snapshot. */
export const RECENT_SCORES = 60;
export const SNAPSHOT_CASES = 2000;
/** The event types a snapshot's cases and stateless lanes are the starting picture for. */
const BOARD_TYPES: ReadonlySet<BusEventType> = new Set<BusEventType>(['evaluation', 'case_opened', 'case_closed', 'case_evicted']);
export const SNAPSHOT_ALERTS = 20;
/** Lanes whose stateless evaluations are remembered; the least recently used is forgotten beyond it. */
const STATELESS_LANES = 200;

/**
 * What the live view remembers of one open case. Kept on the case store's state (its `attachment`), so an event or an
 * evaluation reaches it without a lookup by id, and a later case under the same id gets a record of its own. Its place
 * in the order of activity is the state's, in the case store's list: a second list here moved on every event too, in
 * the same order, at the cost of two pointers per case and the cache misses of relinking them.
 */
export class LiveCase implements ScoredCase {
  nEvents = 0;
  /** Its row in CaseScores, -1 until the first evaluation (most open cases are never scored between events). */
  row = -1;
  scores = 0;
  /**
   * The lane it was last published under: its case_opened's, then its latest evaluation's (the rest is in its row).
   * The snapshot shows it there too, not under the lane its latest unscored event names: a reader of that lane gets no
   * event of the case before its next evaluation, so a reload would otherwise draw a different board.
   */
  lastLane: string;
  /** The transitions (and kinds) of the case's last alert, so an unchanged anomaly does not alert again. */
  alertSignature: number[] | undefined = undefined;

  constructor(
    readonly caseId: string,
    lane: string,
    readonly opened: string,
  ) {
    this.lastLane = lane;
  }
}

interface StatelessLane {
  readonly name: string;
  readonly recent: ScoreWindow;
  readonly last: EvaluationRecord;
}

/**
 * The last RECENT_SCORES scores, oldest first when read. Once full it overwrites in a circle: the array's shift(), as
 * before, moved all sixty on every score.
 */
class ScoreWindow {
  private readonly values: number[] = [];
  private head = 0;

  push(score: number): void {
    if (this.values.length < RECENT_SCORES) {
      this.values.push(score);
      return;
    }
    this.values[this.head] = score;
    this.head = (this.head + 1) % RECENT_SCORES;
  }

  toArray(): number[] {
    return this.head === 0 ? [...this.values] : [...this.values.slice(this.head), ...this.values.slice(0, this.head)];
  }
}

/** What the live view reads of the open cases. */
export interface OpenCases {
  readonly openCases: number;
  /** Least recently active first. */
  openStates(): Iterable<CaseState>;
}

const NO_CASES: OpenCases = { openCases: 0, openStates: () => [] };

export interface SnapshotContext {
  scenario: string;
  laneAttribute: string | undefined;
  alertThreshold: number;
  laneThresholds: ReadonlyMap<string, number>;
  stats: StatsNumbers;
}

/**
 * The picture a new connection starts from: open cases (most recently active last) with their recent scores and
 * latest evaluation, recent stateless evaluations per lane, the last alerts. Updated synchronously by the publisher.
 */
export class LiveState {
  private readonly caseScores = new CaseScores(RECENT_SCORES);
  /** The open cases: the case store, which is made after the live view. */
  private cases: OpenCases = NO_CASES;
  private readonly stateless = new Map<string, StatelessLane>();
  /** The last alerts, oldest first: copies in records reused as the list moves on. */
  private readonly alerts: AlertRecord[] = [];
  /** The stateless lane evaluated last (the end of `stateless`'s order). */
  private latestStateless: StatelessLane | undefined;

  constructor(
    private readonly names: TransitionNames,
    private readonly newAlert: () => AlertRecord,
  ) {}

  /**
   * As the case store counts them: a case whose close or eviction waits for its evaluation is out of the store already
   * (and out of the snapshot), though its record here stays until that evaluation is published.
   */
  get openCases(): number {
    return this.cases.openCases;
  }

  followCases(cases: OpenCases): void {
    this.cases = cases;
  }

  /** The live record of an open case, if it has one. */
  of(state: CaseState): LiveCase | undefined {
    return state.attachment instanceof LiveCase ? state.attachment : undefined;
  }

  /** Starts the live record of a case. */
  opened(state: CaseState, lane: string, ts: string): LiveCase {
    this.remove(state);
    const entry = new LiveCase(state.caseId, lane, ts);
    state.attachment = entry;
    return entry;
  }

  /** An event arrived (the case store has moved the case to the most-recent end). */
  touch(entry: LiveCase, nEvents: number): void {
    entry.nEvents = nEvents;
  }

  /** Forgets a closed or evicted case. */
  remove(state: CaseState): LiveCase | undefined {
    const entry = this.of(state);
    if (entry !== undefined) {
      state.attachment = undefined;
      this.caseScores.release(entry);
    }
    return entry;
  }

  /** False, and nothing kept, for an evaluation of fewer events than the case's latest (CaseScores.record). */
  recordCaseEvaluation(entry: LiveCase, evaluation: EvaluationRecord): boolean {
    if (!this.caseScores.record(entry, evaluation)) return false;
    entry.lastLane = evaluation.lane;
    if (evaluation.nEvents > entry.nEvents) entry.nEvents = evaluation.nEvents;
    return true;
  }

  recordStateless(evaluation: EvaluationRecord): void {
    const latest = this.latestStateless;
    if (latest !== undefined && latest.name === evaluation.lane) {
      // Already the most recent lane (the usual case: one lane, or a batch of one lane): no lookup, no reordering.
      latest.recent.push(evaluation.traceScore);
      latest.last.copyFrom(evaluation);
      return;
    }
    let lane = this.stateless.get(evaluation.lane);
    if (lane === undefined) {
      lane = { name: evaluation.lane, recent: new ScoreWindow(), last: new EvaluationRecord() };
      if (this.stateless.size >= STATELESS_LANES) {
        const oldest = this.stateless.keys().next();
        if (oldest.done !== true) this.stateless.delete(oldest.value);
      }
    } else {
      this.stateless.delete(evaluation.lane);
    }
    this.stateless.set(evaluation.lane, lane);
    this.latestStateless = lane;
    lane.recent.push(evaluation.traceScore);
    lane.last.copyFrom(evaluation);
  }

  /** Keeps a copy of the alert: the ring reuses its record when it wraps, and the snapshot shows the last alerts. */
  recordAlert(alert: AlertRecord): void {
    const kept = this.alerts.length < SNAPSHOT_ALERTS ? this.newAlert() : this.alerts.shift()!;
    kept.copyFrom(alert);
    this.alerts.push(kept);
  }

  /** An open case's latest evaluation, read into a new record. */
  private lastOf(entry: LiveCase): EvaluationRecord {
    const record = this.caseScores.latest(entry, new EvaluationRecord());
    record.caseId = entry.caseId;
    record.lane = entry.lastLane;
    return record;
  }

  snapshot(headId: number, ts: string, filter: LiveFilter, context: SnapshotContext): SnapshotEvent {
    const keep = (entry: LiveCase) =>
      (filter.lane === undefined || entry.lastLane === filter.lane) &&
      (filter.caseId === undefined || entry.caseId === filter.caseId) &&
      (filter.minScore === undefined || (entry.row >= 0 && this.caseScores.latestScore(entry) >= filter.minScore));
    // A reader of alerts or stats alone has no use for the board: up to 2,000 cases are a megabyte on every (re)connect.
    const board = filter.types === undefined || [...filter.types].some((type) => BOARD_TYPES.has(type));
    // Without the board and without filters only the count is wanted: the store has it, without a walk of every case.
    const walk = board || filter.lane !== undefined || filter.caseId !== undefined || filter.minScore !== undefined;
    const matching: LiveCase[] = [];
    if (walk) {
      for (const state of this.cases.openStates()) {
        const entry = this.of(state);
        if (entry !== undefined && keep(entry)) matching.push(entry);
      }
    }
    const openCount = walk ? matching.length : this.openCases;
    const cases: SnapshotCase[] = (board ? matching.slice(-SNAPSHOT_CASES) : []).map((entry) => ({
      case_id: entry.caseId,
      lane: entry.lastLane,
      n_events: entry.nEvents,
      opened: entry.opened,
      recent_scores: this.caseScores.recentScores(entry),
      ...(entry.row >= 0 ? { last: this.lastOf(entry).toEvent(this.names) } : {}),
    }));
    const stateless: SnapshotLane[] = [];
    if (filter.caseId === undefined && board) {
      for (const [lane, value] of this.stateless) {
        if (filter.lane !== undefined && lane !== filter.lane) continue;
        const recent = filter.minScore === undefined ? value.recent.toArray() : value.recent.toArray().filter((s) => s >= filter.minScore!);
        if (recent.length === 0) continue;
        // Filtered as its scores are: the lane's last call may be below min_score while earlier ones reach it.
        const last = filter.minScore === undefined || value.last.traceScore >= filter.minScore ? { last: value.last.toEvent(this.names) } : {};
        stateless.push({ lane, recent_scores: recent, ...last });
      }
    }
    const alerts = this.alerts.filter((a) => matchesFilter({ lane: filter.lane, caseId: filter.caseId, minScore: filter.minScore }, a)).map((a) => a.toEvent());
    return {
      type: 'snapshot',
      id: headId,
      ts,
      scenario: context.scenario,
      ...(context.laneAttribute !== undefined ? { lane_attribute: context.laneAttribute } : {}),
      alert_threshold: context.alertThreshold,
      lane_thresholds: Object.fromEntries(context.laneThresholds),
      open_cases: openCount,
      cases,
      stateless,
      alerts,
      stats: context.stats,
    };
  }
}
