import { expect } from 'chai';
import { inProcess } from './support/cli.js';

/** Flag values that end up in kubectl, kind, istioctl or docker argv must never be read there as options. */
describe('flag values that reach another program\'s argv refuse a leading "-"', function () {
  this.timeout(60_000);
  const cases: [string, string[]][] = [
    ['--context (cluster, dry run)', ['run', 'scenarios/core', '--backend', 'cluster', '--dry-run', '--context', '--kubeconfig=/tmp/evil']],
    ['--context=… form', ['run', 'scenarios/core', '--backend', 'cluster', '--dry-run', '--context=--kubeconfig=/tmp/evil']],
    ['--root-namespace', ['run', 'scenarios/core', '--backend', 'cluster', '--dry-run', '--context', 'ok', '--root-namespace', '--all-namespaces']],
    ['--injection-label', ['run', 'scenarios/core', '--backend', 'cluster', '--dry-run', '--context', 'ok', '--injection-label', '--overwrite']],
    ['--kind-cluster', ['run', 'scenarios/core', '--backend', 'kind', '--dry-run', '--kind-cluster', '--kubeconfig=/tmp/evil']],
    ['--istio-version', ['run', 'scenarios/core', '--backend', 'kind', '--dry-run', '--istio-version', '--set=x']],
    ['--image', ['run', 'scenarios/core', '--backend', 'docker', '--image', '--privileged']],
    ['reap --context', ['reap', '--context', '--kubeconfig=/tmp/evil']],
    ['reap --run', ['reap', '--run', '-rf']],
  ];
  for (const [name, argv] of cases) {
    it(`${name}: usage error, exit 2, nothing run`, async () => {
      const r = await inProcess(argv, 30_000);
      expect(r.code, r.out + r.err).to.equal(2);
      expect(r.err).to.match(/must not start with "-"/);
      expect(r.out).to.not.contain('kubectl').and.not.contain('--kubeconfig=/tmp/evil');
    });
  }
});
