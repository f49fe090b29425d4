// The kind and cluster backends through the real CLI process: --dry-run executes nothing (the tools on PATH are
// fakes that would log any call), bad flags and a missing tool or context are one clear line and exit 2.
import { expect } from 'chai';
import { execa } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eScenario, root } from './support.js';

const bin = join(root, 'bin/meshconform.js');
const made: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};

/** A PATH holding only fake tools that record every call in `calls.log`. */
function fakeTools(tools: readonly string[]): { path: string; log: string } {
  const dir = temp('mc-fake-tools-');
  const log = join(dir, 'calls.log');
  for (const t of tools) {
    writeFileSync(join(dir, t), `#!/bin/sh\necho "${t} $*" >> '${log}'\necho "fake ${t}"\n`);
    chmodSync(join(dir, t), 0o755);
  }
  return { path: dir, log };
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = temp('mc-kube-out-');
  const r = await execa(process.execPath, [bin, ...args, ...(args[0] === 'run' ? ['--out', out] : [])], {
    cwd: root,
    env: { NO_COLOR: '1', TMPDIR: temp('mc-kube-tmp-'), ...env },
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
  return { ...r, out };
}

describe('kind and cluster backends through the CLI', function () {
  this.timeout(120_000);
  after(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('run --backend kind --dry-run prints the plan, runs none of the tools, writes no report, exit 0', async () => {
    const tools = fakeTools(['kind', 'kubectl', 'istioctl', 'docker']);
    const r = await cli(['run', e2eScenario('strict-and-permissive'), '--backend', 'kind', '--dry-run', '--istio-version', '1.24'], { PATH: tools.path });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.match(/^# meshconform .*: plan of run \S+ on --backend kind \(--dry-run: nothing is executed\)\n\$ kind version\n/);
    expect(r.stdout).to.match(
      /\n\$ istioctl --context kind-meshconform-\w+ install -y --set profile=default --set meshConfig.trustDomain=cluster.local --set meshConfig.accessLogFile=\/dev\/stdout\n/,
    );
    expect(r.stdout).to.match(/\n\$ kind delete cluster --name meshconform-\w+$/);
    expect(existsSync(tools.log), 'a tool was executed').to.equal(false);
    expect(readdirSync(r.out)).to.deep.equal([]);
  });

  it("run --backend cluster --dry-run: no install, the vendor's injection label, mesh-wide scenarios skipped with the reason", async () => {
    const tools = fakeTools(['kubectl']);
    const r = await cli(
      [
        'run',
        e2eScenario('strict-and-permissive'),
        join(root, 'scenarios/core/mesh-strict-root-namespace.yaml'),
        '--backend',
        'cluster',
        '--context',
        'vendor',
        '--injection-label',
        'istio.io/rev=stable',
        '--dry-run',
      ],
      { PATH: tools.path },
    );
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stdout).to.not.match(/\$ istioctl|\$ kind /);
    expect(r.stdout).to.match(/istio\.io\/rev: stable/);
    expect(r.stdout).to.match(/# scenario mesh-strict-root-namespace \(sidecar\) skipped: it applies mesh-wide policies in istio-system/);
    expect(existsSync(tools.log)).to.equal(false);
  });

  it('bad flags: exit 2 with one line saying what to do', async () => {
    const cases: [string[], RegExp][] = [
      [['--backend', 'cluster'], /--backend cluster needs --context <kubeconfig context>/],
      [['--backend', 'local', '--dry-run'], /--dry-run is not for --backend local: .*\(it is for --backend kind, cluster\)/],
      [['--backend', 'docker', '--keep', '--context', 'x'], /--keep is not for --backend docker: .*; --context is not for --backend docker: /],
      [['--backend', 'kind', '--retries', '2'], /--retries is not for --backend kind: kind and cluster settle cells by convergence/],
      [['--backend', 'cluster', '--context', 'x', '--parallel', '2'], /--parallel is not for --backend cluster: kind and cluster run one scenario at a time/],
      [['--backend', 'local', '--converge-successes', '2'], /--converge-successes is not for --backend local/],
      [['--backend', 'netns', '--local-subnet', '127.9'], /--local-subnet is not for --backend netns/],
      [['--backend', 'kind', '--no-reuse'], /--no-reuse is not for --backend kind: kind and cluster run pods/],
      [['--backend', 'cluster', '--context', 'x', '--keep'], /--keep is not for --backend cluster/],
      [['--backend', 'kind', '--context', 'x'], /--context is not for --backend kind/],
      [['--backend', 'kind', '--data-plane', 'haproxy'], /--data-plane is not for --backend kind: on kind and cluster the data plane under test is the cluster's mesh/],
      [['--backend', 'kind', '--istio-profile', 'minimal'], /argument 'minimal' is invalid/],
      [['--backend', 'cluster', '--context', 'x', '--injection-label', 'nolabel'], /--injection-label must be key=value/],
      [['--backend', 'cluster', '--context', 'x', '--mesh-modes', 'sidecar,waypoint'], /--mesh-modes: unknown mode "waypoint"/],
      [['--backend', 'cluster', '--context', 'x', '--mesh-ca', '/nonexistent'], /--mesh-ca \/nonexistent: cannot read ca-cert\.pem \(ENOENT\)/],
    ];
    const results = await Promise.all(cases.map(([flags]) => cli(['run', e2eScenario('port-level-disable'), ...flags], { PATH: '/nonexistent' })));
    cases.forEach(([flags, message], i) => {
      const r = results[i]!;
      expect(r.exitCode, `${flags.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, flags.join(' ')).to.match(message);
      expect(r.stderr).to.not.match(/\n\s+at /);
    });
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} while kind creates the cluster: the cluster is deleted on the way out (exit ${code})`, async () => {
      const dir = temp('mc-fake-kind-');
      const log = join(dir, 'calls.log');
      const release = join(dir, 'release');
      // A kind whose `create cluster` takes a while (bounded: it gives up after 10 s or once released).
      writeFileSync(
        join(dir, 'kind'),
        `#!/bin/sh\necho "kind $*" >> '${log}'\ncase "$1" in create) i=0; while [ ! -e '${release}' ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done;; esac\n`,
      );
      writeFileSync(join(dir, 'kubectl'), `#!/bin/sh\necho "kubectl $*" >> '${log}'\necho '{}'\n`);
      writeFileSync(join(dir, 'istioctl'), `#!/bin/sh\necho "istioctl $*" >> '${log}'\necho '{"clientVersion":{"version":"1.24.0"}}'\n`);
      for (const t of ['kind', 'kubectl', 'istioctl']) chmodSync(join(dir, t), 0o755);
      const child = execa(process.execPath, [bin, 'run', e2eScenario('port-level-disable'), '--backend', 'kind', '--out', temp('mc-kube-out-')], {
        cwd: root,
        env: { PATH: `${dir}:/bin:/usr/bin`, NO_COLOR: '1', TMPDIR: temp('mc-kube-tmp-') },
        extendEnv: false,
        reject: false,
        timeout: 60_000,
      });
      try {
        const end = Date.now() + 30_000;
        while (!(existsSync(log) && readFileSync(log, 'utf8').includes('kind create cluster')) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        expect(readFileSync(log, 'utf8')).to.include('kind create cluster');
        child.kill(signal);
        const r = await child;
        writeFileSync(release, '');
        expect(r.exitCode, r.stderr).to.equal(code);
        expect(r.stderr).to.include(`${signal} received, cleaning up`);
        const calls = readFileSync(log, 'utf8').trim().split('\n');
        expect(calls.at(-1)).to.match(/^kind delete cluster --name meshconform-\w+$/);
      } finally {
        writeFileSync(release, '');
        await child.catch(() => undefined);
      }
    });
  }

  it('no kind on PATH, a context that does not exist (real kubectl), reap of a missing context: exit 2 with what to do', async () => {
    const noKind = fakeTools(['kubectl', 'istioctl']);
    const r1 = await cli(['run', e2eScenario('port-level-disable'), '--backend', 'kind'], { PATH: noKind.path });
    expect(r1.exitCode).to.equal(2);
    expect(r1.stderr).to.match(/^meshconform: kind is not on PATH: .*What to do: install kind/);

    const kubeconfig = join(temp('mc-kubeconfig-'), 'config');
    writeFileSync(kubeconfig, '');
    const kubectlOnly = { PATH: '/usr/bin:/bin', KUBECONFIG: kubeconfig };
    const r2 = await cli(['run', e2eScenario('port-level-disable'), '--backend', 'cluster', '--context', 'nope'], kubectlOnly);
    expect(r2.exitCode).to.equal(2);
    expect(r2.stderr).to.match(/^meshconform: kubeconfig has no context "nope" \(it has none\)\. What to do: pass an existing one with --context/);

    const r3 = await cli(['reap', '--context', 'nope'], kubectlOnly);
    expect(r3.exitCode).to.equal(2);
    expect(r3.stderr).to.match(/^meshconform: kubeconfig has no context "nope"/);

    const r4 = await cli(['reap', '--kind'], { PATH: noKind.path });
    expect(r4.exitCode).to.equal(2);
    expect(r4.stderr).to.match(/^meshconform: kind is not on PATH/);
  });
});
