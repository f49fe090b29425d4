// `--mesh-ca <dir>`: a vendor's mesh CA in Istio's cacerts layout; the probe agent's client certificates are issued
// from it. Checked against real workloads whose mesh certificates come from that same CA.
import { expect } from 'chai';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueFromUserCa, loadUserCa, openAgentSession } from '../../../src/backend/kube/index.js';
import { createLocalBackend } from '../../../src/backend/local/index.js';
import { createMeshPki } from '../../../src/pki/index.js';
import { expectations } from '../../../src/oracle/index.js';
import { observedOutcome } from '../../../src/diff/index.js';
import { echoArgv, resolveDataPlane } from '../../../src/run/data-plane.js';
import { createPrivateDir } from '../../../src/util/private-dir.js';
import type { WorkloadTls } from '../../../src/model/index.js';
import { e2eScenario, localAgentStream, scenario } from './support.js';

describe('--mesh-ca: probe identities issued from a CA the user supplies', function () {
  this.timeout(60_000);

  it('issues a valid, an expired and an other-trust-domain client that the mesh judges as such', async () => {
    const pki = createMeshPki({ trustDomain: 'cluster.local' });
    const dir = await createPrivateDir('mc-user-ca-');
    try {
      await pki.writeCaFiles(dir);
      const ca = await loadUserCa(dir.path);
      const issued = issueFromUserCa(ca, {
        trustDomain: 'cluster.local',
        otherTrustDomain: 'other.example',
        identity: { namespace: 'meshconform-probe', serviceAccount: 'probe-client' },
      });
      const root = new X509Certificate(ca.rootPem);
      const leaf = (pem: string) => new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
      const mesh = leaf(issued.clients.mesh!.certPem);
      expect(mesh.verify(root.publicKey)).to.equal(true);
      expect(mesh.subjectAltName).to.equal('URI:spiffe://cluster.local/ns/meshconform-probe/sa/probe-client');
      expect(new Date(leaf(issued.clients.expired!.certPem).validTo).getTime()).to.be.below(Date.now());
      expect(leaf(issued.clients.otherTrustDomain!.certPem).subjectAltName).to.equal('URI:spiffe://other.example/ns/meshconform-probe/sa/probe-client');

      // Real workloads whose certificates the same CA issued (the reference data plane stands in for the vendor's mesh).
      const s = await scenario(e2eScenario('strict-and-permissive'));
      const identities = new Map<string, WorkloadTls>(
        s.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]),
      );
      const env = await createLocalBackend().start({
        runId: 'user-ca',
        scenario: s,
        meshMode: 'sidecar',
        dataPlane: resolveDataPlane('reference'),
        echoArgv: echoArgv(),
        identities,
        appTls: pki.appIdentity(),
        readyTimeoutMs: 15_000,
      });
      try {
        const own = pki.probeMaterial();
        const session = await openAgentSession(
          localAgentStream(),
          { timeoutMs: 3000, concurrency: 8, material: { meshCaPem: issued.meshCaPem!, appCaPem: own.appCaPem, clients: { ...issued.clients, foreignCa: own.clients.foreignCa } } },
          'agent with the user CA',
        );
        const exps = expectations(s, 'sidecar').filter((e) => e.workload === 'foo/finance' && e.port === 8080);
        const obs = await session.probe(
          exps.map((e) => ({
            key: e.key,
            scenario: s.name,
            meshMode: 'sidecar',
            workload: e.workload,
            port: e.port,
            protocol: e.protocol,
            client: e.client,
            address: env.targets.get(e.workload)!.address,
            targetPort: e.port,
            expectedServerIdentity: identities.get(e.workload)!.spiffeId,
          })),
        );
        await session.close();
        for (const e of exps) expect(observedOutcome(obs.get(e.key)!), e.client).to.equal(e.outcome);
        expect(exps.map((e) => e.client)).to.include.members(['mtls-tcp', 'mtls-expired', 'mtls-other-trust-domain']);
      } finally {
        await env.stop();
      }
    } finally {
      await dir.remove();
    }
  });

  it('refuses a folder without the four files, a key that does not match, or a non-RSA key, naming the problem', async () => {
    const d = mkdtempSync(join(tmpdir(), 'mc-bad-ca-'));
    try {
      let err = await loadUserCa(d).catch((e: Error) => e);
      expect((err as Error).message).to.match(/cannot read ca-cert\.pem \(ENOENT\); the folder must hold ca-cert\.pem, ca-key\.pem, root-cert\.pem, cert-chain\.pem/);
      const a = createMeshPki({ trustDomain: 'cluster.local' });
      const b = createMeshPki({ trustDomain: 'cluster.local' });
      const da = await createPrivateDir('mc-ca-a-');
      const db = await createPrivateDir('mc-ca-b-');
      try {
        await a.writeCaFiles(da);
        await b.writeCaFiles(db);
        for (const f of ['ca-cert.pem', 'root-cert.pem', 'cert-chain.pem']) writeFileSync(join(d, f), a.meshCaPem);
        writeFileSync(join(d, 'ca-key.pem'), readFileSync(join(db.path, 'ca-key.pem')));
        err = await loadUserCa(d).catch((e: Error) => e);
        expect((err as Error).message).to.match(/ca-cert\.pem is not a CA certificate matching ca-key\.pem/);
        writeFileSync(join(d, 'ca-key.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
        err = await loadUserCa(d).catch((e: Error) => e);
        expect((err as Error).message).to.match(/the CA key is ec; only RSA CA keys are supported/);
      } finally {
        await da.remove();
        await db.remove();
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
