import { describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.js';

interface Published {
  type: string;
  case_id?: string;
  n_events?: number;
  alert?: boolean;
  explanation?: { text: string }[];
}

describe('an evaluation published after a later one of the same case (a POST /events beyond --max-batch-rows)', () => {
  it('is on the feed, but the case keeps the later one as its latest on the board and in its scores', async () => {
    // Two rows a run: the four scored events of the POST /events run in two runs of their own beside the queue, and
    // the single event's run, queued meanwhile, ends between them.
    const app = await testApp({ liveStatsIntervalMs: 0, maxBatchRows: 2 });
    try {
      const id = 'backfilled';
      const before = app.live.bus.latestId;
      const event = (name: string) => ({ case_id: id, name, attributes: { risk_score: '0.9' } });
      const bulk = app.cases.processStream([event('approve loan'), event('decline loan'), event('decline loan'), event('approve loan')], true);
      const single = await app.cases.onEvent(id, { name: 'decline loan', attributes: { risk_score: '0.2' } }, true);
      await bulk;
      expect(single.kind).toBe('evaluated');
      const latest = single.kind === 'evaluated' ? single.evaluation : undefined;

      const evaluations: number[] = [];
      for (let at = before + 1; at <= app.live.bus.latestId; at++) {
        const published = app.live.bus.ring.get(at)?.event as Published | undefined;
        if (published?.case_id === id && published.type === 'evaluation') evaluations.push(published.n_events!);
      }
      // The situation this is about: the fifth event's evaluation came first.
      expect(evaluations).toEqual([5, 1, 2, 3, 4]);

      const [board] = app.live.snapshot({ caseId: id }).cases;
      expect(board?.n_events).toBe(5);
      expect(board?.last).toMatchObject({ n_events: 5, trace_score: latest?.trace_score });
      expect(board?.recent_scores).toEqual([latest?.trace_score]);
    } finally {
      await app.close();
    }
  });

  it('alerts once for an anomaly its late evaluations share, as evaluations published in order do', async () => {
    const app = await testApp({ liveStatsIntervalMs: 0, maxBatchRows: 2 });
    try {
      const id = 'backfilled';
      const before = app.live.bus.latestId;
      // At risk 0.9 the model expects approve loan: from the second event on, the bulk's evaluations all carry the
      // unexpected decline loan. The single event (risk 0.2) makes the latest anomaly another one: approve loan.
      const event = (name: string) => ({ case_id: id, name, attributes: { risk_score: '0.9' } });
      const bulk = app.cases.processStream([event('approve loan'), event('decline loan'), event('decline loan'), event('approve loan')], true);
      await app.cases.onEvent(id, { name: 'decline loan', attributes: { risk_score: '0.2' } }, true);
      await bulk;

      const published: Published[] = [];
      for (let at = before + 1; at <= app.live.bus.latestId; at++) published.push(app.live.bus.ring.get(at)!.event as Published);
      const alerts = published.filter((e) => e.type === 'alert').map((e) => [e.n_events, e.explanation?.map((item) => item.text)]);
      expect(alerts).toEqual([
        [5, ['observed approve loan, not expected (<0.01)']],
        [2, ['observed decline loan, not expected (<0.01)']],
      ]);
      // Each late evaluation at the threshold still says so.
      expect(published.filter((e) => e.type === 'evaluation' && e.alert === true).map((e) => e.n_events)).toEqual([5, 2, 3, 4]);
    } finally {
      await app.close();
    }
  });
});
