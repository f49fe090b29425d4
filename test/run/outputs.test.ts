import { expect } from 'chai';
import { execa } from 'execa';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { prepareOutRoot, openReporters, writeOutputs } from '../../src/run/outputs.js';
import { markInterrupted, scenarioKey } from '../../src/run/interrupt.js';
import { validateRunResult } from '../../src/report/run-result-schema.js';
import { renderJunit } from '../../src/report/junit-reporter.js';
import { UsageError } from '../../src/util/errors.js';
import type { RunResult } from '../../src/model/index.js';
import { sampleRun } from '../report/sample-run.js';
import { requireCapability } from '../support/require.js';

const made: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};
const runWithId = (runId: string): RunResult => ({ ...sampleRun(), runId });
const sink = () => new PassThrough();
/** Hidden leftovers of a write: staging folders, temp links, temp files. */
const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.'));

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('--out: checked before the run, latest replaced only when meshconform made it', () => {
  after(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('creates a missing --out and leaves no probe file in it', async () => {
    const out = join(temp('mc-out-'), 'a', 'b');
    await prepareOutRoot(out);
    expect(readdirSync(out)).to.deep.equal([]);
  });

  it('a file as --out is refused up front, naming it', async () => {
    const file = join(temp('mc-out-'), 'not-a-folder');
    writeFileSync(file, 'x');
    const err = await usageError(prepareOutRoot(file));
    expect(err.message).to.include(file).and.include('is a file');
    const under = await usageError(prepareOutRoot(join(file, 'reports')));
    expect(under.message).to.include('is a file');
  });

  it('a read-only --out is refused up front as read-only (not ENOENT)', async function () {
    const dir = temp('mc-out-ro-');
    let expected: string;
    if (process.getuid?.() === 0) {
      // Root writes through permission bits: only a read-only mount proves the check.
      const m = await execa('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir], { reject: false });
      requireCapability(this, m.exitCode === 0, 'mounting a read-only tmpfs (root with CAP_SYS_ADMIN)');
      expected = 'read-only file system';
    } else {
      chmodSync(dir, 0o555);
      expected = 'not writable';
    }
    try {
      expect((await usageError(prepareOutRoot(dir))).message)
        .to.include(dir)
        .and.include(expected);
      expect((await usageError(prepareOutRoot(join(dir, 'reports')))).message).to.include(expected);
    } finally {
      if (process.getuid?.() === 0) await execa('umount', [dir], { reject: false });
      else chmodSync(dir, 0o755);
    }
  });

  it("the user's own folder named latest is refused up front and left untouched", async () => {
    const out = temp('mc-out-');
    mkdirSync(join(out, 'latest'));
    writeFileSync(join(out, 'latest', 'thesis.tex'), 'my work');
    const err = await usageError(prepareOutRoot(out));
    expect(err.message).to.include(join(out, 'latest')).and.include('did not make');
    expect(readFileSync(join(out, 'latest', 'thesis.tex'), 'utf8')).to.equal('my work');
    // A link elsewhere is not ours either.
    const other = temp('mc-out-');
    symlinkSync(other, join(other, 'latest'));
    expect((await usageError(prepareOutRoot(other))).message).to.include('not to a run folder');
  });

  it('a folder of the user named latest that appears during the run is left alone, not deleted', async () => {
    const out = temp('mc-out-');
    await prepareOutRoot(out);
    mkdirSync(join(out, 'latest'));
    writeFileSync(join(out, 'latest', 'notes.txt'), 'mine');
    await writeOutputs(runWithId('20260101T000000Z-aaaaaa'), openReporters(['json'], sink()), out);
    expect(readFileSync(join(out, 'latest', 'notes.txt'), 'utf8')).to.equal('mine');
    expect(existsSync(join(out, '20260101T000000Z-aaaaaa', 'report.json'))).to.equal(true);
    expect(leftovers(out)).to.deep.equal([]);
  });

  it("an older meshconform's latest copy is replaced by a link to the run folder", async () => {
    const out = temp('mc-out-');
    mkdirSync(join(out, 'latest'));
    writeFileSync(join(out, 'latest', 'report.json'), '{}');
    writeFileSync(join(out, 'latest', 'junit.xml'), '<testsuites/>');
    await prepareOutRoot(out);
    await writeOutputs(runWithId('20260101T000000Z-bbbbbb'), openReporters(['json', 'junit'], sink()), out);
    expect(lstatSync(join(out, 'latest')).isSymbolicLink()).to.equal(true);
    expect(readlinkSync(join(out, 'latest'))).to.equal('20260101T000000Z-bbbbbb');
    expect(JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')).runId).to.equal('20260101T000000Z-bbbbbb');
  });

  it('concurrent writers into one --out: every run folder complete, latest names one of them, nothing hidden left', async () => {
    const out = temp('mc-out-');
    // Two runs that already wrote, so the concurrent renames replace an existing latest.
    for (const id of ['20260101T000000Z-000001', '20260101T000000Z-000002']) await writeOutputs(runWithId(id), openReporters(['json'], sink()), out);
    const ids = Array.from({ length: 12 }, (_, i) => `20260102T000000Z-${String(i).padStart(6, '0')}`);
    await Promise.all(ids.map((id) => writeOutputs(runWithId(id), openReporters(['json', 'junit', 'html'], sink()), out)));
    for (const id of ids) expect(readdirSync(join(out, id)).sort()).to.deep.equal(['index.html', 'junit.xml', 'report.json']);
    expect(ids).to.include(readlinkSync(join(out, 'latest')));
    expect(leftovers(out)).to.deep.equal([]);
  });

  it('"report in …" is printed only once the run folder holds every file', async () => {
    const out = temp('mc-out-');
    const stream = new PassThrough();
    let seen: string[] | undefined;
    stream.on('data', (b: Buffer) => {
      if (String(b).includes('report in') && !seen) seen = readdirSync(join(out, '20260103T000000Z-cccccc')).sort();
    });
    await writeOutputs(runWithId('20260103T000000Z-cccccc'), openReporters(['console', 'json', 'junit', 'html'], stream), out);
    expect(seen).to.deep.equal(['index.html', 'junit.xml', 'report.json']);
  });

  it('an interrupted run writes its report but does not replace latest; neither does one interrupted while writing', async () => {
    const out = temp('mc-out-');
    await writeOutputs(runWithId('20260104T000000Z-000001'), openReporters(['json'], sink()), out);
    const base = runWithId('20260104T000000Z-000002');
    const interrupted = markInterrupted(base, 'SIGINT', new Date(), new Set());
    await writeOutputs(interrupted, openReporters(['json', 'conformance'], sink()), out);
    expect(readlinkSync(join(out, 'latest'))).to.equal('20260104T000000Z-000001');
    // No conformance claim from an interrupted run.
    expect(readdirSync(join(out, '20260104T000000Z-000002'))).to.deep.equal(['report.json']);
    const stop = new AbortController();
    stop.abort('SIGTERM');
    await writeOutputs(runWithId('20260104T000000Z-000003'), openReporters(['json'], sink()), out, { interrupt: stop.signal });
    expect(readlinkSync(join(out, 'latest'))).to.equal('20260104T000000Z-000001');
    expect(existsSync(join(out, '20260104T000000Z-000003', 'report.json'))).to.equal(true);
  });
});

describe('an interrupted RunResult', () => {
  it('turns every cell of an unfinished scenario into an error, keeps finished ones, and is valid against the schema', () => {
    const run = sampleRun();
    const [done, ...unfinished] = run.scenarios;
    const r = markInterrupted(run, 'SIGTERM', new Date('2026-01-01T00:00:00Z'), new Set([scenarioKey(done!)]));
    expect(r.interrupted).to.deep.equal({ signal: 'SIGTERM', at: '2026-01-01T00:00:00.000Z' });
    expect(r.scenarios[0]).to.deep.equal(done);
    const before = run.scenarios.slice(1).flatMap((s) => s.cells);
    const after = r.scenarios.slice(1).flatMap((s) => s.cells);
    const judged = (v: string) => v === 'pass' || v === 'fail' || v === 'flaky';
    expect(before.filter((c) => judged(c.verdict)).length, 'the sample has judged cells to turn').to.be.greaterThan(0);
    expect(after.filter((c) => judged(c.verdict))).to.deep.equal([]);
    after.forEach((c, i) => {
      if (judged(before[i]!.verdict)) expect(c.reason).to.match(/interrupted \(SIGTERM\)/);
      else expect(c).to.deep.equal(before[i]);
    });
    expect(r.summary.passed).to.equal(done!.summary.passed);
    expect(unfinished.length).to.equal(r.scenarios.length - 1);
    const v = validateRunResult(JSON.parse(JSON.stringify(r)));
    expect(v.valid, JSON.stringify(v)).to.equal(true);
    // JUnit: an <error> CI cannot miss.
    expect(renderJunit(r)).to.match(/<error[^>]*type="interrupted"/);
  });
});
