import { expect } from 'chai';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type Dockerode from 'dockerode';
import { createDockerBackend, ensureHarnessImage } from '../../../src/backend/docker/index.js';
import { createMeshPki } from '../../../src/pki/index.js';
import { loadScenarios } from '../../../src/scenario/index.js';
import { echoArgv, harnessFile, resolveDataPlane } from '../../../src/run/data-plane.js';
import { tcpAccepts } from '../../../src/util/net.js';
import type { WorkloadTls } from '../../../src/model/index.js';
import { requireCapability } from '../../support/require.js';
import { cli, cliInBackground, dockerOrUndefined, e2eScenario, labelled, leftInTmp, removeTempDirs, report, root, routesAfterCleanup, testRangeRoutes, until } from './support.js';

const ENGINE = 'a Docker engine (DOCKER_HOST)';

describe('docker backend (testcontainers on a real Docker engine)', function () {
  this.timeout(180_000);
  let docker: Dockerode | undefined;
  let routesBefore: string[] = [];

  before(async () => {
    docker = await dockerOrUndefined();
    routesBefore = await testRangeRoutes();
  });
  after(removeTempDirs);

  it('runs real scenarios end to end in containers: every cell passes, nothing labelled is left', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const c = await cli(['run', e2eScenario('strict-and-permissive'), e2eScenario('port-level-disable'), '--backend', 'docker', '--retries', '0']);
    expect(c.exitCode, c.stderr + c.stdout).to.equal(0);
    expect(c.stderr).to.equal('');
    const r = report(c);
    expect(r.environment.backend).to.equal('docker');
    expect(r.summary).to.deep.include({ cells: 45, passed: 45, failed: 0, errors: 0 });
    const cells = r.scenarios.flatMap((s) => s.cells);
    const strictMtls = cells.find((x) => x.workload === 'foo/finance' && x.port === 8080 && x.client === 'mtls-tcp')!;
    expect(strictMtls.observed?.status).to.equal('allowed');
    expect(strictMtls.observed?.tls?.serverIdentity).to.equal('spiffe://cluster.local/ns/foo/sa/finance');
    // The probes went to the containers' own addresses in the test range, not through mapped ports.
    const passthrough = cells.find((x) => x.workload === 'bar/web' && x.client === 'tls-no-client-cert')!;
    expect(passthrough.observed).to.deep.include({ status: 'allowed', path: 'passthrough' });
    expect(await labelled(docker!, r.runId)).to.deep.equal({ containers: [], networks: [] });
    expect(leftInTmp(c.tmp), 'temp files left').to.deep.equal([]);
    const left = await routesAfterCleanup(docker!, routesBefore);
    expect(left.routes, left.diagnosis).to.deep.equal(routesBefore);
  });

  it('the built-in suite passes on the docker backend', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const c = await cli(['run', join(root, 'scenarios'), '--backend', 'docker']);
    expect(c.exitCode, c.stderr + c.stdout.slice(-3000)).to.equal(0);
    const r = report(c);
    expect(r.summary.cells).to.be.greaterThan(500);
    const problems = r.scenarios.flatMap((s) => s.cells.filter((x) => x.verdict !== 'pass' && x.verdict !== 'skipped').map((x) => `${s.name}: ${x.key} ${x.verdict}: ${x.reason}`));
    // A first attempt that observed nothing (a probe timed out on a loaded machine) is not a verdict; every other miss is.
    const flakyOnEvidence = r.scenarios.flatMap((s) => s.cells).filter((x) => x.verdict === 'flaky' && x.firstAttempt?.status !== 'error');
    expect(flakyOnEvidence.length, problems.join('\n')).to.equal(0);
    expect(r.summary, problems.join('\n')).to.deep.include({ failed: 0, errors: 0, passed: r.summary.cells - r.summary.skipped - r.summary.flaky });
    expect(await labelled(docker!, r.runId)).to.deep.equal({ containers: [], networks: [] });
  });

  it('a policy change reaches the data plane in the container (config copied in, SIGHUP), and a dead container shows in health()', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const [scenario] = await loadScenarios([e2eScenario('strict-and-permissive')]);
    const pki = createMeshPki({ trustDomain: scenario!.trustDomain });
    const identities = new Map<string, WorkloadTls>(
      scenario!.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]),
    );
    const backend = createDockerBackend({ harnessDir: harnessFile('') });
    const runId = `test-${Date.now()}`;
    const env = await backend.start({
      runId,
      scenario: scenario!,
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('reference'),
      echoArgv: echoArgv(),
      identities,
      appTls: pki.appIdentity(),
      readyTimeoutMs: 30_000,
    });
    try {
      const finance = env.targets.get('foo/finance')!;
      expect(finance.address).to.match(/^198\.(18|19)\./);
      const plaintextAnswered = () => plaintextEcho(finance.address, 8080);
      expect(await plaintextAnswered(), 'STRICT port answered plaintext').to.equal(false);
      await env.applyPolicies([
        { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'foo' }, spec: { mtls: { mode: 'DISABLE' } } },
      ]);
      expect(await until(plaintextAnswered, 10_000), 'DISABLE not enforced after SIGHUP').to.equal(true);
      // mTLS is now passed through to the app: the server certificate is the app's, not the workload's.
      expect(await serverSpiffe(finance.address, 8080)).to.equal(null);
      expect(env.health()).to.deep.equal([]);
      const [victim] = await docker!.listContainers({ filters: JSON.stringify({ label: [`meshconform.run=${runId}`, 'meshconform.workload=bar/web'] }) });
      await docker!.getContainer(victim!.Id).kill({ signal: 'SIGKILL' });
      expect(await until(async () => env.health().length > 0, 10_000)).to.equal(true);
      expect(env.health()[0]).to.match(/container of bar\/web exited/);
    } finally {
      await env.stop();
      await env.stop(); // idempotent
    }
    expect(await labelled(docker!, runId)).to.deep.equal({ containers: [], networks: [] });
  });

  it('builds the workload image without a registry, and reuses it by content hash', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    // A copy of the harness with one extra file: a content hash no earlier run has built.
    const dir = mkdtempSync(join(tmpdir(), 'mc-harness-copy-'));
    cpSync(harnessFile(''), dir, { recursive: true });
    writeFileSync(join(dir, 'cache-test.txt'), `${Date.now()} ${Math.random()}\n`);
    let ref: string | undefined;
    try {
      const first = await ensureHarnessImage(docker!, dir);
      ref = first.ref;
      expect(first.built).to.equal(true);
      expect(first.ref).to.match(/^meshconform\/node-harness:[0-9a-f]{16}$/);
      const info = await docker!.getImage(first.ref).inspect();
      expect(info.RepoDigests, 'an imported image has no registry digest').to.deep.equal([]);
      expect(info.Config.Labels).to.include({ 'meshconform.image': 'node-harness' });
      const second = await ensureHarnessImage(docker!, dir);
      expect(second).to.deep.include({ ref: first.ref, built: false });
      writeFileSync(join(dir, 'cache-test.txt'), 'changed\n');
      const third = await ensureHarnessImage(docker!, dir);
      expect(third.ref).not.to.equal(first.ref);
      await docker!.getImage(third.ref).remove();
    } finally {
      if (ref)
        await docker!
          .getImage(ref)
          .remove()
          .catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--image that does not exist: exit 2 naming it, nothing pulled or left', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const c = await cli(['run', e2eScenario('strict-and-permissive'), '--backend', 'docker', '--image', 'meshconform/no-such-image:0']);
    expect(c.exitCode).to.equal(2);
    expect(c.stderr).to.match(/--image meshconform\/no-such-image:0: no such image in the Docker engine, and meshconform never pulls/);
    expect(c.stderr).not.to.match(/\n\s+at /);
    const runId = /run (\S+):/.exec(c.stdout)![1]!;
    expect(await labelled(docker!, runId)).to.deep.equal({ containers: [], networks: [] });
  });

  it('--image with a user image: the harness is copied in and the run passes', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    // Stands in for a Node image built where a registry is reachable: a second tag of the built image.
    const built = await ensureHarnessImage(docker!, harnessFile(''));
    const tag = `meshconform-test/user-node:${Date.now()}`;
    await docker!.getImage(built.ref).tag({ repo: tag.split(':')[0]!, tag: tag.split(':')[1]! });
    try {
      const c = await cli(['run', e2eScenario('port-level-disable'), '--backend', 'docker', '--image', tag, '--retries', '0']);
      expect(c.exitCode, c.stderr).to.equal(0);
      expect(report(c).summary).to.deep.include({ cells: 18, passed: 18 });
    } finally {
      await docker!
        .getImage(tag)
        .remove()
        .catch(() => undefined);
    }
  });

  it('a data plane that dies at start: exit 2, one message with the container log, nothing left', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const c = await cli([
      'run',
      e2eScenario('strict-and-permissive'),
      '--backend',
      'docker',
      '--data-plane',
      "exec:node -e console.error('fatal:_no_listener_config');process.exit(7)",
    ]);
    expect(c.exitCode).to.equal(2);
    expect(c.stderr).to.match(/container of \S+ exited at start \(exit code 7\): .*fatal:_no_listener_config/);
    expect(c.stderr).not.to.match(/\n\s+at /);
    const runId = /run (\S+):/.exec(c.stdout)![1]!;
    expect(await labelled(docker!, runId)).to.deep.equal({ containers: [], networks: [] });
  });

  it('a port clash inside a container: exit 2 naming the address in use', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    // A data plane that binds workload port 9090 twice, as a proxy clashing with another listener would.
    const clash =
      "exec:node -e require('net').createServer().listen(9090,()=>require('net').createServer().listen(9090).on('error',e=>{console.error('fatal:',e.message);process.exit(3)}))";
    const c = await cli(['run', e2eScenario('strict-and-permissive'), '--backend', 'docker', '--data-plane', clash]);
    expect(c.exitCode).to.equal(2);
    expect(c.stderr, c.stderr).to.match(/container of foo\/finance exited at start \(exit code 3\).*EADDRINUSE/);
  });

  it('no Docker engine: exit 2 with what to do', async () => {
    const c = await cli(['run', e2eScenario('strict-and-permissive'), '--backend', 'docker'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(c.exitCode).to.equal(2);
    expect(c.stderr).to.match(/no Docker engine is reachable \(DOCKER_HOST=unix:\/\/\/nonexistent\/docker\.sock\).*Start dockerd/);
    expect(c.stderr).not.to.match(/\n\s+at /);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} mid-run removes every container and network of the run`, async function () {
      requireCapability(this, docker !== undefined, ENGINE);
      const run = cliInBackground(['run', join(root, 'scenarios'), '--backend', 'docker']);
      const runId = await run.runId;
      expect(await until(async () => (await labelled(docker!, runId)).containers.length > 0, 60_000), 'no container appeared').to.equal(true);
      run.child.kill(signal);
      const r = await run.child;
      expect(r.exitCode).to.equal(signal === 'SIGTERM' ? 143 : 130);
      expect(await labelled(docker!, runId)).to.deep.equal({ containers: [], networks: [] });
      expect(leftInTmp(run.tmp)).to.deep.equal([]);
      const left = await routesAfterCleanup(docker!, routesBefore);
      expect(left.routes, left.diagnosis).to.deep.equal(routesBefore);
    });
  }

  it('reap keeps a live run, and removes what a killed run left', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    // A data plane that never becomes ready keeps the run's containers up (for the ready timeout), so the live run
    // certainly has resources while `reap` looks at it.
    const neverReady = 'exec:node -e setInterval(()=>{},1000)';
    const run = cliInBackground(['run', e2eScenario('strict-and-permissive'), '--backend', 'docker', '--data-plane', neverReady, '--ready-timeout', '120000']);
    const runId = await run.runId;
    expect(await until(async () => (await labelled(docker!, runId)).containers.length > 0, 60_000)).to.equal(true);
    const live = await cli(['reap', '--run', runId]);
    expect(live.stdout).to.match(new RegExp(`kept run ${runId}: its process \\d+ is still running`));
    expect((await labelled(docker!, runId)).networks).to.have.length.greaterThan(0);
    // A crash: no clean-up code runs at all.
    run.child.kill('SIGKILL');
    await run.child;
    const left = await labelled(docker!, runId);
    expect(left.networks.length, 'the killed run left nothing to reap').to.be.greaterThan(0);
    const c = await cli(['reap']);
    expect(c.exitCode, c.stderr).to.equal(0);
    expect(c.stdout).to.match(/reaped \d+ run\(s\): \d+ container\(s\), \d+ network\(s\)/);
    expect(await labelled(docker!, runId)).to.deep.equal({ containers: [], networks: [] });
    const settled = await routesAfterCleanup(docker!, routesBefore);
    expect(settled.routes, settled.diagnosis).to.deep.equal(routesBefore);
    const again = await cli(['reap']);
    expect(again.stdout).to.match(/nothing to reap/);
  });
});

/** True when a plaintext line gets the echo app's reply (the port does not enforce mTLS). */
function plaintextEcho(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ createConnection }) => {
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
  });
}

/** URI SAN of the server certificate on host:port, or null when it has none (the echo app's own certificate). */
async function serverSpiffe(host: string, port: number): Promise<string | null> {
  if (!(await tcpAccepts(host, port))) throw new Error(`${host}:${port} not accepting`);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, servername: 'x' }, () => {
      const san = s.getPeerCertificate().subjectaltname ?? '';
      s.destroy();
      resolve(/URI:(spiffe:\/\/\S+?)(,|$)/.exec(san)?.[1] ?? null);
    });
    s.on('error', reject);
  });
}
