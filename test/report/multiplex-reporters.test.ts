import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import type { Reporter, ReporterName } from '../../src/report/index.js';
import { REPORTER_NAMES, createReporters, isReporterName, multiplexReporters, reporters } from '../../src/report/index.js';
import { sampleRun } from './sample-run.js';

function recorder(name: string, log: string[]): Reporter {
  return {
    name,
    onRunStart: (e) => void log.push(`${name}:start:${e.runId}`),
    onScenarioStart: (e) => void log.push(`${name}:scenario:${e.scenario}`),
    onCellResult: (c) => void log.push(`${name}:cell:${c.client}`),
    onScenarioEnd: (s) => void log.push(`${name}:end:${s.name}`),
    onRunEnd: async () => {
      await new Promise((r) => setImmediate(r));
      log.push(`${name}:run-end`);
    },
  };
}

describe('report: multiplexReporters', () => {
  it('calls every reporter for every event, in list order', async () => {
    const log: string[] = [];
    const m = multiplexReporters([recorder('a', log), recorder('b', log)], { onWarning: () => {} });
    const run = sampleRun();
    await m.onRunStart!({ runId: 'r1', scenarios: 1, cells: 1 });
    await m.onScenarioStart!({ scenario: 's', meshMode: 'sidecar', cells: 1 });
    await m.onCellResult!(run.scenarios[0]!.cells[0]!);
    await m.onScenarioEnd!(run.scenarios[0]!);
    await m.onRunEnd(run, '/nonexistent');
    expect(log).to.deep.equal([
      'a:start:r1',
      'b:start:r1',
      'a:scenario:s',
      'b:scenario:s',
      'a:cell:plaintext-tcp',
      'b:cell:plaintext-tcp',
      'a:end:strict-basic',
      'b:end:strict-basic',
      'a:run-end',
      'b:run-end',
    ]);
    expect(m.warnings).to.deep.equal([]);
  });

  it('runs the synchronous part of every live hook before returning, so un-awaited events keep their order', () => {
    const log: string[] = [];
    const m = multiplexReporters([recorder('a', log), recorder('b', log)], { onWarning: () => {} });
    void m.onScenarioStart!({ scenario: 's', meshMode: 'sidecar', cells: 1 });
    void m.onScenarioEnd!(sampleRun().scenarios[0]!);
    expect(log).to.deep.equal(['a:scenario:s', 'b:scenario:s', 'a:end:strict-basic', 'b:end:strict-basic']);
  });

  it('contains a reporter that throws or rejects: warns, and the others still run', async () => {
    const log: string[] = [];
    const warned: string[] = [];
    const throwing: Reporter = {
      name: 'boom',
      onCellResult: () => {
        throw new Error('disk full');
      },
      onRunEnd: () => {
        throw new TypeError('cannot read x');
      },
    };
    const rejecting: Reporter = { name: 'later', onRunEnd: () => Promise.reject(new Error('EACCES: permission denied')) };
    const m = multiplexReporters([throwing, recorder('ok', log), rejecting], { onWarning: (w) => warned.push(w) });
    const run = sampleRun();
    await m.onCellResult!(run.scenarios[0]!.cells[0]!);
    await m.onRunEnd(run, '/tmp/x');
    expect(log).to.deep.equal(['ok:cell:plaintext-tcp', 'ok:run-end']);
    expect(m.warnings).to.deep.equal([
      'reporter boom failed: disk full (in onCellResult)',
      'reporter boom failed: cannot read x (in onRunEnd)',
      'reporter later failed: EACCES: permission denied (in onRunEnd)',
    ]);
    expect(warned).to.deep.equal(m.warnings);
  });

  it('contains a throwing warning sink and non-Error throws', async () => {
    const m = multiplexReporters(
      [
        {
          name: 'odd',
          onRunEnd: () => {
            throw 'a string';
          },
        },
      ],
      {
        onWarning: () => {
          throw new Error('sink broken');
        },
      },
    );
    await m.onRunEnd(sampleRun(), '/tmp/x');
    expect(m.warnings).to.deep.equal(['reporter odd failed: a string (in onRunEnd)']);
  });

  it('a real reporter that cannot write its file does not break the others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshconform-mux-'));
    try {
      const blocked = join(dir, 'blocked');
      await writeFile(blocked, 'a file where a directory should be');
      const stream = new PassThrough();
      let out = '';
      stream.on('data', (c: Buffer) => (out += c.toString()));
      const junitInBlocked: Reporter = { ...reporters.junit(), onRunEnd: (r) => reporters.junit().onRunEnd(r, join(blocked, 'sub')) };
      const m = multiplexReporters([junitInBlocked, reporters.json(), reporters.console({ stream })], { onWarning: () => {} });
      await m.onRunEnd(sampleRun(), join(dir, 'out'));
      expect(m.warnings).to.have.length(1);
      expect(m.warnings[0]).to.match(/^reporter junit failed: .*(ENOTDIR|EEXIST)/);
      expect(await readdir(join(dir, 'out'))).to.deep.equal(['report.json']);
      expect(out).to.contain('20 cells: 13 passed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('report: registry', () => {
  it('names the valid --reporter values', () => {
    expect(REPORTER_NAMES).to.deep.equal(['console', 'json', 'junit', 'html', 'conformance']);
    expect(isReporterName('junit')).to.equal(true);
    expect(isReporterName('html')).to.equal(true);
    expect(isReporterName('pdf')).to.equal(false);
    expect(isReporterName('toString')).to.equal(false);
    const name: ReporterName = 'json';
    expect(reporters[name]().name).to.equal('json');
  });

  it('creates each named reporter once, in order', () => {
    const list = createReporters(['junit', 'console', 'junit'], { stream: new PassThrough() });
    expect(list.map((r) => r.name)).to.deep.equal(['junit', 'console']);
  });
});
