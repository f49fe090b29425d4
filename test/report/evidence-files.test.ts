import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Attachment, RunResult } from '../../src/model/index.js';
import { attachmentPath, readRunResultFile, validateRunResult, writeAttachments } from '../../src/report/index.js';
import { openReporters, writeOutputs } from '../../src/run/outputs.js';
import { CHAIN, withEvidence } from './evidence-fixtures.js';
import { sampleRun } from './sample-run.js';

type Mutable<T> = T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
const clone = (r: RunResult): Mutable<RunResult> => JSON.parse(JSON.stringify(r)) as Mutable<RunResult>;
const errorsOf = (v: ReturnType<typeof validateRunResult>): string => (v.valid ? '' : v.errors.join('\n'));

describe('report: evidence in report.json and beside it', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mc-evidence-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the schema accepts cell evidence, attachments, wire evidence and options.flags; reports without them stay valid', () => {
    expect(validateRunResult(sampleRun()).valid).to.equal(true);
    const run = withEvidence(sampleRun(), { attachments: true });
    expect(run.scenarios[0]!.cells.filter((c) => c.evidence).length).to.be.greaterThan(2);
    const v = validateRunResult(JSON.parse(JSON.stringify(run)));
    expect(v.valid, errorsOf(v)).to.equal(true);
  });

  it('the schema refuses evidence out of bounds or off-shape', () => {
    const bad = (mutate: (r: Mutable<RunResult>) => void): string[] => {
      const r = clone(withEvidence(sampleRun(), { attachments: true }));
      mutate(r);
      const v = validateRunResult(r);
      return v.valid ? [] : [...v.errors];
    };
    const failingCell = (r: Mutable<RunResult>) => r.scenarios[0]!.cells.find((c) => c.evidence)!;
    const attachment = (r: Mutable<RunResult>) => r.scenarios[0]!.attachments![0]!;
    expect(bad((r) => (attachment(r).id = '../escape'))).to.not.deep.equal([]);
    expect(bad((r) => (attachment(r).id = 'UPPER'))).to.not.deep.equal([]);
    expect(bad((r) => (attachment(r).mediaType = 'text/html' as 'text/plain'))).to.not.deep.equal([]);
    expect(bad((r) => (attachment(r).text = 'x'.repeat(1024 * 1024 + 1)))).to.not.deep.equal([]);
    expect(bad((r) => (failingCell(r).evidence!.attachments = ['a/b']))).to.not.deep.equal([]);
    expect(bad((r) => (failingCell(r).evidence!.logs!.lines[0]!.stream = 'stdin' as 'stdout'))).to.not.deep.equal([]);
    expect(bad((r) => ((failingCell(r).evidence as Record<string, unknown>)['extra'] = 1))).to.not.deep.equal([]);
    expect(bad((r) => (failingCell(r).evidence!.config!.text = 'x'.repeat(32 * 1024 + 1)))).to.not.deep.equal([]);
    expect(bad((r) => ((failingCell(r).observed as { wire: unknown }).wire = { chain: [...CHAIN, ...CHAIN, ...CHAIN] }))).to.not.deep.equal([]);
    expect(bad((r) => ((failingCell(r).observed as { wire: unknown }).wire = { firstBytes: { hex: '<script>', text: '', total: 0 } }))).to.not.deep.equal([]);
    expect(bad((r) => ((r.options.flags as Record<string, unknown>)['Bad Name'] = 1))).to.not.deep.equal([]);
    expect(bad((r) => ((r.options.flags as Record<string, unknown>)['nested'] = { a: 1 }))).to.not.deep.equal([]);
  });

  it('attachment paths: evidence/<id>.txt or .json, and none for an id that is not [a-z0-9-]+', () => {
    expect(attachmentPath({ id: 'foo-finance-log', mediaType: 'text/plain' })).to.equal('evidence/foo-finance-log.txt');
    expect(attachmentPath({ id: 'state-1', mediaType: 'application/json' })).to.equal('evidence/state-1.json');
    for (const id of ['', '..', '../x', 'a/b', 'a.b', 'A', 'a\u0000b', 'x'.repeat(129), '/etc/passwd']) {
      expect(attachmentPath({ id, mediaType: 'text/plain' }), JSON.stringify(id)).to.equal(undefined);
    }
  });

  it('writeAttachments writes each attachment once, never outside the folder, never over a file', async () => {
    const base = sampleRun();
    const list: Attachment[] = [
      { id: 'log-a', label: 'log', mediaType: 'text/plain', text: 'first\n' },
      { id: 'state-a', label: 'state', mediaType: 'application/json', text: '{"a":1}' },
      { id: '../../outside', label: 'escape', mediaType: 'text/plain', text: 'x' },
      { id: '/abs', label: 'absolute', mediaType: 'text/plain', text: 'x' },
      { id: 'log-a', label: 'the same id again', mediaType: 'text/plain', text: 'second\n' },
    ];
    const run: RunResult = { ...base, scenarios: [{ ...base.scenarios[0]!, attachments: list }, ...base.scenarios.slice(1)] };
    const inner = join(dir, 'a', 'b');
    const written = await writeAttachments(run, inner);
    expect(written.sort()).to.deep.equal(['evidence/log-a.txt', 'evidence/state-a.json']);
    expect(readdirSync(join(inner, 'evidence')).sort()).to.deep.equal(['log-a.txt', 'state-a.json']);
    expect(readFileSync(join(inner, 'evidence', 'log-a.txt'), 'utf8')).to.equal('first\n');
    expect(readdirSync(dir)).to.deep.equal(['a']);
    expect(readdirSync(join(dir, 'a'))).to.deep.equal(['b']);
    // Without attachments, no folder.
    const empty = join(dir, 'empty');
    expect(await writeAttachments(base, empty)).to.deep.equal([]);
    expect(existsSync(join(empty, 'evidence'))).to.equal(false);
  });

  it('writeOutputs puts the attachments beside report.json in the run folder, and report.json keeps them and reads back', async () => {
    const run = withEvidence(sampleRun(), { attachments: true });
    const reporters = openReporters(['json', 'html'], new PassThrough());
    const runDir = await writeOutputs(run, reporters, dir);
    expect(runDir).to.equal(join(dir, run.runId));
    const ids = run.scenarios.flatMap((s) => (s.attachments ?? []).map((a) => a.id));
    expect(ids.length).to.be.greaterThan(0);
    expect(readdirSync(join(runDir, 'evidence')).sort()).to.deep.equal(ids.map((id) => `${id}.txt`).sort());
    for (const s of run.scenarios) for (const a of s.attachments ?? []) expect(readFileSync(join(runDir, 'evidence', `${a.id}.txt`), 'utf8')).to.equal(a.text);
    expect(readdirSync(runDir).sort()).to.deep.equal(['evidence', 'index.html', 'report.json']);
    const back = await readRunResultFile(join(dir, 'latest', 'report.json'));
    expect(back.scenarios[0]!.attachments).to.deep.equal(run.scenarios[0]!.attachments);
    expect(back.options.flags).to.deep.equal(run.options.flags);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).to.deep.equal([]);
  });
});
