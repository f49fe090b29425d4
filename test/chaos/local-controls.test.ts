import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { createLocalBackend } from '../../src/backend/local/index.js';
import type { Environment } from '../../src/model/index.js';
import { createMeshPki, prepareKeyPairs } from '../../src/pki/index.js';
import { echoArgv, resolveDataPlane } from '../../src/run/data-plane.js';
import { loadScenarioFile } from '../../src/scenario/index.js';
import { tempDir, writeScenario } from './helpers.js';

/** The process's environment variables, as the kernel has them. */
function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
}

describe('local backend chaos controls (real processes)', function () {
  this.timeout(120_000);
  const tmp = tempDir();
  let env: Environment;
  after(async () => {
    await env?.stop();
    tmp.cleanup();
  });

  before(async () => {
    await prepareKeyPairs(5);
    const file = writeScenario(tmp.path, 'controls', {
      workloads: ['    - { name: a, namespace: foo, labels: { app: a }, ports: [8080] }', '    - { name: b, namespace: foo, labels: { app: b }, ports: [8081] }'].join('\n'),
      chaos: '    duration: 1s',
    });
    const scenario = await loadScenarioFile(file);
    const pki = createMeshPki({ trustDomain: 'cluster.local' });
    const identities = new Map(scenario.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]));
    const backend = createLocalBackend();
    expect(backend.chaosCapabilities).to.deep.equal(['data-plane-process', 'workload-tls', 'distribution-pause', 'clock-skew']);
    env = await backend.start({
      runId: 'chaos-controls',
      scenario,
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('reference'),
      echoArgv: echoArgv(),
      identities,
      appTls: pki.appIdentity(),
      readyTimeoutMs: 30_000,
    });
  });

  it('kill, restart with a clock offset, generation and health', async () => {
    const chaos = env.chaos!;
    const before = chaos.dataPlane('foo/a');
    expect(before).to.include({ running: true, generation: 1 });
    await chaos.killDataPlane('foo/a', 'SIGKILL');
    const dead = chaos.dataPlane('foo/a');
    expect(dead.running).to.equal(false);
    expect(() => process.kill(before.pid!, 0)).to.throw();
    expect(env.health(), 'a data plane stopped on purpose is not a health problem').to.deep.equal([]);
    await chaos.startDataPlane('foo/a', { clockOffsetMs: -5000 });
    const back = chaos.dataPlane('foo/a');
    expect(back).to.include({ running: true, generation: 2 });
    expect(back.pid).to.not.equal(before.pid);
    expect(environ(back.pid!)).to.include('MESHCONFORM_CLOCK_OFFSET_MS=-5000');
    await chaos.killDataPlane('foo/a', 'SIGTERM');
    await chaos.startDataPlane('foo/a');
    expect(environ(chaos.dataPlane('foo/a').pid!).some((e) => e.startsWith('MESHCONFORM_CLOCK_OFFSET_MS='))).to.equal(false);
    expect(chaos.dataPlane('foo/a').generation).to.equal(3);
    const started = await chaos.startDataPlane('foo/a').then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(started).to.match(/the data plane of foo\/a is already running/);
  });

  it('a paused workload keeps its config while the others get the update; resuming delivers it', async () => {
    const chaos = env.chaos!;
    // The scenario starts STRICT; the update turns it PERMISSIVE.
    const update = [
      { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' as const, metadata: { name: 'default', namespace: 'foo' }, spec: { mtls: { mode: 'PERMISSIVE' as const } } },
    ];
    const before = await chaos.deliveredPolicies!('foo/a');
    expect(before).to.not.deep.equal(update);
    chaos.pauseDistribution('foo/a', true);
    await env.applyPolicies(update);
    expect(await chaos.deliveredPolicies!('foo/a')).to.deep.equal(before);
    expect(await chaos.deliveredPolicies!('foo/b')).to.deep.equal(update);
    chaos.pauseDistribution('foo/a', false);
    await env.applyPolicies(update);
    expect(await chaos.deliveredPolicies!('foo/a')).to.deep.equal(update);
  });

  it('installs TLS material for one workload only (its own trust bundle file)', async () => {
    const chaos = env.chaos!;
    const pki = createMeshPki({ trustDomain: 'cluster.local' });
    const id = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'a' });
    const pid = chaos.dataPlane('foo/a').pid!;
    const configFile = environ(pid)
      .find((e) => e.startsWith('MESHCONFORM_WORKLOAD_CONFIG='))!
      .split('=')[1]!;
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { tls: { certFile: string; caFile: string } };
    await chaos.installTls('foo/a', { ...id, caPem: `${id.caPem}` });
    expect(readFileSync(config.tls.certFile, 'utf8')).to.equal(id.certPem);
    expect(readFileSync(config.tls.caFile, 'utf8')).to.equal(id.caPem);
    const others = readdirSync(configFile.replace(/\/[^/]+$/, '')).filter((n) => n.endsWith('-ca.pem'));
    expect(others.length, 'one trust bundle per workload').to.equal(2);
  });
});
