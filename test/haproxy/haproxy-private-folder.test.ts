import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLocalBackend } from '../../src/backend/local/index.js';
import type { Environment } from '../../src/model/index.js';
import { createMeshPki, prepareKeyPairs } from '../../src/pki/index.js';
import { echoArgv, resolveDataPlane } from '../../src/run/data-plane.js';
import { loadScenarioFile } from '../../src/scenario/index.js';
import { requireCapability } from '../support/require.js';

const HAPROXY = 'haproxy (Debian: apt-get install haproxy)';

/** The haproxy processes whose parent is `pid`, with their argv. */
function haproxyChildren(pid: number): string[][] {
  const found: string[][] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0]?.endsWith('haproxy')) found.push(argv);
    } catch {
      // gone
    }
  }
  return found;
}

describe('haproxy data plane: its keys live in the harness-owned MESHCONFORM_TMPDIR', function () {
  this.timeout(120_000);
  let available = false;
  const dir = mkdtempSync(join(tmpdir(), 'mc-haproxy-tmpdir-'));
  let env: Environment | undefined;

  before(async () => {
    available = (await execa('haproxy', ['-v'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
    await prepareKeyPairs(3);
  });
  after(async () => {
    await env?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a SIGKILLed launcher (chaos) leaves no certificate or key behind once the environment stops', async function () {
    requireCapability(this, available, HAPROXY);
    const file = join(dir, 'haproxy-tmpdir.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: meshconform.dev/v1alpha1',
        'kind: Scenario',
        'metadata: { name: haproxy-tmpdir, labels: { feature: reliability } }',
        'spec:',
        '  workloads:',
        '    - { name: a, namespace: foo, labels: { app: a }, ports: [8080] }',
        '  policies:',
        '    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: default, namespace: foo }, spec: { mtls: { mode: STRICT } } }',
        '',
      ].join('\n'),
    );
    const scenario = await loadScenarioFile(file);
    const pki = createMeshPki({ trustDomain: 'cluster.local' });
    const identities = new Map(scenario.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]));
    env = await createLocalBackend({ subnet: '127.249' }).start({
      runId: 'haproxy-tmpdir',
      scenario,
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('haproxy'),
      echoArgv: echoArgv(),
      identities,
      appTls: pki.appIdentity(),
      readyTimeoutMs: 30_000,
    });
    const launcher = env.chaos!.dataPlane('foo/a').pid!;
    const tmpDir = readFileSync(`/proc/${launcher}/environ`, 'latin1')
      .split('\0')
      .find((e) => e.startsWith('MESHCONFORM_TMPDIR='))
      ?.slice('MESHCONFORM_TMPDIR='.length);
    expect(tmpDir, 'the harness gives the data plane MESHCONFORM_TMPDIR').to.be.a('string');
    // haproxy's config (and the certificate-and-key file beside it) are inside that folder.
    const [argv] = haproxyChildren(launcher);
    const cfg = argv![argv!.indexOf('-f') + 1]!;
    expect(cfg.startsWith(`${tmpDir}/`), `${cfg} is inside ${tmpDir}`).to.equal(true);
    const keyFolder = dirname(cfg);
    expect(readdirSync(keyFolder).some((n) => /^server-\d+\.pem$/.test(n))).to.equal(true);

    // A chaos kill: the launcher gets no chance to clean up.
    await env.chaos!.killDataPlane('foo/a', 'SIGKILL');
    await env.stop();
    env = undefined;
    expect(existsSync(keyFolder), `${keyFolder} (certificate and private key) left behind`).to.equal(false);
    expect(existsSync(tmpDir!)).to.equal(false);
  });
});
