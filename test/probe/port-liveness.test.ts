import { expect } from 'chai';
import type { Observation } from '../../src/model/index.js';
import { timeoutsWithoutLife } from '../../src/probe/index.js';
import { job } from './fixtures.js';

const timings = { startedAt: 1, totalMs: 1 };
const timeout: Observation = { status: 'denied', how: 'timeout', detail: 'no reply within 500 ms', timings, attempts: 1 };
const closed: Observation = { status: 'denied', how: 'closed', detail: 'closed', timings, attempts: 1 };
const refused: Observation = { status: 'denied', how: 'refused', detail: 'ECONNREFUSED', timings, attempts: 1 };

describe('probe: a timeout is a denial only when its port showed life in the same round', () => {
  const a = { ...job('plaintext-tcp', 'tcp', 8080), key: 'a' };
  const b = { ...job('mtls-tcp', 'tcp', 8080), key: 'b' };
  const other = { ...job('plaintext-http', 'tcp', 9090), key: 'c' };
  const hbone = { ...job('hbone-expired', 'tcp', 8080), key: 'h' };

  it('keeps the timeout when another cell of the same port was refused actively', () => {
    const out = timeoutsWithoutLife(
      [a, b],
      new Map([
        ['a', timeout],
        ['b', closed],
      ]),
    );
    expect(out.get('a')).to.deep.equal(timeout);
  });

  it('turns it into an error when nothing on the port answered (another port answering does not count)', () => {
    const out = timeoutsWithoutLife(
      [a, b, other],
      new Map([
        ['a', timeout],
        ['b', refused],
        ['c', closed],
      ]),
    );
    expect(out.get('a')?.status).to.equal('error');
    expect((out.get('a') as { message: string }).message).to.contain('no other probe of foo/finance:8080');
  });

  it('HBONE cells prove the node proxy alive, not the workload port', () => {
    const out = timeoutsWithoutLife(
      [a, hbone],
      new Map([
        ['a', timeout],
        ['h', closed],
      ]),
    );
    expect(out.get('a')?.status).to.equal('error');
  });
});
