// Verdicts against a data plane written apart from this project: an L4 sidecar that enforces PeerAuthentication
// exactly (test/fixtures/l4-sidecar, imports nothing of meshconform) passes the built-in static sidecar suite under
// --claim spec and fails it under --claim istio (Envoy's HTTP-codec cells); a subtly broken variant fails under both;
// the reference sidecar passes under both.
import { expect } from 'chai';
import { join } from 'node:path';
import type { Claim, RunResult } from '../../src/model/index.js';
import { cellsOf as cells, root, runSuite, STATIC_SUITE as SUITE } from '../support/suite-run.js';

const l4 = `exec:${process.execPath} ${join(root, 'test/fixtures/l4-sidecar/l4-sidecar.mjs')}`;

const run = (args: string[], env: Record<string, string> = {}) => runSuite([...args, '--retries', '0'], env);
const failing = (r: RunResult) =>
  cells(r)
    .filter((c) => c.verdict !== 'pass')
    .map((c) => `${c.key} ${c.verdict}: ${c.reason}`);

describe('independent L4 sidecar (exec: fixture) and the claims', function () {
  this.timeout(600_000);

  it('--claim spec: 0 failed cells on the built-in static sidecar suite; the HTTP-codec cells pass as "differs from Istio"', async function () {
    const { exitCode, stderr, result } = await run([...SUITE, '--data-plane', l4, '--claim', 'spec', '--local-subnet', '127.45']);
    expect(failing(result), stderr).to.deep.equal([]);
    expect(exitCode).to.equal(0);
    expect(result.claim).to.equal('spec');
    expect(result.summary.cells).to.be.greaterThan(600);
    const differs = cells(result).filter((c) => c.differsFromIstio);
    expect(result.summary.differsFromIstio).to.equal(differs.length);
    // Only where Envoy's HTTP codec answers: HTTP-declared ports, never a forbidden admission.
    expect(differs.length).to.be.greaterThan(30);
    for (const c of differs) {
      expect(c.protocol, c.key).to.equal('http');
      expect(c.expected.required, c.key).to.include(c.observedOutcome);
      expect(c.reason, c.key).to.contain("Istio's Envoy answers");
    }
  });

  it('--claim istio: the same data plane fails, only in the HTTP-codec cells', async function () {
    const { exitCode, result } = await run([...SUITE, '--data-plane', l4, '--claim', 'istio', '--local-subnet', '127.46']);
    expect(exitCode).to.equal(1);
    expect(result.claim).to.equal('istio');
    const failed = cells(result).filter((c) => c.verdict === 'fail');
    expect(failed.length).to.be.greaterThan(30);
    for (const c of failed) {
      expect(c.protocol, c.key).to.equal('http');
      expect(c.expected.outcome, c.key).to.equal('deny');
      expect(c.expected.required, c.key).to.include(c.observedOutcome);
    }
    expect(cells(result).filter((c) => c.verdict === 'error')).to.deep.equal([]);
  });

  for (const claim of ['spec', 'istio'] as const satisfies readonly Claim[]) {
    it(`a subtly broken variant (STRICT HTTP ports accept plaintext) fails under --claim ${claim}`, async function () {
      const { exitCode, result } = await run([join(root, 'scenarios/protocols'), '--data-plane', l4, '--claim', claim, '--local-subnet', claim === 'spec' ? '127.47' : '127.48'], {
        L4_SIDECAR_BREAK: 'strict-http-accepts-plaintext',
      });
      expect(exitCode).to.equal(1);
      const open = cells(result).filter((c) => c.verdict === 'fail' && c.expected.mode === 'STRICT' && c.protocol === 'http' && c.client.startsWith('plaintext-'));
      expect(open.length).to.be.greaterThan(0);
      for (const c of open) expect(c.observedOutcome, c.key).to.equal('allow');
    });
  }

  for (const claim of ['spec', 'istio'] as const satisfies readonly Claim[]) {
    it(`the reference sidecar passes every cell of the protocol scenarios under --claim ${claim}, exactly as Istio`, async function () {
      // The whole suite on the reference runs as mutate's baseline under each claim (test/trust/mutate.test.ts).
      const { exitCode, result } = await run([join(root, 'scenarios/protocols'), '--claim', claim, '--local-subnet', claim === 'spec' ? '127.49' : '127.50']);
      expect(failing(result)).to.deep.equal([]);
      expect(exitCode).to.equal(0);
      expect(result.summary.differsFromIstio).to.equal(undefined);
    });
  }
});
