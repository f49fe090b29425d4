// Ambient-specific loading: DISABLE warnings (spec R6.5) and expect entries scoped to one mode of a `both` scenario.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenarioFile } from '../../src/scenario/index.js';
import { lines, scenarioError } from './helpers.js';

/** A scenario with DISABLE at mesh, namespace, workload and port level; `mode` and `expect` vary. */
function scenarioText(mode: string, expect = ''): string {
  return `apiVersion: meshconform.dev/v1alpha1
kind: Scenario
spec:
  mode: ${mode}
  workloads:
    - { name: app, namespace: foo, labels: { app: a }, ports: [8080, 9090] }
  policies:
    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: mesh, namespace: istio-system }, spec: { mtls: { mode: DISABLE } } }
    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: ns, namespace: foo }, spec: { mtls: { mode: DISABLE } } }
    - apiVersion: security.istio.io/v1
      kind: PeerAuthentication
      metadata: { name: wl, namespace: foo }
      spec:
        selector: { matchLabels: { app: a } }
        mtls: { mode: DISABLE }
        portLevelMtls:
          8080: { mode: STRICT }
          9090: { mode: DISABLE }
${expect}`;
}

describe('scenario loader: ambient mode', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mc-ambient-loader-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, text);
    return file;
  };

  for (const mode of ['ambient', 'both']) {
    it(`a ${mode} scenario with DISABLE loads, with one warning per DISABLE naming the policy at the mode`, async () => {
      const file = await write(`disable-${mode}`, scenarioText(mode));
      const s = await loadScenarioFile(file);
      expect(s.policies).to.have.length(3);
      const tail = 'is not supported in ambient mode and behaves as PERMISSIVE (spec R6.5): plaintext is still accepted and mesh traffic stays HBONE mTLS';
      expect(s.warnings).to.deep.equal([
        { message: `PeerAuthentication istio-system/mesh: mtls.mode DISABLE ${tail}`, source: { file, line: 8, column: 142 } },
        { message: `PeerAuthentication foo/ns: mtls.mode DISABLE ${tail}`, source: { file, line: 9, column: 131 } },
        { message: `PeerAuthentication foo/wl: mtls.mode DISABLE ${tail}`, source: { file, line: 15, column: 23 } },
        { message: `PeerAuthentication foo/wl: portLevelMtls 9090 DISABLE ${tail}`, source: { file, line: 18, column: 25 } },
      ]);
    });
  }

  it('a sidecar scenario with the same DISABLE policies has no warning (DISABLE means something there)', async () => {
    const s = await loadScenarioFile(await write('disable-sidecar', scenarioText('sidecar')));
    expect(s.warnings).to.deep.equal([]);
  });

  it('an expect entry may be scoped to one mode of a both scenario', async () => {
    const file = await write(
      'scoped',
      scenarioText(
        'both',
        `  expect:
    - { workload: foo/app, port: 9090, meshMode: sidecar, mode: DISABLE }
    - { workload: foo/app, port: 9090, meshMode: ambient, mode: PERMISSIVE, hbone: allow }
    - { workload: foo/app, port: 8080, mode: STRICT }
`,
      ),
    );
    const s = await loadScenarioFile(file);
    expect(s.expect.map((e) => [e.meshMode, e.mode])).to.deep.equal([
      ['sidecar', 'DISABLE'],
      ['ambient', 'PERMISSIVE'],
      [undefined, 'STRICT'],
    ]);
    expect(s.expect[2]).to.not.have.property('meshMode');
  });

  it('meshMode naming a mode the scenario does not run in is an error at the field', async () => {
    const file = await write('wrong-scope', scenarioText('sidecar', `  expect:\n    - { workload: foo/app, meshMode: ambient, mode: PERMISSIVE }\n`));
    expect(lines(await scenarioError(loadScenarioFile(file)))).to.deep.equal([
      `${file}:20:38: spec.expect[0].meshMode: ambient: this scenario runs in sidecar mode only; meshMode scopes an entry of a \`mode: both\` scenario`,
    ]);
  });

  it('meshMode must be sidecar or ambient', async () => {
    const file = await write('bad-scope', scenarioText('both', `  expect:\n    - { workload: foo/app, meshMode: both, mode: PERMISSIVE }\n`));
    const [first] = lines(await scenarioError(loadScenarioFile(file)));
    expect(first).to.match(new RegExp(`^${file}:20:38: spec\\.expect\\[0\\]\\.meshMode: .*sidecar.*ambient`));
  });
});
