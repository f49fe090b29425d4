import { expect } from 'chai';
import { execa } from 'execa';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { createNetnsBackend, reapNetns } from '../../../src/backend/netns/index.js';
import { createMeshPki, type MeshPki } from '../../../src/pki/index.js';
import { loadScenarios } from '../../../src/scenario/index.js';
import { echoArgv, resolveDataPlane } from '../../../src/run/data-plane.js';
import { tcpAccepts } from '../../../src/util/net.js';
import type { Environment, EnvironmentOptions, WorkloadTls } from '../../../src/model/index.js';
import { requireCapability } from '../../support/require.js';
import {
  NETNS,
  NOTHING,
  cli,
  cliInBackground,
  e2eScenario,
  hostInterfaces,
  leftovers,
  namespacesOf,
  netnsAvailable,
  processesWith,
  removeTempDirs,
  report,
  root,
  testRangeRoutes,
  until,
} from './support.js';

describe('netns backend (real network namespaces)', function () {
  this.timeout(120_000);
  let available = false;
  let routesBefore: string[] = [];

  before(async () => {
    available = await netnsAvailable();
    if (available) routesBefore = await testRangeRoutes();
  });
  after(removeTempDirs);

  it('runs the core scenarios end to end in namespaces: every cell passes, nothing is left', async function () {
    requireCapability(this, available, NETNS);
    const c = await cli(['run', join(root, 'scenarios/core'), e2eScenario('strict-and-permissive'), '--backend', 'netns']);
    expect(c.exitCode, c.stderr + c.stdout.slice(-2000)).to.equal(0);
    expect(c.stderr).to.equal('');
    const r = report(c);
    expect(r.environment.backend).to.equal('netns');
    expect(r.summary.cells).to.be.greaterThan(150);
    expect(r.summary).to.deep.include({ failed: 0, errors: 0, skipped: 0, passed: r.summary.cells });
    const cells = r.scenarios.flatMap((s) => s.cells);
    const strictMtls = cells.find((x) => x.scenario === 'strict-and-permissive' && x.workload === 'foo/finance' && x.port === 8080 && x.client === 'mtls-tcp')!;
    expect(strictMtls.observed?.status).to.equal('allowed');
    expect(strictMtls.observed?.tls?.serverIdentity).to.equal('spiffe://cluster.local/ns/foo/sa/finance');
    // The echo app answered TLS itself: the bytes went through the data plane in the namespace to the app behind it.
    const passthrough = cells.find((x) => x.scenario === 'strict-and-permissive' && x.workload === 'bar/web' && x.client === 'tls-no-client-cert')!;
    expect(passthrough.observed).to.deep.include({ status: 'allowed', path: 'passthrough' });
    expect(await leftovers(r.runId, c.tmp)).to.deep.equal(NOTHING);
    expect(await testRangeRoutes()).to.deep.equal(routesBefore);
  });

  for (const [signal, twice] of [
    ['SIGTERM', false],
    ['SIGINT', false],
    ['SIGINT', true],
  ] as const) {
    it(`${signal}${twice ? ' twice (forced exit)' : ''} mid-run removes every namespace, host interface, process and temp file of the run`, async function () {
      requireCapability(this, available, NETNS);
      const run = cliInBackground(['run', join(root, 'scenarios'), '--backend', 'netns']);
      const runId = await run.runId;
      expect(await until(async () => (await namespacesOf(runId)).length > 2, 60_000), 'no namespace appeared').to.equal(true);
      run.child.kill(signal);
      if (twice) {
        await new Promise((r) => setTimeout(r, 20));
        run.child.kill(signal);
      }
      const r = await run.child;
      expect(r.exitCode).to.equal(signal === 'SIGTERM' ? 143 : 130);
      expect(r.stderr).not.to.match(/\n\s+at /);
      expect(await leftovers(runId, run.tmp)).to.deep.equal(NOTHING);
      expect(await testRangeRoutes()).to.deep.equal(routesBefore);
    });
  }

  it('reap keeps a live run, and removes what a killed run left (namespaces, interfaces, orphaned processes)', async function () {
    requireCapability(this, available, NETNS);
    // A data plane that never becomes ready keeps the environment up (for the ready timeout), so the live run
    // certainly has namespaces while `reap` looks at it.
    const neverReady = 'exec:node -e setInterval(()=>{},1000)';
    const run = cliInBackground(['run', e2eScenario('strict-and-permissive'), '--backend', 'netns', '--data-plane', neverReady, '--ready-timeout', '120000']);
    const runId = await run.runId;
    expect(await until(async () => (await namespacesOf(runId)).length === 3 && processesWith(run.tmp).length >= 5, 60_000)).to.equal(true);
    const live = await reapNetns({ runId });
    expect(live.runs).to.deep.equal([]);
    expect(live.kept).to.have.length(1);
    expect(live.kept[0]!.why).to.match(/^its process \d+ is still running \(use --all to remove it anyway\)$/);
    expect(await namespacesOf(runId)).to.have.length(3);
    // A crash: no clean-up code runs at all; the data planes and echo apps live on inside the namespaces.
    run.child.kill('SIGKILL');
    await run.child;
    expect(await namespacesOf(runId)).to.have.length(3);
    expect(await hostInterfaces(runId)).to.have.length(1);
    expect(processesWith(run.tmp).length, 'orphaned processes inside the namespaces').to.be.greaterThan(0);
    const c = await cli(['reap', '--backend', 'netns']);
    expect(c.exitCode, c.stderr).to.equal(0);
    // The run's recorded process groups go first (host:), whatever else is still inside a namespace then (netns:).
    expect(c.stdout).to.match(/host: reaped \d+ run\(s\): [1-9]\d* process group\(s\)/);
    expect(c.stdout).to.match(/netns: reaped \d+ run\(s\): \d+ namespace\(s\), \d+ host interface\(s\), \d+ process\(es\) killed/);
    expect(c.stdout).to.contain(`namespace meshconform-${runId}-`);
    const left = await leftovers(runId, run.tmp);
    // Its key folder too: the run recorded it (run-state file), and reap removes it, keys first.
    expect(left).to.deep.equal(NOTHING);
    expect(await testRangeRoutes()).to.deep.equal(routesBefore);
    expect(await reapNetns({ runId })).to.deep.include({ runs: [], kept: [], namespaces: [] });
  });

  it('chaos scenarios run on it: packet loss and a distribution pause land (canaries ok), invariants hold, nothing left', async function () {
    requireCapability(this, available, NETNS);
    const c = await cli(['run', join(root, 'scenarios/chaos/packet-loss.yaml'), join(root, 'scenarios/chaos/distribution-pause.yaml'), '--backend', 'netns', '--reporter', 'json']);
    expect(c.exitCode, c.stderr + c.stdout.slice(-2000)).to.equal(0);
    const r = report(c);
    expect(r.summary).to.deep.include({ failed: 0, errors: 0, skipped: 0 });
    const faults = r.scenarios.flatMap((s) => s.timeline?.faults ?? []);
    expect(faults.map((f) => f.kind).sort()).to.deep.equal(['distribution-pause', 'packet-loss']);
    for (const f of faults) expect(f.canary, `${f.name}: ${JSON.stringify(f.canary)}`).to.include({ ok: true });
    expect(r.scenarios.every((s) => s.timeline !== undefined)).to.equal(true);
    for (const s of r.scenarios) for (const inv of s.timeline?.invariants ?? []) expect(inv.ok, `${s.name} ${inv.name}`).to.equal(true);
    expect(await leftovers(r.runId, c.tmp)).to.deep.equal(NOTHING);
  });

  it('a data plane that dies at start: exit 2 with its stderr, nothing left', async function () {
    requireCapability(this, available, NETNS);
    const c = await cli([
      'run',
      e2eScenario('strict-and-permissive'),
      '--backend',
      'netns',
      '--data-plane',
      "exec:node -e console.error('fatal:_no_listener_config');process.exit(7)",
    ]);
    expect(c.exitCode).to.equal(2);
    expect(c.stderr).to.match(/data plane of \S+ exited at start \(exit code 7\): .*fatal:_no_listener_config/);
    expect(c.stderr).not.to.match(/\n\s+at /);
    const runId = /run (\S+):/.exec(c.stdout)![1]!;
    expect(await leftovers(runId, c.tmp)).to.deep.equal(NOTHING);
  });

  it('not root: exit 2 saying what to do, before anything is created', async function () {
    requireCapability(this, available, NETNS);
    // A real unprivileged user (nobody) where it can read this checkout; otherwise root with geteuid() answering 65534.
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const readable = await execa(
      nobody[0]!,
      [...nobody.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(join(root, 'node_modules/tsx/package.json'))})`],
      { reject: false },
    );
    const as = readable.exitCode === 0 ? { prefix: nobody } : { nodeArgs: ['--import', 'data:text/javascript,process.geteuid=()=>65534'] };
    const c = await cli(['run', e2eScenario('strict-and-permissive'), '--backend', 'netns'], as);
    expect(c.exitCode, c.stderr).to.equal(2);
    expect(c.stderr).to.match(/^meshconform: --backend netns needs root: .*Run meshconform as root.*or use --backend local/);
    expect(c.stderr).not.to.match(/\n\s+at /);
    const reap = await cli(['reap', '--backend', 'netns'], as);
    expect(reap.exitCode).to.equal(2);
    expect(reap.stderr).to.match(/reap --backend netns needs root/);
  });

  it('no ip command: exit 2 saying what to install', async () => {
    const c = await cli(['run', e2eScenario('strict-and-permissive'), '--backend', 'netns'], { env: { PATH: '/nonexistent' } });
    expect(c.exitCode).to.equal(2);
    // As root the missing `ip` is the problem; as another user, root comes first.
    expect(c.stderr).to.match(process.geteuid?.() === 0 ? /needs the `ip` command of iproute2 on PATH: install it \(apt-get install iproute2\)/ : /needs root/);
    expect(c.stderr).not.to.match(/\n\s+at /);
  });

  it('--workloads-per-process 2 is refused before anything is created (one data plane per namespace)', async function () {
    requireCapability(this, available, NETNS);
    const [scenario] = await loadScenarios([e2eScenario('strict-and-permissive')]);
    const runId = `test-wpp-${Date.now()}`;
    const start = createNetnsBackend().start({
      runId,
      scenario: scenario!,
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('reference', 2),
      echoArgv: echoArgv(),
      identities: new Map(),
      appTls: { certPem: '', keyPem: '' },
      readyTimeoutMs: 1000,
    });
    await expectRejection(start, /scenario strict-and-permissive: --workloads-per-process 2 is not supported on the netns backend/);
    expect(await namespacesOf(runId)).to.deep.equal([]);
  });

  it('environments started at the same time get different /24s, even when the random pick agrees', async function () {
    requireCapability(this, available, NETNS);
    const [scenario] = await loadScenarios([e2eScenario('port-level-disable')]);
    const pki = createMeshPki({ trustDomain: scenario!.trustDomain });
    const runId = `test-par-${Date.now()}`;
    const backend = createNetnsBackend({ random: () => 0 });
    const start = () =>
      backend.start({
        runId,
        scenario: scenario!,
        meshMode: 'sidecar',
        dataPlane: resolveDataPlane('reference'),
        echoArgv: echoArgv(),
        identities: new Map(scenario!.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })])),
        appTls: pki.appIdentity(),
        readyTimeoutMs: 30_000,
      });
    const envs = await Promise.allSettled([start(), start(), start()]);
    try {
      expect(envs.map((e) => e.status)).to.deep.equal(['fulfilled', 'fulfilled', 'fulfilled']);
      const nets = envs.map((e) => [...(e as PromiseFulfilledResult<Environment>).value.targets.values()][0]!.address.split('.').slice(0, 3).join('.'));
      expect(new Set(nets).size, nets.join(' ')).to.equal(3);
      expect(await hostInterfaces(runId)).to.have.length(3);
    } finally {
      for (const e of envs) if (e.status === 'fulfilled') await e.value.stop();
    }
    expect(await namespacesOf(runId)).to.deep.equal([]);
    expect(await hostInterfaces(runId)).to.deep.equal([]);
  });

  it('an aborted start removes what it created and rejects', async function () {
    requireCapability(this, available, NETNS);
    const [scenario] = await loadScenarios([e2eScenario('strict-and-permissive')]);
    const pki = createMeshPki({ trustDomain: scenario!.trustDomain });
    const runId = `test-abort-${Date.now()}`;
    const abort = new AbortController();
    const start = createNetnsBackend().start({
      runId,
      scenario: scenario!,
      meshMode: 'sidecar',
      // Never ready: the start is certainly in its ready wait when aborted.
      dataPlane: resolveDataPlane('exec:node -e setInterval(()=>{},1000)'),
      echoArgv: echoArgv(),
      identities: new Map(scenario!.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })])),
      appTls: pki.appIdentity(),
      readyTimeoutMs: 60_000,
      signal: abort.signal,
    });
    start.catch(() => {});
    expect(await until(async () => (await namespacesOf(runId)).length === 3, 30_000)).to.equal(true);
    abort.abort();
    await expectRejection(start, /scenario strict-and-permissive: start interrupted/);
    expect(await namespacesOf(runId)).to.deep.equal([]);
    expect(await hostInterfaces(runId)).to.deep.equal([]);
  });

  describe('one environment in process', () => {
    let pki: MeshPki;
    let env: Environment | undefined;
    let runId = '';
    let options: EnvironmentOptions;

    before(async function () {
      if (!available) return;
      const [scenario] = await loadScenarios([e2eScenario('strict-and-permissive')]);
      pki = createMeshPki({ trustDomain: scenario!.trustDomain });
      runId = `test-${Date.now()}`;
      options = {
        runId,
        scenario: scenario!,
        meshMode: 'sidecar',
        dataPlane: resolveDataPlane('reference'),
        echoArgv: echoArgv(),
        identities: new Map(scenario!.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })])),
        appTls: pki.appIdentity(),
        readyTimeoutMs: 30_000,
      };
    });

    beforeEach(async function () {
      requireCapability(this, available, NETNS);
      // An inherited clock offset must not reach the data plane: only the clock-skew fault sets one.
      process.env.MESHCONFORM_CLOCK_OFFSET_MS = '999';
      try {
        env = await createNetnsBackend().start(options);
      } finally {
        delete process.env.MESHCONFORM_CLOCK_OFFSET_MS;
      }
    });

    afterEach(async () => {
      if (!env) return;
      await env.stop();
      await env.stop(); // idempotent
      env = undefined;
      expect(await namespacesOf(runId)).to.deep.equal([]);
      expect(await hostInterfaces(runId)).to.deep.equal([]);
      expect(await testRangeRoutes()).to.deep.equal(routesBefore);
    });

    it('workloads get their own addresses in 198.18.0.0/15, reachable from the host; the app is not', async () => {
      const finance = env!.targets.get('foo/finance')!;
      const web = env!.targets.get('bar/web')!;
      expect(finance.address).to.match(/^198\.(18|19)\.\d+\.\d+$/);
      expect(finance.address.split('.').slice(0, 3)).to.deep.equal(web.address.split('.').slice(0, 3));
      expect(finance.address).not.to.equal(web.address);
      expect(finance.address).not.to.match(/^198\.19\.255\./);
      const names = await namespacesOf(runId);
      expect(names.map((n) => n.slice(n.lastIndexOf('-') + 1)).sort()).to.deep.equal(['hub', 'w0', 'w1']);
      expect(
        names.every((n) => n.includes(`-p${process.pid}-`)),
        'owner pid in every name',
      ).to.equal(true);
      // Only the data plane listens on the workload address: the echo app's ports there refuse.
      expect(await tcpAccepts(finance.address, 61000, 500)).to.equal(false);
      expect(env!.chaos!.capabilities).to.include.members(['data-plane-process', 'workload-tls', 'distribution-pause', 'packet-loss', 'clock-skew']);
      // Known up front (the chaos stage refuses a scenario before anything starts) and what environments then have.
      expect(createNetnsBackend().chaosCapabilities).to.deep.equal(env!.chaos!.capabilities);
    });

    it('kill and start: the port refuses while dead, the generation counts restarts, health stays clean for a deliberate kill', async () => {
      const chaos = env!.chaos!;
      const finance = env!.targets.get('foo/finance')!;
      const first = chaos.dataPlane('foo/finance');
      expect(first).to.include({ running: true, generation: 1 });
      expect(first.pid).to.be.a('number');
      const firstEnv = environOf(first.pid!);
      expect(firstEnv).not.to.have.property('MESHCONFORM_CLOCK_OFFSET_MS');
      expect(firstEnv.MESHCONFORM_WORKLOAD_CONFIG).to.match(/\.json$/);
      await chaos.killDataPlane('foo/finance', 'SIGKILL');
      expect(chaos.dataPlane('foo/finance')).to.deep.equal({ pid: undefined, running: false, generation: 1 });
      expect(await tcpAccepts(finance.address, 8080, 1000), 'a dead data plane still accepts').to.equal(false);
      expect(env!.health()).to.deep.equal([]);
      await expectRejection(chaos.killDataPlane('foo/finance', 'SIGTERM'), /data plane of foo\/finance is not running/);
      // The other workload is untouched.
      expect(chaos.dataPlane('bar/web')).to.include({ running: true, generation: 1 });

      await chaos.startDataPlane('foo/finance', { clockOffsetMs: -12345 });
      const second = chaos.dataPlane('foo/finance');
      expect(second).to.include({ running: true, generation: 2 });
      expect(second.pid).not.to.equal(first.pid);
      expect(environOf(second.pid!)).to.include({ MESHCONFORM_CLOCK_OFFSET_MS: '-12345' });
      expect(environOf(second.pid!).MESHCONFORM_WORKLOAD_CONFIG, 'restarted with the same config').to.equal(firstEnv.MESHCONFORM_WORKLOAD_CONFIG);
      expect(await tcpAccepts(finance.address, 8080)).to.equal(true);
      expect(await tcpAccepts(finance.address, 9090)).to.equal(true);
      expect(await plaintextEcho(finance.address, 8080), 'STRICT after restart').to.equal(false);
      await expectRejection(chaos.startDataPlane('foo/finance'), /already running/);

      // Graceful stop: SIGTERM, then a start without an offset has none.
      await chaos.killDataPlane('foo/finance', 'SIGTERM');
      expect(chaos.dataPlane('foo/finance').running).to.equal(false);
      await chaos.startDataPlane('foo/finance');
      expect(chaos.dataPlane('foo/finance').generation).to.equal(3);
      expect(environOf(chaos.dataPlane('foo/finance').pid!)).not.to.have.property('MESHCONFORM_CLOCK_OFFSET_MS');

      // A crash the harness did not ask for is a health problem.
      process.kill(chaos.dataPlane('bar/web').pid!, 'SIGKILL');
      expect(await until(() => env!.health().length > 0, 10_000)).to.equal(true);
      expect(env!.health()).to.have.length(1);
      expect(env!.health()[0]).to.match(/^data plane of bar\/web exited \(signal SIGKILL\)/);
      expect(chaos.dataPlane('bar/web').running).to.equal(false);
      await chaos.startDataPlane('bar/web');
      expect(env!.health()).to.deep.equal([]);
    });

    it('installTls: the data plane serves the new certificate after the SIGHUP', async () => {
      const finance = env!.targets.get('foo/finance')!;
      const before = await servedCertificate(finance.address, 8080, pki);
      expect(before.subjectAltName).to.contain('spiffe://cluster.local/ns/foo/sa/finance');
      const notAfter = Date.now() + 3 * 24 * 3_600_000;
      const next = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance' }, { notAfter });
      expect(new X509Certificate(next.certPem).fingerprint256).not.to.equal(before.fingerprint256);
      await env!.chaos!.installTls('foo/finance', next);
      const served = await until(async () => (await servedCertificate(finance.address, 8080, pki)).fingerprint256 === new X509Certificate(next.certPem).fingerprint256, 10_000);
      expect(served, 'new certificate not served').to.equal(true);
      expect(env!.chaos!.dataPlane('foo/finance').generation, 'a reload, not a restart').to.equal(1);
    });

    it('packet loss: an iptables statistic rule inside the workload namespace, removed by the returned function', async () => {
      const chaos = env!.chaos!;
      const finance = env!.targets.get('foo/finance')!;
      const ns = (await namespacesOf(runId)).find((n) => n.endsWith('-w0'))!;
      const rules = async () => (await execa('ip', ['netns', 'exec', ns, 'iptables', '-S', 'INPUT'])).stdout.split('\n').filter((l) => l.startsWith('-A'));
      expect(await rules()).to.deep.equal([]);
      const remove = await chaos.packetLoss!('foo/finance', 100);
      expect(await rules()).to.deep.equal(['-A INPUT -i eth0 -m statistic --mode random --probability 1.00000000000 -m comment --comment "meshconform packet-loss 100%" -j DROP']);
      // Every SYN is dropped: nothing connects; the other workload is unaffected.
      expect(await tcpAccepts(finance.address, 8080, 500)).to.equal(false);
      expect(await tcpAccepts(env!.targets.get('bar/web')!.address, 8080, 2000)).to.equal(true);
      await remove();
      await remove(); // idempotent
      expect(await rules()).to.deep.equal([]);
      expect(await tcpAccepts(finance.address, 8080, 5000)).to.equal(true);
      const partial = await chaos.packetLoss!('foo/finance', 12.5);
      expect(await rules()).to.have.length(1);
      expect((await rules())[0]).to.contain('--probability 0.12500000000');
      await partial();
      expect(await rules()).to.deep.equal([]);
      await expectRejection(chaos.packetLoss!('foo/finance', 0), /0 % is not in \(0, 100\]/);
      await expectRejection(chaos.packetLoss!('foo/finance', 150), /150 % is not in \(0, 100\]/);
    });

    it('pauseDistribution: a paused workload keeps its policies; resumed, the next change reaches it', async () => {
      const chaos = env!.chaos!;
      const finance = env!.targets.get('foo/finance')!;
      const disable = [
        { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'foo' }, spec: { mtls: { mode: 'DISABLE' } } },
      ] as const;
      const strict = await chaos.deliveredPolicies!('foo/finance');
      expect(strict.map((p) => p.spec?.mtls?.mode)).to.deep.equal(['STRICT']);
      chaos.pauseDistribution('foo/finance', true);
      await env!.applyPolicies(structuredClone(disable) as never);
      // Read back from the file the data plane reads: withheld from the paused workload, delivered to the other.
      expect(await chaos.deliveredPolicies!('foo/finance')).to.deep.equal(strict);
      expect(await chaos.deliveredPolicies!('bar/web')).to.deep.equal(disable);
      // Give a reload every chance to happen, then require STRICT still enforced.
      await new Promise((r) => setTimeout(r, 500));
      expect(await plaintextEcho(finance.address, 8080), 'paused workload took the new policy').to.equal(false);
      chaos.pauseDistribution('foo/finance', false);
      await env!.applyPolicies(structuredClone(disable) as never);
      expect(await chaos.deliveredPolicies!('foo/finance')).to.deep.equal(disable);
      expect(await until(() => plaintextEcho(finance.address, 8080), 10_000), 'resumed workload did not take the new policy').to.equal(true);
    });

    it('bad chaos input is rejected naming the workload', async () => {
      const chaos = env!.chaos!;
      expect(() => chaos.dataPlane('nope/missing')).to.throw(/no workload nope\/missing in this environment/);
      await expectRejection(chaos.killDataPlane('nope/missing', 'SIGKILL'), /no workload nope\/missing/);
      await expectRejection(chaos.startDataPlane('bar/web', { clockOffsetMs: 1.5 }), /clock offset 1\.5 for bar\/web is not a whole number/);
      await env!.stop();
      await expectRejection(chaos.killDataPlane('bar/web', 'SIGKILL'), /the environment is stopped/);
      await expectRejection(env!.applyPolicies([]), /the environment is stopped/);
    });
  });
});

async function expectRejection(p: Promise<unknown>, message: RegExp): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (err) {
    error = err;
  }
  expect(error, `expected a rejection matching ${message}`).to.be.instanceOf(Error);
  expect((error as Error).message).to.match(message);
}

function environOf(pid: number): Record<string, string> {
  const text = readFileSync(`/proc/${pid}/environ`, 'latin1');
  return Object.fromEntries(
    text
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** The certificate the data plane presents on host:port to a mesh client. */
function servedCertificate(host: string, port: number, pki: MeshPki): Promise<X509Certificate> {
  const client: WorkloadTls = pki.probeMaterial().clients.mesh;
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host, port, ca: client.caPem, cert: client.certPem, key: client.keyPem, ALPNProtocols: ['istio-peer-exchange', 'istio'], rejectUnauthorized: false, servername: 'x' },
      () => {
        const raw = s.getPeerCertificate().raw;
        s.destroy();
        resolve(new X509Certificate(raw));
      },
    );
    s.setTimeout(5000, () => (s.destroy(), reject(new Error(`no TLS handshake with ${host}:${port}`))));
    s.on('error', reject);
  });
}

/** True when a plaintext line gets the echo app's reply (the port does not enforce mTLS). */
function plaintextEcho(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    let data = '';
    const done = (v: boolean) => (s.destroy(), resolve(v));
    s.setTimeout(2000, () => done(false));
    s.on('connect', () => s.write('MESHCONFORM-PROBE test\n'));
    s.on('data', (b) => {
      data += String(b);
      if (data.includes('\n')) done(data.startsWith('MESHCONFORM-ECHO '));
    });
    s.on('error', () => done(false));
    s.on('end', () => done(data.startsWith('MESHCONFORM-ECHO ')));
  });
}
