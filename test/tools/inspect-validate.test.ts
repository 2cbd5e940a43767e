import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, modelPath, readFixture } from '../helpers/fixtures.js';
import { CLI, CliProcess, removeTempDirs, runCli, tempDir } from '../helpers/cli.js';

afterAll(removeTempDirs);

describe('petrascore inspect', () => {
  it('prints inputs per channel with defaults and the attribute each spec reads, and the scored transitions with labels', async () => {
    const result = await runCli(['inspect', modelPath('credit_approval_coloured')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/scenario\s+credit_approval_coloured/);
    expect(result.stdout).toMatch(/opset 17/);
    expect(result.stdout).toMatch(/marking inputs\n\s+p_submitted\s+default 0\s+from constant 1/);
    expect(result.stdout).toMatch(/values inputs\n\s+p_submitted\s+default 1\s+from attribute 'amount'/);
    expect(result.stdout).toMatch(/t_approve\s+"approve loan"/);
  });

  it('--json prints the same document as GET /schema', async () => {
    const result = await runCli(['inspect', modelPath('scale_200'), '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as { scored_transitions: string[] };
    const sidecar = readFixture<{ output_transitions: string[] }>('scale_200', 'model.onnx.meta.json');
    expect(doc.scored_transitions).toEqual(sidecar.output_transitions);
    // Written by its own writer (GET /schema's order); laid out as JSON.stringify(…, null, 2) would lay it out.
    expect(result.stdout).toBe(`${JSON.stringify(doc, null, 2)}\n`);
  });

  it('stops quietly with exit 0 when the reader of its output goes away (| head)', async () => {
    const cli = new CliProcess(['inspect', modelPath('scale_200')]);
    // The reading end closes before anything is written: the write to stdout fails with EPIPE.
    cli.child.stdout?.destroy();
    const status = await cli.exited;
    expect(status.code, cli.describe()).toBe(0);
    expect(cli.stderr).not.toMatch(/EPIPE|Error|^\s+at /m);
  });
});

describe('petrascore validate', () => {
  it('exits 0 for a servable bundle', async () => {
    const result = await runCli(['validate', 'models/loan_approval/model.onnx']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok: .*loan_approval\/model\.onnx .*loads and runs/);
  });

  it('refuses an option it does not take (inspect’s --json) with exit 2 and its usage', async () => {
    const result = await runCli(['validate', 'models/loan_approval/model.onnx', '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown option --json');
  });

  it('exits 1 with the reason for a bundle whose sidecar disagrees with its graph', async () => {
    const dir = tempDir('validate');
    copyFileSync(modelPath('onnx_deployment'), join(dir, 'model.onnx'));
    const sidecar = readFixture<Record<string, unknown>>('onnx_deployment', 'model.onnx.meta.json');
    writeFileSync(join(dir, 'model.onnx.meta.json'), JSON.stringify({ ...sidecar, output_transitions: ['t_approve', 't_decline', 't_extra'], onnx_input_names: undefined }));
    const result = await runCli(['validate', join(dir, 'model.onnx')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/model\.onnx: graph output 'activations' has 2 columns, but the sidecar lists 3 output_transitions/);
  });
});

/** The CLI with stdout or stderr on /dev/full: every write there fails with ENOSPC. */
function runToFullDevice(args: readonly string[], stream: 'stdout' | 'stderr'): { status: number | null; stdout: string; stderr: string } {
  const full = openSync('/dev/full', 'w');
  try {
    const stdio = stream === 'stdout' ? (['ignore', full, 'pipe'] as const) : (['ignore', 'pipe', full] as const);
    const result = spawnSync(process.execPath, [CLI, ...args], { stdio: [...stdio], encoding: 'utf8', timeout: 60_000 });
    return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  } finally {
    closeSync(full);
  }
}

describe.skipIf(!existsSync('/dev/full'))('standard streams that cannot be written (/dev/full)', () => {
  it('--version and --help with stdout full: exit 1 saying so, no stack trace', () => {
    for (const args of [['--version'], ['--help'], ['score', '--help'], ['inspect', modelPath('onnx_deployment')]]) {
      const result = runToFullDevice(args, 'stdout');
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(/^petrascore: cannot write stdout: ENOSPC/);
      expect(result.stderr, args.join(' ')).not.toMatch(/^\s+at |node:events/m);
    }
  });

  it('score with stderr full: the report is written and the exit code is the run\'s (0), not a crash for its summary line', () => {
    const out = join(tempDir('stderr'), 'report.json');
    const result = runToFullDevice(['score', modelPath('onnx_deployment'), '--traces', join(FIXTURES, 'onnx_deployment', 'log.csv'), '-o', out], 'stderr');
    expect(result.status).toBe(0);
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'onnx_deployment', 'score_csv_expected.json'), 'utf8')) as unknown[];
    expect((JSON.parse(readFileSync(out, 'utf8')) as unknown[]).length).toBe(expected.length);
  });
});
