import type { EvaluationRecord } from './evaluation-record.js';
import { readRow, ROW, rowEvents, rowScore, writeRow } from './evaluation-table.js';

/** Rows per block, taken when the scored open cases outgrow the blocks so far. */
const BLOCK_ROWS = 2048;

/** Where a case's row is, and how many scores it has had (kept on the case's own record). */
export interface ScoredCase {
  /** -1 until the case's first evaluation. */
  row: number;
  /** Evaluations recorded: the window holds the last `min(scores, window)`, the next going to `scores % window`. */
  scores: number;
}

/** After the latest evaluation's numbers: its bus id, then the score window. */
const ID = ROW;
const WINDOW = ROW + 1;

/**
 * What the live view keeps of each scored open case, as one row of numbers in blocks of Float64Arrays: its latest
 * evaluation (as EvaluationTable stores one, with its bus id) and its last `window` trace scores, in a circle. Rows
 * of closed cases are reused. An EvaluationRecord copy and a score array per case put a scored event on eight or so
 * cold cache lines of its case: with 10,000 cases interleaved, copying into them cost 6–7% of the scored-events
 * throughput, and the score array about 3% more. A row is written on three lines, with no allocation.
 */
export class CaseScores {
  private readonly width: number;
  private readonly blocks: Float64Array[] = [];
  private readonly free: number[] = [];
  private rows = 0;

  constructor(private readonly window: number) {
    this.width = WINDOW + window;
  }

  /**
   * Stores a case's evaluation as its latest, and its score in its window. One of fewer events than the latest stored
   * is older news and is left out (false): a POST /events beyond --max-batch-rows runs beside the queue, and a later
   * event's own run can end, and be published, before it.
   */
  record(scored: ScoredCase, evaluation: EvaluationRecord): boolean {
    if (scored.row < 0) scored.row = this.take();
    else if (rowEvents(this.blockOf(scored), this.offsetOf(scored)) > evaluation.nEvents) return false;
    const block = this.blockOf(scored);
    const at = this.offsetOf(scored);
    writeRow(block, at, evaluation);
    block[at + ID] = evaluation.id;
    block[at + WINDOW + (scored.scores % this.window)] = evaluation.traceScore;
    scored.scores++;
    return true;
  }

  /** Gives back the row of a case that closed or was evicted. */
  release(scored: ScoredCase): void {
    if (scored.row >= 0) this.free.push(scored.row);
    scored.row = -1;
    scored.scores = 0;
  }

  /** Fills `record` with the case's latest evaluation, but for its strings (the caller sets its case id and lane). */
  latest(scored: ScoredCase, record: EvaluationRecord): EvaluationRecord {
    const block = this.blockOf(scored);
    const at = this.offsetOf(scored);
    readRow(block, at, record);
    record.id = block[at + ID]!;
    return record;
  }

  latestScore(scored: ScoredCase): number {
    return rowScore(this.blockOf(scored), this.offsetOf(scored));
  }

  /** The case's window of scores, oldest first. */
  recentScores(scored: ScoredCase): number[] {
    if (scored.row < 0) return [];
    const block = this.blockOf(scored);
    const start = this.offsetOf(scored) + WINDOW;
    const held = Math.min(scored.scores, this.window);
    const oldest = scored.scores - held;
    const scores: number[] = [];
    for (let i = oldest; i < scored.scores; i++) scores.push(block[start + (i % this.window)]!);
    return scores;
  }

  private take(): number {
    const row = this.free.pop();
    if (row !== undefined) return row;
    if (this.rows === this.blocks.length * BLOCK_ROWS) this.blocks.push(new Float64Array(BLOCK_ROWS * this.width));
    return this.rows++;
  }

  private blockOf(scored: ScoredCase): Float64Array {
    return this.blocks[Math.floor(scored.row / BLOCK_ROWS)]!;
  }

  private offsetOf(scored: ScoredCase): number {
    return (scored.row % BLOCK_ROWS) * this.width;
  }
}
