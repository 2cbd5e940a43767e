/**
 * XES reader following PETRA's xes.py `parse_xes`, as used by petra-score:
 * - the root must be <log> (any namespace); only direct <trace> children of the
 *   log and direct <event> children of a trace count;
 * - attributes are the direct typed children (string, int, float, boolean,
 *   date, id) with a `key`: value verbatim, a missing `value` gives "", a
 *   repeated key keeps the last value. Nested attributes, lists, log-level
 *   attributes, <extension>, <global> and <classifier> are ignored;
 * - an event's name is its own `concept:name` attribute, "" when it has none
 *   (such an event is kept; "" matches no transition label);
 * - trace attributes are the trace's own typed children only; event
 *   attributes are not promoted and events are not renamed.
 *
 * Differences from PETRA: a trace is emitted as soon as its </trace> is read
 * (PETRA builds the whole tree first), so a syntax error late in the file
 * surfaces after the earlier traces were yielded; only UTF-8 (or ASCII) input
 * is accepted, where PETRA's ElementTree also honours other declared
 * encodings for uncompressed files; a byte-order mark is accepted also in
 * .xes.gz files; entities declared in a DOCTYPE are not expanded (saxes
 * reports them as undefined), where ElementTree expands internal ones.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { emptyAttributes } from './attributes.js';
import { LogInputError } from './errors.js';
import type { UnindexedItem } from './types.js';
import { decodeUtf8 } from './utf8.js';

const TYPED_ATTRIBUTE_TAGS = new Set(['string', 'int', 'float', 'boolean', 'date', 'id']);
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

// Element depths: the log is 0, its traces 1, a trace's attributes and events 2, an event's attributes 3.
const TRACE_DEPTH = 1;
const EVENT_DEPTH = 2;
/**
 * Deeper is no XES log (nested attributes go a few levels down), and costs: saxes resolves each element's namespace
 * through every element still open, so a file of nested elements alone took time in the square of its size (280 KB,
 * 12 s). As the JSON reader's cap on nesting.
 */
const MAX_DEPTH = 1000;

export async function* readXes(bytes: AsyncIterable<Buffer>, file: string): AsyncGenerator<UnindexedItem> {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const openNames: string[] = [];
  const ready: UnindexedItem[] = [];
  let trace: { attributes: Record<string, string>; events: string[] } | undefined;
  let eventName: string | undefined;
  let sawContent = false;
  let lastClosed: string | undefined;

  const fail = (problem: string): never => {
    throw new LogInputError(file, problem, { line: parser.line, column: parser.column });
  };

  parser.on('error', (error) => {
    // saxes prefixes "line:column: "; the position goes into LogInputError's own fields instead.
    let problem = error.message.replace(/^\d+:\d+: /, '').replace(/\.$/, '');
    // saxes reports a mismatched close tag after emitting closetag for the element that was still open.
    if (problem.startsWith('unexpected close tag') && lastClosed !== undefined) problem += `; expected </${lastClosed}>`;
    fail(`malformed XML: ${problem}`);
  });
  parser.on('xmldecl', (decl) => {
    if (decl.encoding !== undefined && !UTF8_NAMES.has(decl.encoding.toLowerCase())) {
      fail(`the XML declaration says encoding="${decl.encoding}"; only UTF-8 XES is supported, convert the file to UTF-8`);
    }
  });
  parser.on('opentag', (tag) => {
    const depth = openNames.length;
    if (depth >= MAX_DEPTH) fail(`elements nested more than ${MAX_DEPTH} deep, where an XES log's attributes nest a few levels`);
    openNames.push(tag.name);
    if (depth === 0) {
      if (tag.local !== 'log') fail(`the root element is <${tag.name}>, expected <log> (an XES log)`);
    } else if (depth === TRACE_DEPTH) {
      if (tag.local === 'trace') trace = { attributes: emptyAttributes(), events: [] };
    } else if (depth === EVENT_DEPTH && trace) {
      if (tag.local === 'event') {
        eventName = '';
      } else {
        collectAttribute(tag, trace.attributes);
      }
    } else if (depth === EVENT_DEPTH + 1 && eventName !== undefined) {
      const name = typedAttribute(tag);
      if (name?.key === 'concept:name') eventName = name.value;
    }
  });
  parser.on('closetag', (tag) => {
    lastClosed = tag.name;
    openNames.pop();
    const depth = openNames.length;
    if (depth === EVENT_DEPTH && trace && eventName !== undefined) {
      trace.events.push(eventName);
      eventName = undefined;
    } else if (depth === TRACE_DEPTH && trace) {
      ready.push(trace);
      trace = undefined;
    }
  });

  let leadingNewlines = 0;
  for await (const text of decodeUtf8(bytes)) {
    if (!sawContent) {
      const first = text.search(/\S/);
      if (first === -1) {
        leadingNewlines += countNewlines(text, text.length);
      } else {
        sawContent = true;
        // saxes would only complain once the stray text ends, possibly many lines later.
        if (text[first] !== '<') {
          const line = leadingNewlines + countNewlines(text, first) + 1;
          const column = first - text.lastIndexOf('\n', first - 1);
          throw new LogInputError(file, `${JSON.stringify(text[first])} where an XML document must begin with '<'; is this an XES file?`, { line, column });
        }
      }
    }
    try {
      parser.write(text);
    } finally {
      // Traces completed before an error in this chunk still reach the caller, as with any earlier chunk.
      yield* ready.splice(0);
    }
  }
  // An empty file is "no traces", reported by readLog, rather than an XML error.
  if (!sawContent) return;
  parser.close();
  yield* ready.splice(0);
}

function typedAttribute(tag: SaxesTagNS): { key: string; value: string } | undefined {
  if (!TYPED_ATTRIBUTE_TAGS.has(tag.local)) return undefined;
  // Unprefixed XML attributes only, as ElementTree's attrib.get("key") does.
  const key = tag.attributes['key'];
  if (key === undefined || key.prefix !== '') return undefined;
  const value = tag.attributes['value'];
  return { key: key.value, value: value !== undefined && value.prefix === '' ? value.value : '' };
}

function collectAttribute(tag: SaxesTagNS, into: Record<string, string>): void {
  const attribute = typedAttribute(tag);
  if (attribute) into[attribute.key] = attribute.value;
}

function countNewlines(text: string, end: number): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}
