import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { consoleReporter, consoleStyleFor, renderConsoleReport } from '../../src/report/index.js';
import { sampleRun } from './sample-run.js';

const ANSI_RE = /\x1b\[[0-9;]*m/g;
const plain = { fancy: false, tables: 'all' } as const;

function collect(): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('report: console', () => {
  it('prints a truth table per scenario with short client labels, mode and ASCII cells', () => {
    const out = renderConsoleReport(sampleRun(), 'reports/run-1', plain);
    expect(out).to.match(/workload:port\s+proto\s+mode\s+pt-tcp\s+pt-http\s+mtls-tcp\s+mtls-http\s+no-cert\s+foreign\s+expired\s+other-td\s+no-alpn/);
    const lines = out.split('\n');
    const r8080 = lines.find((l) => l.trim().startsWith('foo/finance:8080'))!;
    const r9090 = lines.find((l) => l.trim().startsWith('foo/finance:9090'))!;
    expect(r8080.trim().split(/\s+/)).to.deep.equal([
      'foo/finance:8080',
      'tcp',
      'STRICT',
      'X',
      'allow!=deny',
      '+',
      'deny',
      'X',
      'allow*',
      '~',
      'allow',
      '+',
      'deny',
      '+',
      'deny',
      'E',
      '+',
      'deny',
      '-',
    ]);
    expect(r9090).to.contain('+ allow').and.contain('+ deny');
    // Rows sorted by port, tables in scenario order.
    expect(lines.indexOf(r8080)).to.be.lessThan(lines.indexOf(r9090));
    expect(out.indexOf('strict-basic [sidecar]')).to.be.lessThan(out.indexOf('ambient-basic [ambient]'));
    expect(out).to.not.match(ANSI_RE);
    expect(out).to.not.contain('✓');
  });

  it('has a legend explaining symbols and short names', () => {
    const out = renderConsoleReport(sampleRun(), 'reports/run-1', plain);
    expect(out).to.contain('Legend: + deny  passed').and.contain('X allow!=deny  failed: observed allow, expected deny');
    expect(out).to.contain('~ allow  flaky').and.contain('E  error').and.contain('-  skipped');
    expect(out).to.contain('no-cert = TLS without client cert').and.contain('pthru = the TLS passed through');
    const legend = out.split('\n').slice(0, 6);
    for (const l of legend) expect([...l].length, l).to.be.at.most(120);
  });

  it('lists failures with their reason, lint errors separately, harness errors and skipped scenarios', () => {
    const out = renderConsoleReport(sampleRun(), 'reports/run-1', plain);
    expect(out).to.contain('Failures (3)');
    expect(out).to.contain('X strict-basic [sidecar] foo/finance:8080 plaintext-tcp: expected deny (STRICT');
    expect(out).to.contain('Flaky (1)');
    const lintAt = out.indexOf('Scenario lint errors');
    expect(lintAt).to.be.greaterThan(out.indexOf('Failures'));
    expect(out.slice(lintAt)).to.contain('scenarios/core/strict-basic.yaml:12:7 strict-basic: expect says plaintext: allow');
    expect(out).to.contain('Harness errors');
    expect(out).to.contain('data plane exited with code 1');
    expect(out).to.contain('ECONNREFUSED');
    expect(out).to.contain('skipped: ambient mode is not supported');
  });

  it('ends with the summary line, the lint count and the report directory', () => {
    const out = renderConsoleReport(sampleRun(), 'reports/run-1', plain);
    const lines = out.trimEnd().split('\n');
    expect(lines.at(-2)).to.equal('20 cells: 13 passed, 3 failed, 1 flaky, 2 errors, 1 skipped; judged under --claim spec');
    expect(lines.at(-1)).to.equal('1 scenario lint errors; report in reports/run-1');
  });

  it('stays within 120 columns for a nine-client table', () => {
    const out = renderConsoleReport(sampleRun(), 'reports/run-1', plain);
    const tableLines = out.split('\n').filter((l) => l.startsWith('  workload:port') || /^\s+foo\//.test(l));
    expect(tableLines.length).to.be.greaterThan(2);
    for (const l of tableLines) expect([...l].length, l).to.be.at.most(120);
  });

  it('shortens a very long workload:port label from the left, keeping the port', () => {
    const run = sampleRun();
    const long = 'a-very-long-namespace-name/an-even-longer-workload-name';
    const s0 = run.scenarios[0]!;
    const renamed = { ...run, scenarios: [{ ...s0, cells: s0.cells.map((c) => ({ ...c, workload: long })) }] };
    const out = renderConsoleReport(renamed, 'd', plain);
    const row = out.split('\n').find((l) => l.includes('-workload-name:8080'))!;
    expect(row.trim().startsWith('..')).to.equal(true);
    expect([...row].length).to.be.at.most(120);
  });

  it('uses Unicode symbols and colour when fancy', () => {
    const out = renderConsoleReport(sampleRun(), 'reports/run-1', { fancy: true, tables: 'all' });
    expect(out).to.match(ANSI_RE);
    const noAnsi = out.replace(ANSI_RE, '');
    expect(noAnsi).to.contain('✓ deny').and.contain('✗ allow≠deny').and.contain('~ allow');
    for (const l of noAnsi.split('\n').filter((x) => /^\s+foo\//.test(x))) expect([...l].length).to.be.at.most(120);
  });

  it('can print only the tables of troubled scenarios, or none', () => {
    const failing = renderConsoleReport(sampleRun(), 'd', { fancy: false, tables: 'failing' });
    expect(failing).to.contain('strict-basic [sidecar]  feature core');
    expect(failing).to.not.contain('ambient-basic [ambient]  feature');
    const none = renderConsoleReport(sampleRun(), 'd', { fancy: false, tables: 'none' });
    expect(none).to.not.contain('workload:port');
    expect(none).to.contain('Failures (3)');
  });

  it('prints no progress lines unless asked (the CLI has its own progress)', () => {
    expect(consoleReporter({ stream: new PassThrough() }).onScenarioEnd).to.equal(undefined);
  });

  it('is fancy only on a TTY without NO_COLOR, unless forced', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    expect(consoleStyleFor({ stream: tty, env: {} }).fancy).to.equal(true);
    expect(consoleStyleFor({ stream: tty, env: { NO_COLOR: '1' } }).fancy).to.equal(false);
    expect(consoleStyleFor({ stream: tty, env: { NO_COLOR: '' } }).fancy).to.equal(true);
    expect(consoleStyleFor({ stream: new PassThrough(), env: {} }).fancy).to.equal(false);
    expect(consoleStyleFor({ stream: new PassThrough(), env: {}, color: true }).fancy).to.equal(true);
  });

  it('writes progress and the final report to the stream it was given', async () => {
    const { stream, text } = collect();
    const r = consoleReporter({ stream, env: {}, progress: true });
    const run = sampleRun();
    await r.onScenarioEnd?.(run.scenarios[0]!);
    await r.onRunEnd(run, 'reports/run-1');
    const out = text();
    expect(out.split('\n')[0]).to.equal('E strict-basic [sidecar] 18 cells: 13 passed, 2 failed, 1 flaky, 1 errors, 1 skipped (1.2 s)');
    expect(out).to.contain('report in reports/run-1');
    expect(out).to.not.match(ANSI_RE);
  });
});
