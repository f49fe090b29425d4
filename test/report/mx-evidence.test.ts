// The metadata-exchange evidence of an observation (Envoy's TCP MX preamble): in the JSON schema and the cell text.
import { expect } from 'chai';
import type { Observation, RunResult } from '../../src/model/index.js';
import { validateRunResult } from '../../src/report/index.js';
import { observationText } from '../../src/report/cell-text.js';
import { sampleRun } from './sample-run.js';

const errorsOf = (run: unknown) => {
  const v = validateRunResult(run);
  return v.valid ? [] : v.errors;
};

/** The sample run with `mx` set on its first allowed observation. */
function withMx(mx: unknown): unknown {
  const run = JSON.parse(JSON.stringify(sampleRun())) as RunResult;
  const cell = run.scenarios[0]!.cells.find((c) => c.observed?.status === 'allowed')!;
  (cell.observed as unknown as Record<string, unknown>)['mx'] = mx;
  return run;
}

describe('report: istio-peer-exchange evidence', () => {
  it('the schema accepts mx {seen, workload, namespace} and refuses a malformed one', () => {
    const baseline = errorsOf(sampleRun());
    expect(errorsOf(withMx({ seen: true, workload: 'finance', namespace: 'foo' }))).to.deep.equal(baseline);
    expect(errorsOf(withMx({ seen: true }))).to.deep.equal(baseline);
    expect(errorsOf(withMx({ seen: false }))).to.not.deep.equal(baseline);
    expect(errorsOf(withMx({ seen: true, workload: 7 }))).to.not.deep.equal(baseline);
    expect(errorsOf(withMx({ seen: true, other: 'x' }))).to.not.deep.equal(baseline);
  });

  it('the cell text names the proxy that wrote the preamble', () => {
    const base = { timings: { startedAt: 0, totalMs: 1 }, attempts: 1 };
    const allowed: Observation = {
      ...base,
      status: 'allowed',
      path: 'mtls',
      echo: { workload: 'foo/finance', port: 9000, received: 'plaintext', protocol: 'tcp' },
      mx: { seen: true, workload: 'finance', namespace: 'foo' },
    };
    expect(observationText(allowed)).to.match(/; istio-peer-exchange preamble from foo\/finance$/);
    const denied: Observation = { ...base, status: 'denied', how: 'timeout', detail: 'no reply', mx: { seen: true } };
    expect(observationText(denied)).to.match(/; istio-peer-exchange preamble from an unnamed proxy$/);
    expect(observationText({ ...allowed, mx: undefined })).to.not.include('istio-peer-exchange');
  });
});
