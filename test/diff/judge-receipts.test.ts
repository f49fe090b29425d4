import { expect } from 'chai';
import { judgeCell, provesViolation } from '../../src/diff/index.js';
import type { Observation } from '../../src/model/index.js';
import { denied, expectation, mtlsAllowed, passthroughAllowed, plaintextAllowed, probeError } from './fixtures.js';

const ctx = { feature: 'core' };
type Receipt = NonNullable<Observation['receipt']>;
const plaintextReceipt: Receipt = { workload: 'foo/finance', port: 8080, received: 'plaintext' };
const tlsReceipt: Receipt = { ...plaintextReceipt, received: 'tls' };
const withReceipt = <T extends Observation>(obs: T, receipt: Receipt = plaintextReceipt): T => ({ ...obs, receipt });

describe('diff: judgeCell with application-side receipts', () => {
  const strictPlaintext = expectation({ client: 'plaintext-tcp', outcome: 'deny' });

  it('fails a deny cell whose plaintext reached the application although the client saw a reset', () => {
    const c = judgeCell(strictPlaintext, [withReceipt(denied({ how: 'reset', detail: 'ECONNRESET' }))], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.contain("the application received the client's plaintext (its receipt of this probe) although the client was denied by");
    expect(c.observed?.receipt).to.deep.equal(plaintextReceipt);
  });

  it('fails a deny cell whose probe erred on the client side but reached the application (never an error, never a pass)', () => {
    const c = judgeCell(strictPlaintext, [withReceipt(probeError('probe produced no observation'))], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.contain('although the client saw an error');
  });

  it('a receipt on the first attempt stands whatever a retry shows', () => {
    const c = judgeCell(strictPlaintext, [withReceipt(denied({ how: 'closed', detail: '' })), denied()], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.contain('on attempt 1 of 2');
    expect(c.observed?.receipt).to.deep.equal(plaintextReceipt);
  });

  it('names the other workload when the payload reached another application', () => {
    const c = judgeCell(strictPlaintext, [withReceipt(denied(), { workload: 'bar/ledger', port: 9090, received: 'plaintext' })], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.contain('the application at bar/ledger:9090 received');
  });

  it('fails TLS bytes passed through to the application where termination is required, though the client saw a denial', () => {
    const c = judgeCell(expectation({ client: 'mtls-tcp', outcome: 'allow' }), [withReceipt(denied(), tlsReceipt), mtlsAllowed()], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.contain("received the client's TLS bytes untouched (passthrough)");
  });

  it('fails a stream decrypted by the data plane where passthrough is required', () => {
    const c = judgeCell(expectation({ client: 'tls-no-client-cert', mode: 'DISABLE', outcome: 'passthrough' }), [withReceipt(denied())], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.contain("the client's stream decrypted by the data plane");
  });

  it('a receipt consistent with an allowed outcome changes nothing', () => {
    expect(judgeCell(expectation({ client: 'plaintext-tcp', mode: 'PERMISSIVE' }), [withReceipt(plaintextAllowed())], ctx).verdict).to.equal('pass');
    expect(judgeCell(expectation(), [withReceipt(mtlsAllowed())], ctx).verdict).to.equal('pass');
    const passthrough = expectation({ client: 'tls-no-client-cert', mode: 'DISABLE', outcome: 'passthrough' });
    expect(judgeCell(passthrough, [withReceipt(passthroughAllowed(), tlsReceipt)], ctx).verdict).to.equal('pass');
  });

  it('an allowed path denied once, with a receipt of an allowed outcome, may still be flaky (the receipt adds no violation)', () => {
    const c = judgeCell(expectation({ client: 'plaintext-tcp', mode: 'PERMISSIVE' }), [withReceipt(denied()), plaintextAllowed()], ctx);
    expect(c.verdict).to.equal('flaky');
  });

  it('without receipts nothing changes: a denial still passes a deny cell', () => {
    expect(judgeCell(strictPlaintext, [denied({ how: 'reset', detail: 'ECONNRESET' })], ctx).verdict).to.equal('pass');
  });

  it('a receipt never turns a fail into a pass', () => {
    const c = judgeCell(strictPlaintext, [withReceipt(plaintextAllowed())], ctx);
    expect(c.verdict).to.equal('fail');
  });
});

describe('diff: provesViolation (a settled fail is not retried)', () => {
  const strictPlaintext = expectation({ client: 'plaintext-tcp', outcome: 'deny' });
  const permissivePlaintext = expectation({ client: 'plaintext-tcp', mode: 'PERMISSIVE' });

  it('an admission or a receipt where deny is required proves a violation; a plain denial does not', () => {
    expect(provesViolation(strictPlaintext, plaintextAllowed())).to.equal(true);
    expect(provesViolation(strictPlaintext, withReceipt(denied()))).to.equal(true);
    expect(provesViolation(strictPlaintext, denied())).to.equal(false);
  });

  it('a denial whose payload reached the app where allow is required is a mismatch that may still be retried', () => {
    expect(provesViolation(permissivePlaintext, withReceipt(denied()))).to.equal(false);
    expect(provesViolation(permissivePlaintext, denied())).to.equal(false);
  });
});
