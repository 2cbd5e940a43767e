import { describeOption, SERVE_OPTIONS } from './config/options.js';
import { ServiceMetrics } from './metrics/service-metrics.js';

/** Markdown tables for the README, generated from the one place each fact lives; a test keeps the README in step. */
export function configurationTable(): string {
  const rows = SERVE_OPTIONS.map((o) => {
    const flag = o.kind === 'boolean' ? `--[no-]${o.flag}` : `--${o.flag}`;
    const value = Array.isArray(o.default) ? (o.default.length === 0 ? '—' : o.default.join(' ')) : o.default === '' ? '""' : String(o.default);
    return `| \`${flag}\` | \`${o.env}\` | ${value} | ${describeOption(o).replaceAll('|', '\\|')} |`;
  });
  return ['| flag | environment variable | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export async function metricsTable(): Promise<string> {
  const metrics = new ServiceMetrics();
  const own = (await metrics.registry.getMetricsAsJSON()).filter((m) => !/^petrascore_(process|nodejs)_/.test(m.name));
  const rows = own.map((m) => `| \`${m.name}\` | ${m.type} | ${m.help.replaceAll('|', '\\|')} |`);
  return ['| metric | type | meaning |', '|---|---|---|', ...rows, '| `petrascore_process_*`, `petrascore_nodejs_*` | various | prom-client\'s default process metrics: CPU, resident memory, heap, event-loop lag, GC |'].join('\n');
}
