import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { RunResult } from '../../src/model/index.js';
import { jsonReportChunks, jsonReporter, renderJson, runResultSchema, validateRunResult } from '../../src/report/index.js';
import { bigRun, hostileRun } from './html-fixtures.js';
import { sampleRun } from './sample-run.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
const clone = (r: RunResult): Mutable<RunResult> => JSON.parse(JSON.stringify(r)) as Mutable<RunResult>;

describe('report: json and its schema', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshconform-json-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the schema is a valid draft 2020-12 schema under ajv strict mode', () => {
    const Ajv2020 = Ajv2020Module.default;
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    const schema = runResultSchema();
    expect(schema['$schema']).to.equal('https://json-schema.org/draft/2020-12/schema');
    expect(() => ajv.compile(schema)).to.not.throw();
  });

  it('writes report.json, pretty-printed, equal to the RunResult, and it validates against the schema', async () => {
    const run = sampleRun();
    await jsonReporter().onRunEnd(run, join(dir, 'nested', 'run-1'));
    const text = await readFile(join(dir, 'nested', 'run-1', 'report.json'), 'utf8');
    expect(text).to.match(/^\{\n {2}"apiVersion": "meshconform.dev\/v1alpha1",\n {2}"kind": "RunResult"/);
    const parsed: unknown = JSON.parse(text);
    expect(parsed).to.deep.equal(run);
    const v = validateRunResult(parsed);
    expect(v.valid, v.valid ? '' : v.errors.join('\n')).to.equal(true);
    // Only the report is left: the temp file was renamed, not copied.
    expect(await readdir(join(dir, 'nested', 'run-1'))).to.deep.equal(['report.json']);
  });

  it('streams report.json: the file is exactly renderJson, the whole string it used to be built as', async () => {
    for (const [i, run] of [sampleRun(), hostileRun(), bigRun(4, 60)].entries()) {
      const out = join(dir, `run-${i}`);
      await jsonReporter().onRunEnd(run, out);
      expect(await readFile(join(out, 'report.json'), 'utf8')).to.equal(renderJson(run));
      expect([...jsonReportChunks(run)].join('')).to.equal(renderJson(run));
    }
  });

  it('validates every observation variant and rejects malformed ones', () => {
    const run = clone(sampleRun());
    const statuses = new Set(run.scenarios.flatMap((s) => s.cells.map((c) => c.observed?.status)));
    expect([...statuses].sort()).to.deep.equal(['allowed', 'denied', 'error', undefined].sort());
    expect(validateRunResult(run).valid).to.equal(true);

    const bad = clone(sampleRun());
    const denied = bad.scenarios[0]!.cells.find((c) => c.observed?.status === 'denied')!;
    delete (denied.observed as { how?: string }).how;
    const r1 = validateRunResult(bad);
    expect(r1.valid).to.equal(false);

    const mixed = clone(sampleRun());
    const allowed = mixed.scenarios[0]!.cells.find((c) => c.observed?.status === 'allowed')!;
    (allowed.observed as unknown as Record<string, unknown>)['how'] = 'reset'; // a denial field on an allowed observation
    expect(validateRunResult(mixed).valid).to.equal(false);
  });

  it('rejects a wrong apiVersion, an unknown verdict, an unknown client kind and a pass without an observation', () => {
    const a = clone(sampleRun());
    (a as { apiVersion: string }).apiVersion = 'meshconform.dev/v2';
    expect(validateRunResult(a).valid).to.equal(false);

    const b = clone(sampleRun());
    (b.scenarios[0]!.cells[0] as { verdict: string }).verdict = 'maybe';
    expect(validateRunResult(b).valid).to.equal(false);

    const c = clone(sampleRun());
    (c.scenarios[0]!.cells[0] as { client: string }).client = 'telnet';
    expect(validateRunResult(c).valid).to.equal(false);

    const d = clone(sampleRun());
    const passing = d.scenarios[0]!.cells.find((x) => x.verdict === 'pass')!;
    delete (passing as { observed?: unknown }).observed;
    const r = validateRunResult(d);
    expect(r.valid).to.equal(false);
    if (!r.valid) expect(r.errors.join('\n')).to.contain('observed');

    const e = clone(sampleRun());
    (e as Record<string, unknown>)['extra'] = true;
    expect(validateRunResult(e).valid).to.equal(false);
  });
});
