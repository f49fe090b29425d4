// Planted defects: one catalogue, `run --defect` plumbing, and the chain-decision defects at unit level.
import { expect } from 'chai';
import { join } from 'node:path';
import { DEFECTS, KNOWN_DEFECTS, parseDefects } from '../../harness/reference/defects.mjs';
import { decide } from '../../harness/reference/decide.mjs';
import { referenceDefects } from '../../src/run/reference-defects.js';
import { resolveDataPlane } from '../../src/run/data-plane.js';
import { cli, inProcess, root } from './support/cli.js';

/** The defects issue 8 names; the catalogue may hold more. */
const REQUIRED = [
  'strict-accepts-plaintext',
  'strict-accepts-no-client-cert',
  'accept-any-ca',
  'accept-expired',
  'ignore-trust-domain',
  'ignore-port-level',
  'port-level-on-service-port',
  'ignore-selector',
  'newest-wins',
  'root-selector-applied',
  'namespace-overrides-workload',
  'unset-port-no-inherit',
  'permissive-rejects-plaintext',
  'disable-terminates-tls',
  'wrong-server-identity',
];

describe('trust: defect catalogue', function () {
  it('has at least 15 defects with unique kebab-case names, every one the issue names included', function () {
    expect(DEFECTS.length).to.be.at.least(15);
    expect(new Set(KNOWN_DEFECTS).size).to.equal(KNOWN_DEFECTS.length);
    for (const d of DEFECTS) {
      expect(d.name).to.match(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(d.description).to.have.length.greaterThan(10);
    }
    expect(KNOWN_DEFECTS).to.include.members(REQUIRED);
  });

  it('the CLI reads exactly the harness catalogue (by running the sidecar with --list-defects)', async function () {
    expect(await referenceDefects()).to.deep.equal(JSON.parse(JSON.stringify(DEFECTS)));
  });

  it('the sidecar accepts every known defect and refuses unknown ones', function () {
    expect([...parseDefects(KNOWN_DEFECTS.join(','))]).to.deep.equal([...KNOWN_DEFECTS]);
    expect(() => parseDefects('strict-accepts-plaintext,nope')).to.throw(/unknown defect 'nope'/);
  });

  it('the reference data plane always carries MESHCONFORM_DEFECTS, so an inherited variable plants nothing', function () {
    expect(resolveDataPlane('reference').env).to.deep.equal({ MESHCONFORM_DEFECTS: '', MESHCONFORM_ACCESS_LOG: '1' });
    const planted = resolveDataPlane('reference', 1, ['newest-wins', 'accept-expired']);
    expect(planted.env).to.deep.equal({ MESHCONFORM_DEFECTS: 'newest-wins,accept-expired', MESHCONFORM_ACCESS_LOG: '1' });
    expect(planted.name).to.equal('reference (defects: newest-wins, accept-expired)');
  });
});

describe('trust: chain-decision defects change exactly their branch', function () {
  const plain = { kind: 'plaintext' } as const;
  const tls = (alpn: string[] | null) => ({ kind: 'tls', alpn }) as const;
  const cases: [string, Parameters<typeof decide>, string, string][] = [
    ['strict-accepts-plaintext', ['STRICT', 'tcp', plain], 'close', 'plaintext'],
    ['strict-requires-istio-alpn', ['STRICT', 'tcp', tls(null)], 'terminate', 'close'],
    ['permissive-rejects-plaintext', ['PERMISSIVE', 'http', plain], 'plaintext', 'close'],
    ['permissive-passes-istio-alpn-through', ['PERMISSIVE', 'tcp', tls(['istio'])], 'terminate', 'passthrough'],
    ['disable-terminates-tls', ['DISABLE', 'tcp', tls(['istio'])], 'passthrough', 'terminate'],
  ];
  for (const [defect, args, correct, broken] of cases) {
    it(`${defect}: ${args[0]}/${args[1]} ${args[2].kind} → ${broken} instead of ${correct}`, function () {
      expect(decide(args[0], args[1], args[2])).to.equal(correct);
      expect(decide(args[0], args[1], args[2], new Set([defect]))).to.equal(broken);
      // Every other defect leaves this decision alone.
      const others = new Set(KNOWN_DEFECTS.filter((d) => d !== defect));
      expect(decide(args[0], args[1], args[2], others)).to.equal(correct);
    });
  }
});

describe('trust: meshconform run --defect', function () {
  this.timeout(120_000);
  const scenario = join(root, 'scenarios/core/ref-namespace-foo-strict.yaml');

  it('is a usage error (exit 2) with another data plane, wrong-server-identity off the local backend, or an unknown name', async function () {
    const haproxy = await inProcess(['run', scenario, '--defect', 'newest-wins', '--data-plane', 'haproxy']);
    expect(haproxy.code).to.equal(2);
    expect(haproxy.err).to.match(/--defect .*needs --data-plane reference/);
    const docker = await inProcess(['run', scenario, '--defect', 'wrong-server-identity', '--backend', 'docker']);
    expect(docker.code).to.equal(2);
    expect(docker.err).to.match(/--defect wrong-server-identity needs --backend local/);
    const unknown = await inProcess(['run', scenario, '--defect', 'fail-open']);
    expect(unknown.code).to.equal(2);
    expect(unknown.err).to.match(/unknown defect "fail-open"; the reference data plane knows: strict-accepts-plaintext, /);
    for (const r of [haproxy, docker, unknown]) expect(r.err).not.to.match(/internal error|\n\s+at /);
  });

  it('plants the defect: the suite fails (exit 1) naming the cells, and an inherited MESHCONFORM_DEFECTS plants nothing', async function () {
    const broken = await cli(['run', scenario, '--defect', 'strict-accepts-plaintext', '--reporter', 'console', '--out', '$OUT', '--local-subnet', '127.250', '--retries', '0']);
    expect(broken.exitCode, broken.stderr).to.equal(1);
    expect(broken.stdout).to.match(/foo\/finance:8080 plaintext-tcp: expected deny .* but the application answered over plaintext/);
    expect(broken.leftovers).to.deep.equal([]);
    const inherited = await cli(['run', scenario, '--reporter', 'console', '--out', '$OUT', '--local-subnet', '127.251', '--retries', '0'], {
      env: { MESHCONFORM_DEFECTS: 'strict-accepts-plaintext' },
    });
    expect(inherited.exitCode, inherited.stdout).to.equal(0);
  });

  it("wrong-server-identity presents another workload's mesh certificate, caught by the server identity check", async function () {
    const r = await cli(['run', scenario, '--defect', 'wrong-server-identity', '--reporter', 'console', '--out', '$OUT', '--local-subnet', '127.252', '--retries', '0']);
    expect(r.exitCode, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/server presented spiffe:\/\/cluster\.local\/ns\/bar\/sa\/web issued by the mesh CA, not the target workload's mesh identity/);
  });
});
