// petrascore live dashboard: follows GET /live (Server-Sent Events) and paints swim lanes of open cases.
// Plain modern JavaScript, no dependencies. Event shapes: the Live* schemas in the service's OpenAPI document (/docs).
//
// Rendering budget (500 open cases, 200 evaluations/s): events only update the model and mark it dirty; one
// requestAnimationFrame pass paints. The lane list is virtualised: only rows in view exist as DOM nodes (a small
// recycled pool), and each row's cells are drawn on one canvas.

const MAX_CELLS = 60; // per case, newest right
const MAX_CASES = 5000; // remembered by the page; the oldest ending cases go first
const MAX_ALERTS = 20;
// Lanes with a row of /anomaly calls, as the server's snapshot keeps them: the least recently scored is forgotten first.
// Without it a lane attribute of many values (a host, a tenant) grew the page without end, and a reload showed 200.
const MAX_STATELESS_LANES = 200;
const FADE_MS = 4000; // closed and evicted cases fade out over this long
const HIST_SCORES = 1000;
const HIST_BINS = 24;
const ROW_H = 18;
const HEAD_H = 30;
const OVERSCAN = 8;
const CELL_W = 9;
const CELL_GAP = 1;
const RESORT_MS = 1000; // "latest score" and "recent activity" orders are recomputed at most this often
const STATELESS = '\u0000stateless'; // key of a lane's stateless row (no case id can contain NUL… in practice)

const $ = (id) => document.getElementById(id);

/** Model: everything the page shows, rebuilt from a snapshot and updated by events. */
const model = {
  scenario: '',
  threshold: 0.5,
  laneThresholds: new Map(),
  lanes: new Map(), // name → { name, cases: Map<id, Case>, stateless: { scores, last, version } | null }
  statelessLanes: new Map(), // name → lane with a stateless row, least recently scored first
  latestStateless: undefined, // the name of the lane scored last there
  // id → Case { id, lane, nEvents (of the latest evaluation), opened, scores, last, ending: 0 | time, how, version, touched }
  cases: new Map(),
  alerts: [],
  stats: null,
  hist: new Float64Array(HIST_SCORES),
  histCount: 0,
  lastId: 0,
};

const dirty = { layout: true, rows: true, stats: true, alert: true, hist: true };
let lastSort = 0;
let orderBy = 'opened';

// ---------------------------------------------------------------------------------------------------------------
// Colour: a ramp anchored at the alert threshold (green far below, amber approaching, red at and beyond).

const RAMP_STEPS = 64;
const palette = [];
for (let i = 0; i < RAMP_STEPS; i++) {
  const r = (i / (RAMP_STEPS - 1)) * 2; // score / threshold, 0..2
  let h, s, l;
  if (r < 1) {
    h = 150 - 110 * r ** 1.4; // 150 (green) → 40 (amber)
    s = 55 + 35 * r;
    l = 38 + 12 * r;
  } else {
    const t = Math.min(1, r - 1);
    h = 8 - 18 * t; // red → crimson
    s = 85;
    l = 52 - 14 * t;
  }
  palette.push(`hsl(${((h % 360) + 360) % 360.0} ${s}% ${l}%)`);
}

function thresholdOf(lane) {
  return model.laneThresholds.get(lane) ?? model.threshold;
}

function colour(score, threshold) {
  const r = threshold > 0 ? score / threshold : score > 0 ? 2 : 0;
  const i = Math.max(0, Math.min(RAMP_STEPS - 1, Math.round((r / 2) * (RAMP_STEPS - 1))));
  return palette[i];
}

function fmt(n, digits = 2) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return Number(n).toFixed(digits);
}

// ---------------------------------------------------------------------------------------------------------------
// Model updates

function laneOf(name) {
  let lane = model.lanes.get(name);
  if (!lane) {
    lane = { name, cases: new Map(), stateless: null };
    model.lanes.set(name, lane);
    dirty.layout = true;
  }
  return lane;
}

function addCase(id, laneName, opened) {
  let c = model.cases.get(id);
  if (c && !c.ending) return c;
  if (c) removeCase(c); // an ended case under the same id: the new one replaces it
  c = { id, lane: laneName, nEvents: 0, opened: opened ?? Date.now(), scores: [], last: null, ending: 0, how: '', version: 0, touched: Date.now() };
  model.cases.set(id, c);
  laneOf(laneName).cases.set(id, c);
  dirty.layout = true;
  if (model.cases.size > MAX_CASES) evictOldest();
  return c;
}

function removeCase(c) {
  model.cases.delete(c.id);
  const lane = model.lanes.get(c.lane);
  if (lane) {
    lane.cases.delete(c.id);
    if (lane.cases.size === 0 && !lane.stateless) model.lanes.delete(c.lane);
  }
  dirty.layout = true;
}

function evictOldest() {
  // Ending cases first, then the least recently touched.
  let victim = null;
  for (const c of model.cases.values()) {
    if (c.ending) { victim = c; break; }
    if (!victim || c.touched < victim.touched) victim = c;
  }
  if (victim) removeCase(victim);
}

function moveLane(c, laneName) {
  if (c.lane === laneName) return;
  const old = model.lanes.get(c.lane);
  if (old) {
    old.cases.delete(c.id);
    if (old.cases.size === 0 && !old.stateless) model.lanes.delete(c.lane);
  }
  c.lane = laneName;
  laneOf(laneName).cases.set(c.id, c);
  dirty.layout = true;
}

function pushScore(scores, score) {
  scores.push(score);
  if (scores.length > MAX_CELLS) scores.splice(0, scores.length - MAX_CELLS);
}

function recordHist(score) {
  model.hist[model.histCount % HIST_SCORES] = score;
  model.histCount++;
  dirty.hist = true;
}

/** The lane's row of /anomaly calls, made the most recently scored; beyond MAX_STATELESS_LANES the oldest goes. */
function statelessRow(lane) {
  const order = model.statelessLanes;
  if (lane.stateless) {
    // Most calls score the lane scored last: no reordering then.
    if (lane.name !== model.latestStateless) {
      order.delete(lane.name);
      order.set(lane.name, lane);
    }
  } else {
    lane.stateless = { scores: [], last: null, version: 0 };
    order.set(lane.name, lane);
    dirty.layout = true;
    if (order.size > MAX_STATELESS_LANES) {
      const oldest = order.values().next().value;
      order.delete(oldest.name);
      oldest.stateless = null;
      if (oldest.cases.size === 0) model.lanes.delete(oldest.name);
    }
  }
  model.latestStateless = lane.name;
  return lane.stateless;
}

function onEvaluation(e) {
  recordHist(e.trace_score);
  if (e.source === 'anomaly' || e.source === 'anomaly_batch') {
    const lane = laneOf(e.lane);
    const row = statelessRow(lane);
    pushScore(row.scores, e.trace_score);
    row.last = e;
    row.version++;
    dirty.rows = true;
    return;
  }
  let c = model.cases.get(e.case_id);
  if (!c || (c.ending && !e.closed)) c = addCase(e.case_id, e.lane);
  // Of fewer events than the one shown: published late (a large POST /events runs beside the queue), older news.
  if (c.last && e.n_events < c.last.n_events) return;
  moveLane(c, e.lane);
  pushScore(c.scores, e.trace_score);
  c.last = e;
  c.nEvents = e.n_events;
  c.touched = Date.now();
  c.version++;
  dirty.rows = true;
}

function onAlert(a) {
  model.alerts.push(a);
  if (model.alerts.length > MAX_ALERTS) model.alerts.splice(0, model.alerts.length - MAX_ALERTS);
  dirty.alert = true;
  dirty.alertFresh = true;
  dirty.rows = true;
}

function onEnded(e, how) {
  const c = model.cases.get(e.case_id);
  if (!c || c.ending) return;
  c.ending = performance.now();
  c.how = how;
  if (e.n_events !== undefined) c.nEvents = e.n_events;
  c.version++;
  dirty.rows = true;
  // The count leaves out an ending case at once, as the lane headers do; its row fades out meanwhile.
  dirty.count = true;
}

function applySnapshot(s) {
  model.scenario = s.scenario;
  model.threshold = s.alert_threshold;
  model.laneThresholds = new Map(Object.entries(s.lane_thresholds || {}));
  model.lanes.clear();
  model.statelessLanes.clear();
  model.latestStateless = undefined;
  model.cases.clear();
  model.alerts = [];
  model.histCount = 0;
  for (const sc of s.cases) {
    const c = addCase(sc.case_id, sc.lane, Date.parse(sc.opened));
    // The events of the evaluation shown, as the live page counts them (unscored events do not reach it): the case's
    // own count, which the snapshot also carries, drew another number after a reload.
    c.nEvents = sc.last ? sc.last.n_events : 0;
    c.scores = sc.recent_scores.slice(-MAX_CELLS);
    c.last = sc.last ?? null;
    c.touched = sc.last ? Date.parse(sc.last.ts) : c.opened;
    c.version++;
  }
  // Least recently scored first, as the server keeps them.
  for (const sl of s.stateless) {
    const lane = laneOf(sl.lane);
    lane.stateless = { scores: sl.recent_scores.slice(-MAX_CELLS), last: sl.last, version: 1 };
    model.statelessLanes.set(sl.lane, lane);
    model.latestStateless = sl.lane;
  }
  for (const a of s.alerts) model.alerts.push(a);
  // The histogram restarts from what the snapshot shows: the cases' recent scores.
  for (const c of model.cases.values()) for (const v of c.scores) recordHist(v);
  for (const lane of model.lanes.values()) if (lane.stateless) for (const v of lane.stateless.scores) recordHist(v);
  model.stats = s.stats;
  model.lastId = s.id;
  $('scenario').textContent = s.scenario + (s.lane_attribute ? ` · lanes by ${s.lane_attribute}` : '');
  Object.assign(dirty, { layout: true, rows: true, stats: true, alert: true, hist: true, legend: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Connection: EventSource reconnects by itself with Last-Event-ID; when it gives up (e.g. a 503), we reconnect with
// ?last_event_id= so that nothing is lost either way.

const conn = { es: null, everOpen: false, reconnecting: false, sawSnapshot: false, gap: null, retryTimer: 0, noticeTimer: 0, lastMessageAt: 0, lastStatsTs: 0, statsEvery: 0, resuming: null, resumeTimer: 0 };

// How long a reopened stream may send nothing before it counts as resumed: a server with nothing missed and stats
// turned off (--live-stats-interval 0) may send nothing at all for a while.
const RESUME_QUIET_MS = 2000;

// A server that stops sending (a hung process, a connection a proxy dropped without closing it) would look live for
// good: the server publishes stats at a steady pace, so silence for several of its intervals means the stream is dead.
const STALE_AFTER_INTERVALS = 5;
const STALE_MIN_MS = 5000;
setInterval(() => {
  if (conn.es === null || conn.statsEvery === 0 || conn.es.readyState !== EventSource.OPEN) return;
  const quiet = Date.now() - conn.lastMessageAt;
  const staleAfter = Math.max(STALE_MIN_MS, STALE_AFTER_INTERVALS * conn.statsEvery);
  if (quiet < staleAfter) return;
  if (quiet < 2 * staleAfter) {
    setConn('stale', `stale · nothing from the server for ${Math.round(quiet / 1000)} s`);
    return;
  }
  // Reconnect: EventSource resumes after the last id, so nothing still in the server's ring is lost.
  conn.es.close();
  conn.reconnecting = true;
  setConn('reconnecting', 'reconnecting… (the stream went silent)');
  connect();
}, 1000);

// "resumed" and "resynced" are news about the last reconnect: after a while the stream is simply live again.
const NOTICE_MS = 10_000;

function setConn(state, text) {
  const el = $('conn');
  el.dataset.state = state;
  $('conn-text').textContent = text;
  clearTimeout(conn.noticeTimer);
  if (state === 'resumed' || state === 'resynced') {
    conn.noticeTimer = setTimeout(() => {
      if (el.dataset.state === state) setConn('live', 'live');
    }, NOTICE_MS);
  }
}

/** The reopened stream `es` went on from where the page was: no gap came first. */
function resumed(es) {
  clearTimeout(conn.resumeTimer);
  if (conn.resuming?.es !== es) return;
  const { from } = conn.resuming;
  conn.resuming = null;
  setConn('resumed', `resumed after #${from}`);
}

function connect() {
  clearTimeout(conn.retryTimer);
  const url = new URL('../live', location.href);
  if (model.lastId > 0 && conn.everOpen) url.searchParams.set('last_event_id', String(model.lastId));
  const es = new EventSource(url);
  conn.es = es;
  conn.sawSnapshot = false;
  conn.lastMessageAt = Date.now();
  es.onopen = () => {
    if (conn.reconnecting) {
      // Resumed or not is the server's to say: its first frame is a gap (then a snapshot) when it cannot resume, and
      // applying that snapshot can take seconds on a busy page, which "resumed" stood over until then.
      conn.resuming = { es, from: model.lastId };
      setConn('reconnecting', `reconnected, catching up after #${model.lastId}…`);
      clearTimeout(conn.resumeTimer);
      conn.resumeTimer = setTimeout(() => resumed(es), RESUME_QUIET_MS);
    } else {
      setConn('live', 'live');
    }
    conn.everOpen = true;
  };
  es.onerror = () => {
    if (conn.resuming?.es === es) {
      conn.resuming = null;
      clearTimeout(conn.resumeTimer);
    }
    if (es.readyState === EventSource.CLOSED) {
      setConn('offline', 'offline · retrying in 5 s');
      conn.reconnecting = true;
      conn.retryTimer = setTimeout(connect, 5000);
    } else {
      conn.reconnecting = true;
      setConn('reconnecting', 'reconnecting…');
    }
  };
  const on = (type, handler) =>
    es.addEventListener(type, (msg) => {
      let data;
      try {
        data = JSON.parse(msg.data);
      } catch {
        return;
      }
      conn.lastMessageAt = Date.now();
      if (conn.resuming?.es === es) {
        if (type === 'gap') conn.resuming = null;
        else if (type !== 'snapshot') resumed(es);
      }
      if (conn.es === es && document.getElementById('conn').dataset.state === 'stale') setConn('live', 'live');
      if (typeof data.id === 'number' && type !== 'snapshot' && type !== 'gap') {
        // Already shown: a resume replays from the id the server was given, which may be older than what the page has.
        if (data.id <= model.lastId) return;
        model.lastId = data.id;
      }
      handler(data);
      schedule();
    });
  on('gap', (g) => {
    conn.gap = g;
  });
  on('snapshot', (s) => {
    applySnapshot(s);
    if (conn.gap) setConn('resynced', `resynced from snapshot #${s.id}: ${conn.gap.reason === 'expired' ? `events after #${conn.gap.requested} had left the server's memory` : 'the server restarted (or is another instance)'}`);
    else setConn('live', `live · from snapshot #${s.id}`);
    conn.gap = null;
    // The stats before a gap are not the ones before the next: no pace from them.
    conn.lastStatsTs = 0;
    conn.sawSnapshot = true;
    conn.reconnecting = false;
  });
  on('evaluation', onEvaluation);
  on('alert', onAlert);
  on('case_opened', (e) => addCase(e.case_id, e.lane, Date.parse(e.ts)));
  on('case_closed', (e) => onEnded(e, 'closed'));
  on('case_evicted', (e) => onEnded(e, `evicted (${String(e.reason).replaceAll('_', ' ')})`));
  on('stats', (s) => {
    // The server's pace from its own clock: a resume replays the stats events it missed back to back, and timed by
    // their arrival the pace was milliseconds (a page then called a stream with stats every 10 s stale after 5 s).
    const at = Date.parse(s.ts);
    if (conn.lastStatsTs > 0 && at > conn.lastStatsTs) conn.statsEvery = at - conn.lastStatsTs;
    conn.lastStatsTs = at;
    model.stats = s;
    dirty.stats = true;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

let frameRequested = false;
function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(frame);
}

const layout = { items: [], offsets: [], height: 0 };

function sortedCases(lane) {
  const list = [...lane.cases.values()];
  if (orderBy === 'score') list.sort((a, b) => (b.last?.trace_score ?? -1) - (a.last?.trace_score ?? -1) || a.opened - b.opened);
  else if (orderBy === 'activity') list.sort((a, b) => b.touched - a.touched);
  else list.sort((a, b) => a.opened - b.opened || (a.id < b.id ? -1 : 1));
  return list;
}

function buildLayout() {
  const items = [];
  const lanes = [...model.lanes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const lane of lanes) {
    items.push({ kind: 'head', lane });
    if (lane.stateless) items.push({ kind: 'stateless', lane });
    for (const c of sortedCases(lane)) items.push({ kind: 'case', lane, c });
  }
  const offsets = new Array(items.length);
  let y = 0;
  for (let i = 0; i < items.length; i++) {
    offsets[i] = y;
    y += items[i].kind === 'head' ? HEAD_H : ROW_H;
  }
  layout.items = items;
  layout.offsets = offsets;
  layout.height = y;
  $('spacer').style.height = `${y}px`;
  $('empty').hidden = items.length > 0;
  renderCount();
  lastSort = performance.now();
}

function renderCount() {
  const open = [...model.cases.values()].filter((c) => !c.ending).length;
  $('lanes-count').textContent = `${model.lanes.size} lane${model.lanes.size === 1 ? '' : 's'} · ${open} open case${open === 1 ? '' : 's'} shown`;
}

function firstVisible(top) {
  let lo = 0;
  let hi = layout.offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (layout.offsets[mid] <= top) lo = mid;
    else hi = mid - 1;
  }
  return Math.max(0, lo);
}

/** Recycled row elements: at most (viewport height / row height + overscan) of them exist. */
const pool = [];

function rowElement(i) {
  pool[i] ??= newRowElement();
  return pool[i];
}

function newRowElement() {
  const el = document.createElement('div');
  const cid = document.createElement('span');
  const meta = document.createElement('span');
  const canvas = document.createElement('canvas');
  const state = document.createElement('span');
  const why = document.createElement('span');
  cid.className = 'cid';
  meta.className = 'meta';
  state.className = 'state';
  why.className = 'why';
  canvas.width = MAX_CELLS * (CELL_W + CELL_GAP);
  canvas.height = 12;
  el.append(cid, meta, canvas, state, why);
  el._parts = { cid, meta, canvas, state, why, ctx: canvas.getContext('2d') };
  el._key = null;
  el._version = -1;
  $('rows').append(el);
  return el;
}

function drawCells(ctx, scores, threshold) {
  const w = MAX_CELLS * (CELL_W + CELL_GAP);
  ctx.clearRect(0, 0, w, 12);
  ctx.fillStyle = 'rgba(255,255,255,0.04)';
  ctx.fillRect(0, 0, w, 12);
  const n = scores.length;
  for (let k = 0; k < n; k++) {
    const x = w - (n - k) * (CELL_W + CELL_GAP);
    ctx.fillStyle = colour(scores[k], threshold);
    ctx.fillRect(x, 1, CELL_W, 10);
  }
}

/** An activation with 2 decimals, never rounded onto 1.00 or 0.00 when it is not exactly that (as the server says it). */
function shown(v) {
  if (v > 0.995 && v < 1) return '>0.99';
  if (v > 0 && v < 0.005) return '<0.01';
  return fmt(v);
}

/** The main reason of a score at or above the threshold, from its top transition: "missing approve loan (0.99)". */
function reason(e, threshold) {
  if (!e || e.trace_score < threshold || !e.top || e.top.length === 0) return '';
  const t = e.top[0];
  // The server's word: from the numbers alone, an activation of 0.5 reads the same either way (residual 0.5).
  return t.observed === 1 ? `unexpected ${t.label} (${shown(t.activation)})` : `missing ${t.label} (${shown(t.activation)})`;
}

function describeTop(e) {
  if (!e || !e.top) return '';
  return e.top.map((t) => `${t.label}: residual ${fmt(t.residual, 3)} (activation ${fmt(t.activation, 3)})`).join('\n');
}

function bindHead(el, lane) {
  const key = `h:${lane.name}`;
  const p = el._parts;
  el.className = 'item lane-head';
  el.dataset.lane = lane.name;
  delete el.dataset.case;
  let open = 0;
  let alerting = 0;
  for (const c of lane.cases.values()) {
    if (c.ending) continue;
    open++;
    if (c.last && c.last.alert) alerting++;
  }
  p.cid.textContent = lane.name;
  p.cid.className = 'lane-name';
  p.meta.className = 'lane-meta';
  p.meta.textContent = `${open} open case${open === 1 ? '' : 's'} · alert at ${fmt(thresholdOf(lane.name))}`;
  p.canvas.hidden = true;
  p.why.textContent = '';
  p.state.className = 'lane-alerts';
  p.state.textContent = alerting > 0 ? `${alerting} at or above the threshold now` : '';
  el._key = key;
  // The name in full where the header cuts it (at 40 characters).
  el.title = lane.name.length > 40 ? lane.name : '';
  // A recycled element may have been a fading case row.
  if (el._opacity !== 1) {
    el.style.opacity = '1';
    el._opacity = 1;
  }
}

function bindRow(el, item, now) {
  const p = el._parts;
  const stateless = item.kind === 'stateless';
  const c = item.c;
  const key = stateless ? `s:${item.lane.name}` : `c:${c.id}`;
  const version = stateless ? item.lane.stateless.version : c.version;
  const threshold = thresholdOf(item.lane.name);
  if (el._key !== key || el._version !== version || el._kind !== item.kind) {
    el.className = `item case-row${stateless ? ' stateless' : ''}${!stateless && c.ending ? ' ending' : ''}`;
    el.dataset.lane = item.lane.name;
    p.cid.className = 'cid';
    p.meta.className = 'meta';
    p.state.className = 'state';
    p.canvas.hidden = false;
    const scores = stateless ? item.lane.stateless.scores : c.scores;
    const last = stateless ? item.lane.stateless.last : c.last;
    if (stateless) {
      delete el.dataset.case;
      el.dataset.stateless = 'true';
      p.cid.textContent = '/anomaly calls';
      p.state.textContent = '';
    } else {
      delete el.dataset.stateless;
      el.dataset.case = c.id;
      p.cid.textContent = c.id;
      p.state.textContent = c.ending ? c.how : '';
    }
    el.dataset.cells = String(scores.length);
    const score = last ? last.trace_score : undefined;
    p.meta.replaceChildren();
    if (!stateless) p.meta.append(c.last ? `${c.nEvents} ev · ` : '');
    const s = document.createElement('span');
    s.textContent = score === undefined ? '–' : fmt(score);
    if (score !== undefined && score >= threshold) s.className = 'hot';
    p.meta.append(s);
    drawCells(p.ctx, scores, threshold);
    p.why.textContent = reason(last, threshold);
    el.title = `${stateless ? `stateless calls in ${item.lane.name}` : `case ${c.id}`}${last ? `\nlast: ${last.case_id}, score ${fmt(last.trace_score, 4)}\n${describeTop(last)}` : ''}`;
    el._key = key;
    el._version = version;
    el._kind = item.kind;
  }
  const opacity = !stateless && c.ending ? Math.max(0.15, 1 - (now - c.ending) / FADE_MS) : 1;
  if (el._opacity !== opacity) {
    el.style.opacity = String(opacity);
    el._opacity = opacity;
  }
}

function renderRows(now) {
  const viewport = $('viewport');
  const top = viewport.scrollTop;
  const bottom = top + viewport.clientHeight;
  let i = layout.items.length > 0 ? Math.max(0, firstVisible(top) - OVERSCAN) : 0;
  let used = 0;
  for (; i < layout.items.length && layout.offsets[i] < bottom + OVERSCAN * ROW_H; i++) {
    const item = layout.items[i];
    const el = rowElement(used++);
    el.hidden = false;
    el.style.transform = `translateY(${layout.offsets[i]}px)`;
    if (item.kind === 'head') {
      bindHead(el, item.lane);
      el._kind = 'head';
      el._version = -1;
    } else {
      bindRow(el, item, now);
    }
  }
  for (let k = used; k < pool.length; k++) if (!pool[k].hidden) pool[k].hidden = true;
  pinHead(top);
}

/** Pins the header of the lane at the top of the view when that lane's own header has scrolled out of it. */
let pinned = null;
function pinHead(top) {
  const at = layout.items.length > 0 ? firstVisible(top) : -1;
  const item = at >= 0 ? layout.items[at] : undefined;
  const showPin = item !== undefined && !(item.kind === 'head' && layout.offsets[at] >= top);
  if (!showPin) {
    if (pinned) pinned.hidden = true;
    return;
  }
  pinned ??= newRowElement();
  pinned.hidden = false;
  bindHead(pinned, item.lane);
  pinned.classList.add('pinned');
  pinned.style.transform = `translateY(${top}px)`;
}

function renderStats() {
  const s = model.stats;
  if (!s) return;
  $('stat-open').textContent = String(s.open_cases);
  $('stat-events').textContent = fmt(s.events_per_s, 1);
  $('stat-scores').textContent = fmt(s.scores_per_s, 1);
  $('stat-alerts').textContent = String(s.alerts_last_minute);
  $('stat-p99').textContent = s.latency_p99_ms === undefined ? '–' : `${fmt(s.latency_p99_ms, s.latency_p99_ms < 10 ? 2 : 0)} ms`;
}

function renderLegend() {
  const t = model.threshold;
  const stops = [];
  for (let i = 0; i <= 8; i++) stops.push(`${colour((i / 8) * 2 * t, t)} ${(i / 8) * 100}%`);
  $('legend-ramp').style.background = `linear-gradient(90deg, ${stops.join(', ')})`;
  const lanes = model.laneThresholds.size > 0 ? ` (per-lane: ${[...model.laneThresholds].map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
  $('legend-text').textContent = `0 · alert ${fmt(t)} (middle) · ${fmt(2 * t)}+${lanes}`;
  $('hist-scale').textContent = `(0 – ${fmt(2 * t)}+)`;
}

function strongText(text, label) {
  // The explanation text names the label; show it in bold.
  const frag = document.createDocumentFragment();
  const at = text.indexOf(label);
  if (at < 0) {
    frag.append(text);
    return frag;
  }
  const b = document.createElement('strong');
  b.textContent = label;
  frag.append(text.slice(0, at), b, text.slice(at + label.length));
  return frag;
}

/**
 * Text a client chose (a case id, a lane) in a <bdi>: a right-to-left override in it (U+202E) otherwise reverses the
 * words after it, so that "abc\u202eevil in web scored 2.00" reads as if the score and the id were others.
 */
function isolated(text) {
  const bdi = document.createElement('bdi');
  bdi.textContent = text;
  return bdi;
}

function renderAlert() {
  const box = $('callout');
  const a = model.alerts[model.alerts.length - 1];
  if (!a) {
    box.dataset.state = 'none';
    $('alert-title').textContent = 'No alerts yet.';
    $('alert-time').textContent = '';
    $('alert-explanation').replaceChildren();
    $('alert-history-wrap').hidden = true;
    return;
  }
  box.dataset.state = 'alert';
  box.dataset.caseId = a.case_id;
  const title = $('alert-title');
  const caseName = isolated(a.case_id);
  caseName.className = 'case';
  const where = a.source === 'anomaly' || a.source === 'anomaly_batch' ? 'request ' : 'case ';
  title.replaceChildren(where, caseName, ' in ', isolated(a.lane), ` scored ${fmt(a.trace_score)} (alert at ${fmt(a.threshold)})${a.closed ? ' at close' : ''}`);
  $('alert-time').textContent = new Date(a.ts).toLocaleTimeString();
  const list = $('alert-explanation');
  list.replaceChildren();
  if (a.explanation.length === 0) {
    const li = document.createElement('li');
    li.textContent = 'no single transition stands out: the score is many small deviations';
    list.append(li);
  }
  for (const item of a.explanation) {
    const li = document.createElement('li');
    li.className = item.kind;
    li.append(strongText(item.text, item.label));
    const num = document.createElement('span');
    num.className = 'num';
    num.textContent = ` · residual ${fmt(item.residual)}`;
    li.append(num);
    list.append(li);
  }
  if (a.explanation_omitted > 0) {
    // The explanation is cut at its largest residuals: say so, or the list reads as complete.
    const li = document.createElement('li');
    li.className = 'omitted';
    li.textContent = `…and ${a.explanation_omitted} more transition${a.explanation_omitted === 1 ? '' : 's'} above the explanation floor`;
    list.append(li);
  }
  const history = $('alert-history');
  history.replaceChildren();
  const earlier = model.alerts.slice(0, -1).reverse();
  $('alert-history-wrap').hidden = earlier.length === 0;
  for (const e of earlier) {
    const li = document.createElement('li');
    // The summary begins with the case id, which the client chose: isolated, as in the title.
    const own = e.summary.startsWith(e.case_id) ? e.case_id.length : 0;
    li.replaceChildren(`${new Date(e.ts).toLocaleTimeString()} · `, isolated(e.summary.slice(0, own)), e.summary.slice(own));
    history.append(li);
  }
  if (dirty.alertFresh) {
    box.classList.remove('fresh');
    void box.offsetWidth; // restart the flash animation
    box.classList.add('fresh');
  }
}

function renderHistogram() {
  const canvas = $('histogram');
  const dpr = window.devicePixelRatio || 1;
  const w = 260;
  const h = 56;
  if (canvas.width !== w * dpr) {
    canvas.width = w * dpr;
    canvas.height = h * dpr;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const t = model.threshold;
  const max = 2 * t;
  const bins = new Array(HIST_BINS).fill(0);
  const n = Math.min(model.histCount, HIST_SCORES);
  for (let i = 0; i < n; i++) {
    const v = model.hist[i];
    const b = max > 0 ? Math.min(HIST_BINS - 1, Math.floor((v / max) * (HIST_BINS - 1))) : 0;
    bins[Math.max(0, b)]++;
  }
  const peak = Math.max(1, ...bins);
  const bw = w / HIST_BINS;
  for (let b = 0; b < HIST_BINS; b++) {
    if (bins[b] === 0) continue;
    const bh = Math.max(1, Math.sqrt(bins[b] / peak) * (h - 4));
    ctx.fillStyle = colour(((b + 0.5) / (HIST_BINS - 1)) * max, t);
    ctx.fillRect(b * bw + 1, h - bh, bw - 2, bh);
  }
  const tx = (t / max) * (HIST_BINS - 1) * bw;
  ctx.strokeStyle = 'rgba(255,255,255,0.7)';
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(tx, 0);
  ctx.lineTo(tx, h);
  ctx.stroke();
  ctx.setLineDash([]);
}

let lastHist = 0;

function frame(now) {
  frameRequested = false;
  // Ended cases that have faded out leave the picture.
  let fading = false;
  for (const c of model.cases.values()) {
    if (!c.ending) continue;
    if (now - c.ending >= FADE_MS) removeCase(c);
    else fading = true;
  }
  if (dirty.legend) {
    renderLegend();
    dirty.legend = false;
  }
  // Rows that changed since the last sort are sorted again once RESORT_MS has passed, even if nothing else comes.
  if (orderBy !== 'opened' && dirty.rows) dirty.order = true;
  if (dirty.layout || (dirty.order && now - lastSort > RESORT_MS)) {
    buildLayout();
    dirty.layout = false;
    dirty.order = false;
    dirty.rows = true;
  }
  if (dirty.rows || fading) {
    renderRows(now);
    dirty.rows = false;
  }
  if (dirty.stats) {
    renderStats();
    dirty.stats = false;
  }
  if (dirty.count) {
    renderCount();
    dirty.count = false;
  }
  if (dirty.alert) {
    renderAlert();
    dirty.alert = false;
    dirty.alertFresh = false;
  }
  if (dirty.hist && now - lastHist > 250) {
    renderHistogram();
    dirty.hist = false;
    lastHist = now;
  }
  if (fading || dirty.hist || dirty.order || (orderBy !== 'opened' && dirty.layout)) schedule();
}

$('viewport').addEventListener('scroll', () => {
  dirty.rows = true;
  schedule();
}, { passive: true });
window.addEventListener('resize', () => {
  dirty.rows = true;
  schedule();
});
$('order').addEventListener('change', (e) => {
  orderBy = e.target.value;
  dirty.layout = true;
  schedule();
});

// For tests and the curious: the page's model, read-only by convention.
window.petrascoreDashboard = { model, connection: conn };

dirty.legend = true;
connect();
schedule();
