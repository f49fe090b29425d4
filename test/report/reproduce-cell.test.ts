import { expect } from 'chai';
import { execa } from 'execa';
import type { CellResult, RunResult } from '../../src/model/index.js';
import { cellReproduceCommand, renderConsoleReport, shellQuote } from '../../src/report/index.js';
import { sampleRun } from './sample-run.js';

type Flags = NonNullable<RunResult['options']['flags']>;

const failing = (run: RunResult): CellResult => run.scenarios[0]!.cells.find((c) => c.verdict === 'fail')!;
const withFlags = (run: RunResult, flags: Flags): RunResult => ({ ...run, options: { ...run.options, flags } });

/** The argv bash hands to `npx` when it runs the command: the quoting round trip, through a real shell. */
async function argvOf(command: string): Promise<string[]> {
  const r = await execa('bash', ['-c', `npx() { printf '%s\\0' "$@"; }\n${command}`]);
  return r.stdout.split('\0').slice(0, -1);
}

describe('report: the command that reruns one cell', () => {
  const defaults: Flags = {
    backend: 'local',
    'data-plane': 'reference',
    claim: 'spec',
    retries: 1,
    timeout: 3000,
    'ready-timeout': 15000,
    'workloads-per-process': 1,
    concurrency: 32,
    parallel: 4,
    reporter: 'console,json,junit,html',
    out: 'reports',
    'local-subnet': '127.77',
  };

  it('names the scenario file and the cell, and only the flags that change the cell: no defaults noise', () => {
    const run = withFlags(sampleRun(), defaults);
    const c = failing(run);
    expect(cellReproduceCommand(run, c)).to.equal(
      "npx meshconform run scenarios/core/strict-basic.yaml --only-cell 'strict-basic|sidecar|foo/finance|8080|plaintext-tcp' --backend local --data-plane reference --claim spec",
    );
  });

  it('spells out defects, the seed and every flag that differs from its default, in a fixed order', () => {
    const run = withFlags(sampleRun(), {
      ...defaults,
      'data-plane': 'exec:./my proxy --mode strict',
      claim: 'istio',
      defect: ['accept-plaintext', 'skip-san-check'],
      seed: 7,
      retries: 0,
      timeout: 5000,
      'allow-files-outside': true,
      grep: 'strict',
    });
    expect(cellReproduceCommand(run, failing(run))).to.equal(
      "npx meshconform run scenarios/core/strict-basic.yaml --only-cell 'strict-basic|sidecar|foo/finance|8080|plaintext-tcp' --backend local " +
        "--data-plane 'exec:./my proxy --mode strict' --claim istio --defect accept-plaintext --defect skip-san-check --seed 7 --retries 0 --timeout 5000 --allow-files-outside",
    );
  });

  it('on kind and cluster: no --data-plane (the mesh is the system under test), the kube flags that matter', () => {
    const run = withFlags(sampleRun(), {
      backend: 'kind',
      'data-plane': 'reference',
      claim: 'istio',
      'istio-profile': 'ambient',
      'istio-version': '1.24.2',
      'converge-successes': 3,
      'root-namespace': 'istio-system',
      'kind-cluster': 'mine',
      keep: true,
    });
    expect(cellReproduceCommand(run, failing(run))).to.equal(
      "npx meshconform run scenarios/core/strict-basic.yaml --only-cell 'strict-basic|sidecar|foo/finance|8080|plaintext-tcp' --backend kind --claim istio " +
        '--istio-profile ambient --istio-version 1.24.2 --converge-successes 3',
    );
  });

  it('a report written before options.flags existed: backend, data plane, claim and non-default retries from the result', () => {
    const run = sampleRun(); // retries 2, no flags
    expect(run.options.flags).to.equal(undefined);
    expect(cellReproduceCommand(run, failing(run))).to.equal(
      "npx meshconform run scenarios/core/strict-basic.yaml --only-cell 'strict-basic|sidecar|foo/finance|8080|plaintext-tcp' --backend local --data-plane reference --claim spec --retries 2",
    );
  });

  it("a chaos cell replays its schedule's seed, even when the run picked it at random", () => {
    const base = withFlags(sampleRun(), defaults);
    const s0 = base.scenarios[0]!;
    const run = { ...base, scenarios: [{ ...s0, timeline: { startedAt: 0, durationMs: 1, faults: [], events: [], probes: [], seed: 424242 } }, ...base.scenarios.slice(1)] };
    expect(cellReproduceCommand(run, failing(run))).to.match(/ --claim spec --seed 424242$/);
  });

  it('quotes hostile keys, files and flags so a shell gets them back byte for byte, on one line', async () => {
    const base = sampleRun();
    const hostile = base.scenarios[1]!; // a name with markup, a file with `<img …>`
    const c = hostile.cells[0]!;
    const key = `${c.key}'; touch /tmp/pwned; echo '\n\u001b[31m$(id)\``;
    const cell = { ...c, key };
    const run = withFlags({ ...base, scenarios: [base.scenarios[0]!, { ...hostile, cells: [cell] }] }, { ...defaults, 'data-plane': `exec:./p "$HOME" ';' \\`, defect: ["it's"] });
    const command = cellReproduceCommand(run, cell);
    expect(command).to.not.match(/[\u0000-\u001f]/);
    expect(await argvOf(command)).to.deep.equal([
      'meshconform',
      'run',
      hostile.file,
      '--only-cell',
      key,
      '--backend',
      'local',
      '--data-plane',
      `exec:./p "$HOME" ';' \\`,
      '--claim',
      'spec',
      '--defect',
      "it's",
    ]);
  });

  it('shellQuote leaves plain words alone and escapes control characters as $-quoted text', async () => {
    expect(shellQuote('scenarios/core/multi-namespace-mix.yaml')).to.equal('scenarios/core/multi-namespace-mix.yaml');
    expect(shellQuote('a b')).to.equal("'a b'");
    expect(shellQuote("it's")).to.equal(`'it'\\''s'`);
    expect(shellQuote('a\nb\u001b\u009b')).to.equal(`$'a\\nb\\x1b\\u009b'`.replace('\\n', '\\x0a'));
    expect(await argvOf(`npx ${shellQuote("x\n'\\y\u0007")}`)).to.deep.equal(["x\n'\\y\u0007"]);
  });

  it('the console report prints the command under each failing and flaky cell, one line each', () => {
    const run = withFlags(sampleRun(), defaults);
    const out = renderConsoleReport(run, 'reports/run-1', { fancy: false, tables: 'none' });
    const lines = out.split('\n');
    const at = lines.findIndex((l) => l.includes('X strict-basic [sidecar] foo/finance:8080 plaintext-tcp:'));
    expect(lines[at + 1]).to.equal(`    rerun: ${cellReproduceCommand(run, failing(run))}`);
    const reruns = lines.filter((l) => l.startsWith('    rerun: npx meshconform run '));
    expect(reruns).to.have.length(run.summary.failed + run.summary.flaky);
    expect(out).to.contain('Failures (3)');
  });
});
