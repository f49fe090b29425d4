import { expect } from 'chai';
import { execa } from 'execa';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import type { RunResult } from '../../../src/model/index.js';
import { seededRandom } from '../../../src/util/seeded-random.js';
import { requireCapability } from '../../support/require.js';
import { bin, dockerOrUndefined, labelled, leftInTmp, removeTempDirs, root, tempDir, until } from './support.js';

const ENGINE = 'a Docker engine (DOCKER_HOST)';

/** Local ports of this host's established TCP connections to any of `ips` (IPv4, from /proc/net/tcp). */
function establishedTo(ips: ReadonlySet<string>): string[] {
  const found: string[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (!local || !remote || state !== '01') continue;
    const hex = remote.split(':')[0]!;
    const ip = [3, 2, 1, 0].map((k) => parseInt(hex.slice(k * 2, k * 2 + 2), 16)).join('.');
    if (ips.has(ip)) found.push(local);
  }
  return found;
}
const PREVIOUS = '20200101T000000Z-abcdef';

/** Ports of the scenario: readiness opens one connection to each before the first probe. */
const PORTS = 36;

/**
 * Three workloads with 12 ports each (324 cells): probed one at a time, the probing window lasts long enough on a
 * loaded machine for a signal sent just after the first probes were seen to land inside it.
 */
function wideScenario(): string {
  const dir = tempDir('mc-docker-int-scn-');
  const ports = Array.from({ length: PORTS / 3 }, (_, i) => 8000 + i).join(', ');
  const file = join(dir, 'wide-probing.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: meshconform.dev/v1alpha1',
      'kind: Scenario',
      'metadata: { name: wide-probing, labels: { feature: interrupts } }',
      'spec:',
      '  workloads:',
      ...['a', 'b', 'c'].map((n) => `    - { name: ${n}, namespace: foo, labels: { app: ${n}, tier: web }, ports: [${ports}] }`),
      '  policies:',
      '    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: default, namespace: foo }, spec: { selector: { matchLabels: { tier: web } }, mtls: { mode: STRICT }, portLevelMtls: { 8001: { mode: PERMISSIVE } } } }',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * SIGINT/SIGTERM at random moments while a docker run probes (issue: probing went on while our own teardown reset
 * connections, deny cells "passed" on those resets, and the report replaced latest). One scenario, one probe at a time,
 * so an interrupt in the probing window leaves cells probed and cells never probed.
 */
describe('docker backend: interrupts at random moments during probing judge nothing', function () {
  this.timeout(600_000);
  let docker: Dockerode | undefined;
  before(async () => {
    docker = await dockerOrUndefined();
  });
  after(removeTempDirs);

  const seed = 20261206;
  const random = seededRandom(seed);
  // The signal goes a random 0–200 ms after more distinct connections than ports were seen (readiness opens one a
  // port, then each probe one), or 3 s after the containers ran if the looks missed them: inside the probing window.
  const trials = Array.from({ length: 10 }, (_, i) => ({ signal: (i % 2 === 0 ? 'SIGINT' : 'SIGTERM') as NodeJS.Signals, delayMs: random.int(0, 200) }));

  it(`a bounded number of trials (seed ${seed}): nothing left, no pass judged after the interrupt, latest unchanged`, async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    let midProbing = 0;
    const seen: string[] = [];
    const scenario = wideScenario();
    for (const [i, t] of trials.entries()) {
      // Enough trials once one landed mid-probing; the rest only add cost.
      if (i >= 3 && midProbing > 0) break;
      const out = tempDir('mc-docker-int-out-');
      const tmp = tempDir('mc-docker-int-tmp-');
      // A previous run's latest, which an interrupted run must not replace.
      mkdirSync(join(out, PREVIOUS));
      writeFileSync(join(out, PREVIOUS, 'report.json'), '{}');
      symlinkSync(PREVIOUS, join(out, 'latest'));
      const child = execa(process.execPath, [bin, 'run', scenario, '--backend', 'docker', '--out', out, '--retries', '0', '--concurrency', '1', '--parallel', '1'], {
        cwd: root,
        env: { TMPDIR: tmp, NO_COLOR: '1' },
        reject: false,
      });
      let text = '';
      child.stdout!.on('data', (b: Buffer) => (text += String(b)));
      expect(await until(async () => /meshconform: run \S+:/.test(text), 120_000), `no run line: ${text}`).to.equal(true);
      const runId = /meshconform: run (\S+):/.exec(text)![1]!;
      // Probing starts once the containers run and their data planes accept: then a random moment in the window.
      expect(
        await until(async () => {
          const cs = await docker!.listContainers({ all: true, filters: JSON.stringify({ label: [`meshconform.run=${runId}`] }) });
          return cs.length > 0 && cs.every((c) => c.State === 'running');
        }, 120_000),
        'containers never ran',
      ).to.equal(true);
      // Readiness opens one connection per port; several more distinct connections mean the probes have begun.
      const ips = new Set<string>();
      for (const c of await docker!.listContainers({ filters: JSON.stringify({ label: [`meshconform.run=${runId}`] }) })) {
        for (const n of Object.values(c.NetworkSettings?.Networks ?? {})) if (n.IPAddress) ips.add(n.IPAddress);
      }
      const connections = new Set<string>();
      const ran = Date.now();
      while (connections.size <= PORTS && Date.now() - ran < 3000 && child.exitCode === null) {
        for (const l of establishedTo(ips)) connections.add(l);
        await new Promise((r) => setImmediate(r));
      }
      const waited = Date.now() - ran;
      await new Promise((r) => setTimeout(r, t.delayMs));
      child.kill(t.signal);
      const r = await child;
      const label = `#${i} ${t.signal} ${t.delayMs} ms after ${connections.size} connections seen (${waited} ms after the containers ran)`;
      expect([t.signal === 'SIGINT' ? 130 : 143, 0], `${label}: exit ${r.exitCode} ${r.stderr}`).to.include(r.exitCode);
      expect(await labelled(docker!, runId), `${label}: docker resources left`).to.deep.equal({ containers: [], networks: [] });
      expect(leftInTmp(tmp), `${label}: temp files left`).to.deep.equal([]);
      expect(
        readdirSync(out).filter((n) => n.startsWith('.')),
        `${label}: hidden files left`,
      ).to.deep.equal([]);
      if (r.exitCode === 0) {
        seen.push(`${label}: finished first`);
        continue;
      }
      expect(readlinkSync(join(out, 'latest')), `${label}: latest replaced`).to.equal(PREVIOUS);
      const file = join(out, runId, 'report.json');
      const report = readdirSync(out).includes(runId) ? (JSON.parse(readFileSync(file, 'utf8')) as RunResult) : undefined;
      if (!report) {
        seen.push(`${label}: no report`);
        continue;
      }
      expect(report.interrupted?.signal, `${label}: report not marked interrupted`).to.equal(t.signal);
      const cells = report.scenarios.flatMap((s) => s.cells);
      // The one scenario either finished before the interrupt (all judged) or not (nothing judged): never a mix.
      const judged = cells.filter((c) => c.verdict !== 'error' && c.verdict !== 'skipped');
      if (judged.length > 0) {
        expect(judged.length, `${label}: some cells judged after the interrupt`).to.equal(cells.length);
        seen.push(`${label}: scenario had finished`);
        continue;
      }
      expect(report.summary.passed + report.summary.failed + report.summary.flaky, label).to.equal(0);
      const probed = cells.filter((c) => c.observed !== undefined).length;
      // No probe starts after the interrupt: some cells were never probed.
      if (probed > 0 && probed < cells.length) midProbing++;
      seen.push(`${label}: ${probed} of ${cells.length} cells probed, none judged`);
    }
    expect(midProbing, `no trial landed mid-probing: ${seen.join('; ')}`).to.be.greaterThan(0);
  });
});
