import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLogTraceError } from '../../src/logs/index.js';
import { plain, readAll } from './helpers.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'petra');
const BUNDLES = ['compliance_audit', 'cost_ranked_refactoring', 'credit_approval_coloured', 'incident_management', 'onnx_deployment'];

interface CliArgs {
  csv_columns: { case_column: string; activity_column: string };
}

interface ExpectedEntry {
  trace_index: number;
  attributes: Record<string, string>;
}

function readJsonFile<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

describe.each(BUNDLES)('PETRA fixture logs of %s', (bundle) => {
  const folder = join(FIXTURES, bundle);
  const args = readJsonFile<CliArgs>(join(folder, 'score_cli_args.json'));

  it.each(['csv', 'xes', 'json'] as const)('reads log.%s with the trace attributes petra-score printed', async (format) => {
    const expected = readJsonFile<ExpectedEntry[]>(join(folder, `score_${format}_expected.json`));
    const items = await readAll(join(folder, `log.${format}`), {
      caseColumn: args.csv_columns.case_column,
      activityColumn: args.csv_columns.activity_column,
    });

    expect(items).toHaveLength(expected.length);
    items.forEach((item, i) => {
      const entry = expected[i] as ExpectedEntry;
      expect(item.index).toBe(entry.trace_index);
      expect(isLogTraceError(item)).toBe(false);
      expect(plain(item.attributes)).toEqual(entry.attributes);
    });
  });

  it('streams the CSV in sorted mode to the same traces (the fixture CSVs are grouped by case)', async () => {
    const path = join(folder, 'log.csv');
    const options = { caseColumn: args.csv_columns.case_column, activityColumn: args.csv_columns.activity_column };
    const unsorted = await readAll(path, options);
    const sorted = await readAll(path, { ...options, sorted: true });
    expect(sorted).toEqual(unsorted);
  });
});
