import { expect } from 'chai';
import { errorCell, judgeCell, observedOutcome, skippedCell } from '../../src/diff/index.js';
import { denied, expectation, mtlsAllowed, passthroughAllowed, plaintextAllowed, probeError } from './fixtures.js';

const ctx = { feature: 'core' };

describe('diff: observedOutcome', () => {
  it('classifies every observation kind', () => {
    expect(observedOutcome(mtlsAllowed())).to.equal('allow');
    expect(observedOutcome(plaintextAllowed())).to.equal('allow');
    expect(observedOutcome(passthroughAllowed())).to.equal('passthrough');
    expect(observedOutcome(denied())).to.equal('deny');
    expect(observedOutcome(denied({ how: 'reset', detail: 'ECONNRESET' }))).to.equal('deny');
    expect(observedOutcome(denied({ how: 'timeout', detail: '' }))).to.equal('deny');
  });

  it('treats a refused connection and a probe error as no outcome at all', () => {
    expect(observedOutcome(denied({ how: 'refused', detail: 'ECONNREFUSED' }))).to.equal(undefined);
    expect(observedOutcome(probeError())).to.equal(undefined);
  });
});

describe('diff: judgeCell verdicts', () => {
  describe('pass', () => {
    it('passes mesh mTLS terminated by the data plane with the right identity', () => {
      const c = judgeCell(expectation(), [mtlsAllowed()], ctx);
      expect(c.verdict).to.equal('pass');
      expect(c.observedOutcome).to.equal('allow');
      expect(c.feature).to.equal('core');
      expect(c.key).to.equal('s1|sidecar|foo/finance|8080|mtls-tcp');
      expect(c.expected).to.deep.equal({
        mode: 'STRICT',
        outcome: 'allow',
        rule: 'R5.3 STRICT: valid mesh mTLS is accepted',
        required: ['allow'],
        requiredRule: 'R5.3 STRICT: valid mesh mTLS is accepted',
      });
    });

    it('passes plaintext allowed on a PERMISSIVE port', () => {
      const c = judgeCell(expectation({ client: 'plaintext-tcp', mode: 'PERMISSIVE' }), [plaintextAllowed()], ctx);
      expect(c.verdict).to.equal('pass');
    });

    it('passes a denial of any kind other than refused', () => {
      for (const d of [
        denied(),
        denied({ how: 'reset', detail: 'ECONNRESET' }),
        denied({ how: 'closed', detail: '' }),
        denied({ how: 'protocol-error', httpStatus: 400, detail: '' }),
      ]) {
        const c = judgeCell(expectation({ client: 'plaintext-tcp', outcome: 'deny' }), [d], ctx);
        expect(c.verdict, d.how).to.equal('pass');
        expect(c.observedOutcome).to.equal('deny');
      }
    });

    it('passes passthrough when the app received the TLS bytes', () => {
      const c = judgeCell(expectation({ client: 'tls-no-client-cert', mode: 'DISABLE', outcome: 'passthrough' }), [passthroughAllowed()], ctx);
      expect(c.verdict).to.equal('pass');
      expect(c.observedOutcome).to.equal('passthrough');
    });
  });

  describe('fail on a different outcome', () => {
    it('names expected outcome, mode, rule, what happened and the deciding policies', () => {
      const exp = expectation({ client: 'plaintext-tcp', outcome: 'deny', rule: 'R5.3 STRICT: plaintext has no filter chain' });
      const c = judgeCell(exp, [plaintextAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.observedOutcome).to.equal('allow');
      expect(c.reason).to.equal(
        'expected deny (STRICT, R5.3 STRICT: plaintext has no filter chain) but the application answered over plaintext; decided by foo/default (namespace).',
      );
    });

    it('names how it was denied, with the TLS alert', () => {
      const c = judgeCell(expectation(), [denied()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.observedOutcome).to.equal('deny');
      expect(c.reason).to.contain('expected allow (STRICT').and.contain('denied by tls-alert certificate required (116)');
    });

    it('says so when no policy applies', () => {
      const c = judgeCell(expectation({ decidedBy: [], mode: 'PERMISSIVE' }), [denied({ how: 'reset', detail: 'ECONNRESET' })], ctx);
      expect(c.reason).to.contain('denied by reset (ECONNRESET)').and.contain('no policy applies (default PERMISSIVE)');
    });

    it('lists a chain of deciding policies in order', () => {
      const exp = expectation({
        decidedBy: [
          { level: 'mesh', namespace: 'istio-system', name: 'default' },
          { level: 'port', namespace: 'foo', name: 'finance' },
        ],
      });
      const c = judgeCell(exp, [denied()], ctx);
      expect(c.reason).to.contain('decided by istio-system/default (mesh) → foo/finance (port)');
    });

    it('fails passthrough observed where allow was expected, and the reverse', () => {
      expect(judgeCell(expectation(), [passthroughAllowed()], ctx).verdict).to.equal('fail');
      const c = judgeCell(expectation({ client: 'tls-no-client-cert', outcome: 'passthrough' }), [mtlsAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('the data plane terminated mTLS');
    });
  });

  describe('fail on inconsistent evidence (outcome class matches)', () => {
    it('misroute: the reply came from another workload', () => {
      const obs = mtlsAllowed({ echo: { workload: 'foo/web', port: 8080, received: 'plaintext', protocol: 'tcp' } });
      const c = judgeCell(expectation(), [obs], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.observedOutcome).to.equal('allow');
      expect(c.reason).to.contain('foo/web:8080, not foo/finance:8080 (misroute)');
    });

    it('misroute: the reply came from another port', () => {
      const obs = plaintextAllowed({ echo: { workload: 'foo/finance', port: 9090, received: 'plaintext', protocol: 'tcp' } });
      const c = judgeCell(expectation({ client: 'plaintext-http', mode: 'PERMISSIVE' }), [obs], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('misroute');
    });

    it('misroute on a passthrough reply', () => {
      const obs = passthroughAllowed({ echo: { workload: 'bar/finance', port: 8080, received: 'tls', protocol: 'tcp' } });
      const c = judgeCell(expectation({ client: 'mtls-expired', outcome: 'passthrough', mode: 'DISABLE' }), [obs], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('misroute');
    });

    it('a TLS client allowed over plaintext (not terminated by the data plane)', () => {
      const c = judgeCell(expectation({ client: 'tls-no-istio-alpn' }), [plaintextAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('answered over plaintext, not over mTLS terminated by the data plane');
    });

    it('the server presented the wrong identity: states the presented one and its issuer', () => {
      const obs = mtlsAllowed({
        tls: { version: 'TLSv1.3', alpn: 'istio', serverIdentity: 'spiffe://cluster.local/ns/foo/sa/web', serverIssuer: 'mesh', serverIdentityOk: false },
      });
      const c = judgeCell(expectation(), [obs], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('server presented spiffe://cluster.local/ns/foo/sa/web issued by the mesh CA');
    });

    it('the server presented no SPIFFE identity from an unknown issuer', () => {
      const obs = mtlsAllowed({ tls: { version: 'TLSv1.3', alpn: null, serverIdentity: null, serverIssuer: 'unknown', serverIdentityOk: false } });
      const c = judgeCell(expectation({ client: 'mtls-http' }), [obs], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('server presented no SPIFFE identity issued by the unknown CA');
    });

    it('a TLS client allowed without any TLS evidence', () => {
      const { tls: _tls, ...rest } = mtlsAllowed();
      const c = judgeCell(expectation(), [rest], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('no TLS evidence');
    });

    it('the application received TLS bytes although the data plane claims it terminated mTLS', () => {
      const obs = mtlsAllowed({ echo: { workload: 'foo/finance', port: 8080, received: 'tls', protocol: 'tcp' } });
      const c = judgeCell(expectation(), [obs], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('received TLS bytes instead of the decrypted stream');
    });

    it('a plaintext client whose connection took the mtls path', () => {
      const c = judgeCell(expectation({ client: 'plaintext-tcp', mode: 'PERMISSIVE' }), [mtlsAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('took the mtls path, not plaintext');
    });

    it('a plaintext client whose bytes reached the app as TLS', () => {
      const obs = plaintextAllowed({ echo: { workload: 'foo/finance', port: 8080, received: 'tls', protocol: 'tcp' } });
      const c = judgeCell(expectation({ client: 'plaintext-tcp', mode: 'DISABLE' }), [obs], ctx);
      expect(c.verdict).to.equal('fail');
    });

    it('passthrough where the app received plaintext', () => {
      const obs = passthroughAllowed({ echo: { workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'tcp' } });
      const c = judgeCell(expectation({ client: 'tls-no-client-cert', outcome: 'passthrough', mode: 'PERMISSIVE' }), [obs], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain("received plaintext, not the client's TLS bytes");
    });
  });

  describe('flaky', () => {
    it('matches only on a retry after a denial of an allowed path', () => {
      const c = judgeCell(expectation(), [denied(), mtlsAllowed({ attempts: 2 })], ctx);
      expect(c.verdict).to.equal('flaky');
      expect(c.reason).to.contain('matched only on attempt 2 of 2').and.contain('attempt 1: denied by tls-alert');
      // The first attempt is kept beside the one it passed on; a pass keeps no such field.
      expect(c.firstAttempt?.status).to.equal('denied');
      expect(judgeCell(expectation(), [mtlsAllowed()], ctx)).to.not.have.property('firstAttempt');
    });

    it('a passthrough port denied once, then passed through, is flaky', () => {
      const exp = expectation({ client: 'tls-no-client-cert', mode: 'DISABLE', outcome: 'passthrough' });
      const c = judgeCell(exp, [denied({ how: 'reset', detail: 'ECONNRESET' }), passthroughAllowed()], ctx);
      expect(c.verdict).to.equal('flaky');
    });

    it('matches only on a retry after an error', () => {
      const c = judgeCell(expectation(), [probeError('target not ready'), mtlsAllowed()], ctx);
      expect(c.verdict).to.equal('flaky');
    });

    it('a match in the middle of the retries is flaky too', () => {
      const c = judgeCell(expectation(), [denied(), mtlsAllowed(), denied()], ctx);
      expect(c.verdict).to.equal('flaky');
    });
  });

  describe('asymmetric evidence: a forbidden answer observed once is a fail, whatever the retries show', () => {
    it('plaintext admitted where deny is required, then denied on the retry', () => {
      const exp = expectation({ client: 'plaintext-tcp', outcome: 'deny' });
      const c = judgeCell(exp, [plaintextAllowed(), denied({ how: 'closed', detail: '', attempts: 2 })], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('on attempt 1 of 2 the application answered over plaintext').and.contain('whatever the retries show');
      // The report shows the attempt that proved the violation.
      expect(c.observed?.status).to.equal('allowed');
      expect(c.observed?.attempts).to.equal(2);
      expect(c.observedOutcome).to.equal('allow');
    });

    it('an admission on a retry after a match is a fail too', () => {
      const exp = expectation({ client: 'mtls-foreign-ca', outcome: 'deny' });
      const c = judgeCell(exp, [denied(), mtlsAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('on attempt 2 of 2');
    });

    it('TLS terminated where passthrough is required, then passed through', () => {
      const exp = expectation({ client: 'tls-no-client-cert', mode: 'DISABLE', outcome: 'passthrough' });
      const c = judgeCell(exp, [mtlsAllowed(), passthroughAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
    });

    it('a wrong server identity, then the right one', () => {
      const wrong = mtlsAllowed({
        tls: { version: 'TLSv1.3', alpn: 'istio', serverIdentity: 'spiffe://cluster.local/ns/foo/sa/other', serverIssuer: 'mesh', serverIdentityOk: false },
      });
      const c = judgeCell(expectation(), [wrong, mtlsAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('spiffe://cluster.local/ns/foo/sa/other');
    });

    it('a misrouted reply, then the right one', () => {
      const misrouted = mtlsAllowed({ echo: { workload: 'foo/other', port: 8080, received: 'plaintext', protocol: 'tcp' } });
      const c = judgeCell(expectation(), [misrouted, mtlsAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
      expect(c.reason).to.contain('misroute');
    });

    it('an admission followed by a probe error is a fail, not an error', () => {
      const c = judgeCell(expectation({ client: 'plaintext-tcp', outcome: 'deny' }), [plaintextAllowed(), probeError('agent crashed')], ctx);
      expect(c.verdict).to.equal('fail');
    });
  });

  describe('error is never a pass and never a denial', () => {
    it('a probe error where deny was expected is an error, not a pass', () => {
      const c = judgeCell(expectation({ client: 'plaintext-tcp', outcome: 'deny' }), [probeError('agent crashed')], ctx);
      expect(c.verdict).to.equal('error');
      expect(c.observedOutcome).to.equal(undefined);
      expect(c.reason).to.contain('agent crashed');
    });

    it('a refused connection where deny was expected is an error (dead data plane), not a denial', () => {
      const c = judgeCell(expectation({ client: 'plaintext-tcp', outcome: 'deny' }), [denied({ how: 'refused', detail: 'ECONNREFUSED' })], ctx);
      expect(c.verdict).to.equal('error');
      expect(c.observedOutcome).to.equal(undefined);
      expect(c.reason).to.contain('refused').and.contain('not accepting');
    });

    it('refused on every retry stays an error', () => {
      const refused = denied({ how: 'refused', detail: 'ECONNREFUSED' });
      const c = judgeCell(expectation({ outcome: 'deny', client: 'mtls-foreign-ca' }), [refused, refused, refused], ctx);
      expect(c.verdict).to.equal('error');
      expect(c.reason).to.contain('attempt 3 of 3');
    });

    it('a mismatch followed by an error is an error, but the reason keeps the mismatch', () => {
      const c = judgeCell(expectation(), [denied(), probeError('agent crashed')], ctx);
      expect(c.verdict).to.equal('error');
      expect(c.reason).to.contain('agent crashed').and.contain('attempt 1 had shown: denied by tls-alert');
    });

    it('an error followed by a mismatch is a fail', () => {
      const c = judgeCell(expectation({ client: 'plaintext-tcp', outcome: 'deny' }), [probeError(), plaintextAllowed()], ctx);
      expect(c.verdict).to.equal('fail');
    });

    it('no attempts at all is an error', () => {
      const c = judgeCell(expectation(), [], ctx);
      expect(c.verdict).to.equal('error');
      expect(c.observed).to.equal(undefined);
    });
  });

  it('records the last attempt as observed, with the number of attempts', () => {
    const last = denied({ how: 'reset', detail: 'ECONNRESET' });
    const c = judgeCell(expectation(), [denied(), probeError(), last], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.observed).to.deep.equal({ ...last, attempts: 3 });
    expect(c.observedOutcome).to.equal('deny');
    expect(c.reason).to.contain('denied by reset (ECONNRESET)');
  });
});

describe('diff: skippedCell and errorCell', () => {
  it('builds a skipped cell without an observation', () => {
    const c = skippedCell(expectation(), 'ambient mode is not supported', 'core');
    expect(c.verdict).to.equal('skipped');
    expect(c.reason).to.equal('ambient mode is not supported');
    expect(c).to.not.have.property('observed');
    expect(c).to.not.have.property('observedOutcome');
    expect(c.feature).to.equal('core');
  });

  it('builds an error cell for a scenario that could not run', () => {
    const c = errorCell(expectation(), 'data plane unhealthy: foo/finance exited', 'core');
    expect(c.verdict).to.equal('error');
    expect(c.reason).to.equal('data plane unhealthy: foo/finance exited');
    expect(c).to.not.have.property('observed');
  });
});

describe('diff: mtls-tcp to a STRICT or PERMISSIVE sidecar HTTP port is terminated before any refusal', () => {
  const meshTls = { version: 'TLSv1.2', alpn: null, serverIdentity: 'spiffe://cluster.local/ns/foo/sa/finance', serverIssuer: 'mesh' as const, serverIdentityOk: true };
  const httpCell = (mode: 'STRICT' | 'PERMISSIVE') =>
    expectation({
      client: 'mtls-tcp',
      mode,
      protocol: 'http',
      outcome: 'deny',
      rule: `R5.3 ${mode}: terminated, then a protocol error`,
      required: ['allow', 'deny'],
      denyOnlyAfterTermination: true,
    });

  for (const claim of ['spec', 'istio'] as const) {
    it(`passes a refusal after the handshake presented the workload identity (--claim ${claim})`, () => {
      for (const mode of ['STRICT', 'PERMISSIVE'] as const) {
        const c = judgeCell(httpCell(mode), [denied({ how: 'protocol-error', httpStatus: 400, detail: 'HTTP 400', alert: undefined, tls: meshTls })], { ...ctx, claim });
        expect(c.verdict, mode).to.equal('pass');
      }
    });

    it(`fails a handshake alert over the client's TCP ALPN: a valid identity refused where mTLS is accepted (--claim ${claim})`, () => {
      const alert = denied({ how: 'tls-alert', alert: { code: 120, name: 'no_application_protocol' }, detail: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
      for (const mode of ['STRICT', 'PERMISSIVE'] as const) {
        const c = judgeCell(httpCell(mode), [alert, alert], { ...ctx, claim });
        expect(c.verdict, mode).to.equal('fail');
        expect(c.reason).to.contain('before mTLS was terminated');
        expect(c.reason).to.contain('the TLS handshake did not complete');
      }
    });
  }

  it('fails a refusal after a handshake that presented another identity', () => {
    const wrong = { ...meshTls, serverIdentity: 'spiffe://cluster.local/ns/foo/sa/other', serverIdentityOk: false };
    const c = judgeCell(httpCell('STRICT'), [denied({ how: 'closed', detail: '', alert: undefined, tls: wrong })], ctx);
    expect(c.verdict).to.equal('fail');
    expect(c.reason).to.contain('spiffe://cluster.local/ns/foo/sa/other');
  });

  it('is flaky when the early refusal is followed by a refusal after termination', () => {
    const early = denied({ how: 'reset', detail: 'ECONNRESET', alert: undefined });
    const late = denied({ how: 'closed', detail: '', alert: undefined, tls: meshTls });
    expect(judgeCell(httpCell('STRICT'), [early, late], ctx).verdict).to.equal('flaky');
  });

  it('leaves DISABLE HTTP ports, TCP ports and other clients alone', () => {
    const reset = denied({ how: 'reset', detail: 'ECONNRESET', alert: undefined });
    // The oracle flags no DISABLE cell (test/oracle/required-outcome.test.ts), so a refusal there needs no termination.
    const disabled = expectation({ client: 'mtls-tcp', mode: 'DISABLE', protocol: 'http', outcome: 'deny', required: ['deny', 'passthrough'] });
    expect(judgeCell(disabled, [reset], ctx).verdict).to.equal('pass');
    expect(judgeCell(expectation({ client: 'mtls-foreign-ca', protocol: 'http', outcome: 'deny' }), [reset], ctx).verdict).to.equal('pass');
    expect(judgeCell(expectation({ client: 'plaintext-tcp', protocol: 'tcp', outcome: 'deny' }), [reset], ctx).verdict).to.equal('pass');
  });
});
