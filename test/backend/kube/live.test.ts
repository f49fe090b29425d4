// Live tests against a real kind cluster with a real Istio. They run whenever Docker, kind, istioctl and kubectl work
// on the machine (the cluster also pulls Istio's images, so it needs internet) and take minutes; MESHCONFORM_LIVE_CLUSTER=0
// turns them off. Without the tools they skip with the reason printed; MESHCONFORM_REQUIRE_ALL does not force them
// (the CI machines have no kind and no registry).
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../../../src/model/index.js';
import { e2eScenario, hasCommand, root } from './support.js';

const bin = join(root, 'bin/meshconform.js');

async function liveProblem(): Promise<string | undefined> {
  if (process.env.MESHCONFORM_LIVE_CLUSTER === '0') return 'MESHCONFORM_LIVE_CLUSTER=0 turns them off';
  for (const argv of [
    ['kind', 'version'],
    ['istioctl', 'version', '--remote=false'],
    ['kubectl', 'version', '--client'],
    ['docker', 'info'],
  ] as const) {
    if (!(await hasCommand(argv))) return `\`${argv.join(' ')}\` does not run on this machine`;
  }
  return undefined;
}

describe('kind and cluster backends, live (when Docker, kind, istioctl and kubectl are present)', function () {
  this.timeout(45 * 60_000);
  let problem: string | undefined;
  const out = mkdtempSync(join(tmpdir(), 'mc-live-'));
  before(async () => {
    problem = await liveProblem();
    if (problem) process.stdout.write(`      (live cluster tests skipped: ${problem})\n`);
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  const run = (args: string[]) => execa(process.execPath, [bin, ...args, '--out', out], { cwd: root, reject: false, all: true });
  const report = (): RunResult => JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
  const clusters = async () => (await execa('kind', ['get', 'clusters'], { reject: false })).stdout.split('\n').filter((n) => n.startsWith('meshconform-'));

  it("kind, sidecar profile: the e2e scenarios against real Istio with the run's CA; the cluster is deleted after", async function () {
    if (problem) this.skip();
    const before = await clusters();
    const r = await run(['run', e2eScenario('strict-and-permissive'), e2eScenario('port-level-disable'), '--backend', 'kind']);
    expect(r.exitCode, r.all).to.equal(0);
    const rep = report();
    expect(rep.environment.backend).to.equal('kind');
    expect(rep.summary).to.deep.include({ failed: 0, errors: 0 });
    expect(rep.summary.passed).to.be.greaterThan(0);
    expect(await clusters()).to.deep.equal(before);
  });

  it("kind --keep, then --backend cluster on it (identity from the probe pod's sidecar), then reap --kind", async function () {
    if (problem) this.skip();
    const r1 = await run(['run', e2eScenario('port-level-disable'), '--backend', 'kind', '--keep']);
    expect(r1.exitCode, r1.all).to.equal(0);
    const kept = report().environment.details?.['context'];
    expect(kept).to.match(/^kind-meshconform-/);
    // That cluster's Istio has the first run's CA, which is gone: the agent borrows its own sidecar's certificate.
    const r2 = await run(['run', e2eScenario('port-level-disable'), '--backend', 'cluster', '--context', kept!]);
    expect(r2.exitCode, r2.all).to.equal(0);
    const rep = report();
    expect(rep.environment.details?.['identity']).to.equal('sidecar-certs');
    expect(rep.scenarios[0]!.cells.filter((c) => c.client === 'mtls-expired').every((c) => c.verdict === 'skipped')).to.equal(true);
    const left = await execa('kubectl', ['--context', kept!, 'get', 'namespaces', '-l', 'meshconform.run', '-o', 'name'], { reject: false });
    expect(left.stdout.split('\n').filter((l) => l && !l.endsWith('/istio-system'))).to.deep.equal([]);
    const reap = await execa(process.execPath, [bin, 'reap', '--kind'], { reject: false });
    expect(reap.exitCode, reap.stderr).to.equal(0);
    expect(await clusters()).to.not.include(kept!.replace(/^kind-/, ''));
  });

  it('kind, ambient profile: namespaces join with istio.io/dataplane-mode=ambient; HBONE cells are skipped with the reason', async function () {
    if (problem) this.skip();
    const r = await run(['run', join(root, 'scenarios'), '--grep', 'core', '--backend', 'kind', '--istio-profile', 'ambient']);
    expect([0, 1], r.all).to.include(r.exitCode);
    const rep = report();
    expect(rep.summary.errors).to.equal(0);
  });
});
