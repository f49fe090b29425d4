import { expect } from 'chai';
import { execa } from 'execa';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const spec = join(root, 'test/mocha/fixtures/scenario.spec.mjs');
const scenario = join(root, 'test/e2e/fixtures/scenarios/strict-and-permissive.yaml');

interface MochaJson {
  stats: { tests: number; passes: number; failures: number; pending: number };
  failures: { fullTitle: string; err: { message: string } }[];
}

/** Runs real mocha (its own process, JSON reporter) on a spec that uses `meshconform/mocha`. */
async function mocha(env: Record<string, string>): Promise<MochaJson> {
  const r = await execa(process.execPath, [join(root, 'node_modules/mocha/bin/mocha.js'), spec, '--no-config', '--timeout', '120000', '--reporter', 'json'], {
    cwd: root,
    env,
    reject: false,
  });
  return JSON.parse(r.stdout) as MochaJson;
}

describe('meshconform/mocha: scenarios as mocha suites', function () {
  this.timeout(180_000);

  it('one it per cell (plus the lint check), all passing on the reference data plane', async () => {
    const r = await mocha({ MC_SCENARIO: scenario, MC_SUBNET: '127.221' });
    // 3 workload ports × 9 clients + 1 lint check.
    expect(r.stats).to.include({ tests: 28, passes: 28, failures: 0 });
  });

  it('a broken data plane fails the cells with readable messages', async () => {
    const r = await mocha({
      MC_SCENARIO: scenario,
      MC_SUBNET: '127.222',
      MC_DATA_PLANE: `exec:${process.execPath} ${join(root, 'test/e2e/fixtures/data-planes/open-proxy.mjs')}`,
    });
    expect(r.stats.failures).to.be.greaterThan(0);
    const plain = r.failures.find((f) => f.fullTitle.includes('foo/finance:8080 › plaintext-tcp'));
    expect(plain, r.failures.map((f) => f.fullTitle).join('\n')).to.not.equal(undefined);
    expect(plain!.err.message)
      .to.match(/expected deny in STRICT/)
      .and.match(/decided by foo\/default \(namespace\)/);
  });
});
