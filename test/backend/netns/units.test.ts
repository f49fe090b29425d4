import { expect } from 'chai';
import { envNames, parseNetnsName } from '../../../src/backend/netns/names.js';
import { conflicts, freeSubnets, ipToInt } from '../../../src/backend/common/pick-subnet.js';
import { netnsHostProblem } from '../../../src/backend/netns/preflight.js';

describe('netns backend: names, subnet choice, host checks', () => {
  it('namespace names carry run id, owner pid, environment and role, and parse back', () => {
    const n = envNames('20261127T174100Z-abc123', '0a1b2c', 4242);
    expect(n.hub).to.equal('meshconform-20261127T174100Z-abc123-p4242-0a1b2c-hub');
    expect(n.workload(7)).to.equal('meshconform-20261127T174100Z-abc123-p4242-0a1b2c-w7');
    expect(n.hostIf).to.equal('mcn-0a1b2c');
    expect(n.hostIf.length, 'interface names have at most 15 characters').to.be.at.most(15);
    expect(parseNetnsName(n.hub)).to.deep.equal({ runId: '20261127T174100Z-abc123', pid: 4242, envId: '0a1b2c', role: 'hub' });
    expect(parseNetnsName(n.workload(12))).to.deep.include({ runId: '20261127T174100Z-abc123', role: 'w12' });
    // Run ids with dashes and what looks like a pid inside still parse from the fixed tail.
    expect(parseNetnsName(envNames('test-p12-x', 'ffffff', 9).hub)).to.deep.equal({ runId: 'test-p12-x', pid: 9, envId: 'ffffff', role: 'hub' });
    for (const other of ['meshconform', 'meshconform-x-hub', 'docker-abc', 'meshconform-r-p1-0a1b2c-w', 'meshconform-r-p1-0A1B2C-hub'])
      expect(parseNetnsName(other), other).to.equal(undefined);
  });

  it('a run id that cannot name a namespace is refused', () => {
    for (const bad of ['', '../x', 'a/b', 'a b', '-x', 'x'.repeat(200)]) expect(() => envNames(bad, '0a1b2c'), bad).to.throw(/cannot name a network namespace/);
  });

  it('free /24s: only 198.18.0.0/15, never the CI engine bridge, nothing routed or addressed, nothing claimed', () => {
    const all = freeSubnets([], new Set());
    expect(all).to.have.length(511);
    expect(all).not.to.include('198.19.255.0');
    expect(all.every((s) => /^198\.(18|19)\.\d+\.0$/.test(s))).to.equal(true);
    const used = [
      { base: ipToInt('198.18.5.0'), bits: 24, dev: 'br-1' },
      { base: ipToInt('198.19.0.0'), bits: 16, dev: 'docker0' },
      { base: ipToInt('198.18.7.9'), bits: 32, dev: 'eth1' },
      { base: ipToInt('10.0.0.0'), bits: 8, dev: 'eth0' },
    ];
    const free = freeSubnets(used, new Set(['198.18.9.0']));
    expect(free).to.have.length(256 - 3);
    for (const taken of ['198.18.5.0', '198.18.7.0', '198.18.9.0', '198.19.1.0']) expect(free).not.to.include(taken);
    // Random order, so concurrent runs rarely race for the same one; the same random source gives the same order.
    let x = 1;
    const seeded = () => (x = (x * 16807) % 2147483647) / 2147483647;
    const a = freeSubnets([], new Set(), seeded);
    x = 1;
    expect(freeSubnets([], new Set(), seeded)).to.deep.equal(a);
    expect(a).not.to.deep.equal([...a].sort((p, q) => ipToInt(p) - ipToInt(q)));
  });

  it('a /24 is in conflict when another interface routes or addresses it, not for our own interface', () => {
    const used = [
      { base: ipToInt('198.18.3.0'), bits: 24, dev: 'mcn-aaaaaa' },
      { base: ipToInt('198.18.3.1'), bits: 32, dev: 'mcn-aaaaaa' },
      { base: ipToInt('198.18.4.0'), bits: 24, dev: 'br-x' },
    ];
    expect(conflicts(used, '198.18.3.0', 'mcn-aaaaaa')).to.deep.equal([]);
    expect(conflicts([...used, { base: ipToInt('198.18.3.0'), bits: 24, dev: 'mcn-bbbbbb' }], '198.18.3.0', 'mcn-aaaaaa')).to.have.length(1);
    expect(conflicts(used, '198.18.4.0', 'mcn-aaaaaa')).to.have.length(1);
  });

  it('host checks: not root, then no ip on PATH, each with what to do', async () => {
    expect(await netnsHostProblem({ euid: 1000, path: '/usr/sbin:/usr/bin:/sbin:/bin' })).to.match(/needs root: .*or use --backend local/);
    expect(await netnsHostProblem({ euid: 0, path: '/nonexistent' })).to.match(/needs the `ip` command of iproute2 on PATH: install it \(apt-get install iproute2\)/);
    expect(await netnsHostProblem({ euid: undefined, path: '' })).to.match(/needs root/);
  });
});
