import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { seededRandom } from './seeded-random.js';

/** What a synthetic log needs to know of a bundle: activity labels and the attributes its specs read. */
export interface LogShape {
  labels: readonly string[];
  attributes: readonly string[];
}

interface Trace {
  id: string;
  attributes: Record<string, string>;
  events: string[];
}

function* traces(shape: LogShape, count: number): Generator<Trace> {
  const random = seededRandom(42);
  for (let i = 0; i < count; i++) {
    const attributes: Record<string, string> = {};
    for (const name of shape.attributes) attributes[name] = (random() * 1.2).toFixed(3);
    const n = 1 + Math.floor(random() * 4);
    const events = Array.from({ length: n }, () => shape.labels[Math.floor(random() * shape.labels.length)]!);
    yield { id: `C${i}`, attributes, events };
  }
}

async function writeAll(out: Writable, chunks: Iterable<string>): Promise<void> {
  let buffer = '';
  for (const chunk of chunks) {
    buffer += chunk;
    if (buffer.length > 1 << 16) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
}

const xmlEscape = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('"', '&quot;');

export async function writeCsv(path: string, shape: LogShape, count: number): Promise<void> {
  function* rows(): Generator<string> {
    yield `case_id,activity,timestamp,${shape.attributes.join(',')}\n`;
    for (const t of traces(shape, count)) {
      const values = shape.attributes.map((a) => t.attributes[a]).join(',');
      for (const e of t.events) yield `${t.id},${e},2024-01-01T08:00:00Z,${values}\n`;
    }
  }
  await writeAll(createWriteStream(path), rows());
}

export async function writeXes(path: string, shape: LogShape, count: number): Promise<void> {
  function* parts(): Generator<string> {
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n';
    for (const t of traces(shape, count)) {
      yield `  <trace>\n    <string key="concept:name" value="${t.id}"/>\n`;
      for (const [k, v] of Object.entries(t.attributes)) yield `    <float key="${xmlEscape(k)}" value="${v}"/>\n`;
      for (const e of t.events) yield `    <event>\n      <string key="concept:name" value="${xmlEscape(e)}"/>\n      <date key="time:timestamp" value="2024-01-01T08:00:00.000+00:00"/>\n    </event>\n`;
      yield '  </trace>\n';
    }
    yield '</log>\n';
  }
  await writeAll(createWriteStream(path), parts());
}

export async function writeJson(path: string, shape: LogShape, count: number): Promise<void> {
  function* parts(): Generator<string> {
    yield '[\n';
    let first = true;
    for (const t of traces(shape, count)) {
      yield `${first ? '' : ',\n'}${JSON.stringify({ attributes: { case: t.id, ...t.attributes }, events: t.events })}`;
      first = false;
    }
    yield '\n]\n';
  }
  await writeAll(createWriteStream(path), parts());
}
