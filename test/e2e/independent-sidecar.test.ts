// Verdicts on a data plane meshconform did not write: test/fixtures/independent-sidecar/alt-sidecar.mjs, written from
// docs/spec.md and docs/data-plane.md alone in a style unlike Envoy's (TLS 1.2 only, L4 relay on HTTP ports, no
// metadata exchange, denials by RST, FIN, a proxy-written 426 or the TLS stack, after a wait). Each conformant style
// must pass the static sidecar suite under --claim spec with no failed or error cell; each subtly wrong variant must
// fail, and only in the cells its bug explains.
import { expect } from 'chai';
import { join } from 'node:path';
import type { CellResult, RunResult } from '../../src/model/index.js';
import { cellsOf as cells, root, runSuite, STATIC_SUITE as SUITE } from '../support/suite-run.js';

const alt = `exec:${process.execPath} ${join(root, 'test/fixtures/independent-sidecar/alt-sidecar.mjs')}`;

const run = (subnet: string, env: Record<string, string>) => runSuite([...SUITE, '--data-plane', alt, '--local-subnet', subnet], env);
const bad = (r: RunResult) =>
  cells(r)
    .filter((c) => c.verdict === 'fail' || c.verdict === 'error')
    .map((c) => `${c.key} ${c.verdict}: ${c.reason}`);

describe('independent TLS 1.2 L4 sidecar (exec: fixture written from the docs)', function () {
  this.timeout(600_000);

  const styles: { name: string; subnet: string; env: Record<string, string> }[] = [
    { name: 'RST denials, no ALPN selected (default)', subnet: '127.37', env: {} },
    {
      name: 'proxy-written HTTP 426 on STRICT HTTP ports, ALPN = client first offer (no MX), 300 ms before closing',
      subnet: '127.38',
      env: { ALT_DENY: 'http', ALT_ALPN: 'first', ALT_DENY_DELAY_MS: '300' },
    },
    { name: 'FIN denials, TLS 1.3 allowed, immediate close', subnet: '127.39', env: { ALT_DENY: 'fin', ALT_TLS_MAX: 'TLSv1.3', ALT_DENY_DELAY_MS: '0' } },
    { name: 'STRICT plaintext handed to the TLS stack', subnet: '127.40', env: { ALT_DENY: 'tls' } },
  ];
  for (const style of styles) {
    it(`conformant style "${style.name}": 0 failed and 0 error cells under --claim spec`, async () => {
      const { exitCode, stderr, result } = await run(style.subnet, style.env);
      expect(bad(result), stderr).to.deep.equal([]);
      expect(exitCode).to.equal(0);
      expect(result.claim).to.equal('spec');
      expect(result.summary.cells).to.be.greaterThan(600);
      // The L4 relay differs from Envoy only where Envoy's HTTP codec answers.
      const differs = cells(result).filter((c) => c.differsFromIstio);
      expect(differs.length).to.be.greaterThan(30);
      for (const c of differs) expect(c.protocol, c.key).to.equal('http');
    });
  }

  const broken: { name: string; subnet: string; expectCell: (c: CellResult) => boolean }[] = [
    {
      // A client certificate from another trust domain admitted on PERMISSIVE ports.
      name: 'permissive-ignores-trust-domain',
      subnet: '127.41',
      expectCell: (c) => c.client === 'mtls-other-trust-domain' && c.expected.mode === 'PERMISSIVE' && c.observedOutcome === 'allow',
    },
    {
      // A portLevelMtls DISABLE entry ignored: only ports whose mode a port-level entry decided as DISABLE go wrong.
      name: 'disable-port-level-ignored',
      subnet: '127.42',
      expectCell: (c) => c.expected.mode === 'DISABLE' && c.decidedBy.at(-1)?.level === 'port',
    },
    {
      // Istio mTLS with a TCP ALPN to a PERMISSIVE HTTP port relayed untouched instead of terminated.
      name: 'permissive-http-alpn-only',
      subnet: '127.43',
      expectCell: (c) => c.client === 'mtls-tcp' && c.protocol === 'http' && c.expected.mode === 'PERMISSIVE' && c.observedOutcome === 'passthrough',
    },
    {
      // The same client refused in the handshake on STRICT/PERMISSIVE HTTP ports: "deny" is in the required set there
      // only after mTLS was terminated with the workload's identity.
      name: 'http-port-refuses-tcp-alpn',
      subnet: '127.44',
      expectCell: (c) =>
        c.client === 'mtls-tcp' && c.protocol === 'http' && c.expected.mode !== 'DISABLE' && c.observedOutcome === 'deny' && c.reason.includes('before mTLS was terminated'),
    },
  ];
  for (const b of broken) {
    it(`wrong variant ALT_BREAK=${b.name} fails (exit 1), only in the cells its bug explains`, async () => {
      const { exitCode, result } = await run(b.subnet, { ALT_BREAK: b.name });
      expect(exitCode).to.equal(1);
      const failed = cells(result).filter((c) => c.verdict === 'fail');
      expect(failed.length).to.be.greaterThan(0);
      for (const c of failed) expect(b.expectCell(c), `${c.key}: ${c.reason}`).to.equal(true);
      expect(cells(result).filter((c) => c.verdict === 'error')).to.deep.equal([]);
    });
  }
});
