import { expect } from 'chai';
import type { Observation } from '../../src/model/index.js';
import { observationText } from '../../src/report/cell-text.js';

describe('report: the application receipt in the evidence line', () => {
  const denied: Observation = { status: 'denied', how: 'reset', detail: 'ECONNRESET', timings: { startedAt: 0, totalMs: 1 }, attempts: 1 };

  it('a denial the application nevertheless received says so', () => {
    const text = observationText({ ...denied, receipt: { workload: 'foo/finance', port: 8080, received: 'plaintext' } });
    expect(text).to.equal('denied by reset (ECONNRESET); yet the application received plaintext at foo/finance:8080 (its receipt)');
  });

  it('an error with a receipt says so; without a receipt the line is unchanged', () => {
    const error: Observation = {
      status: 'error',
      message: 'x',
      timings: { startedAt: 0, totalMs: 1 },
      attempts: 1,
      receipt: { workload: 'foo/finance', port: 8080, received: 'tls' },
    };
    expect(observationText(error)).to.equal('probe error: x; yet the application received tls at foo/finance:8080 (its receipt)');
    expect(observationText(denied)).to.equal('denied by reset (ECONNRESET)');
  });
});
