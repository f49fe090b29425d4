import { expect } from 'chai';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsHostProblem } from '../../src/backend/netns/index.js';
import { hasIptables } from '../../src/backend/netns/preflight.js';
import type { RunResult } from '../../src/model/index.js';
import { requireCapability } from '../support/require.js';
import { BIN, CHAOS_SUITE, ROOT, tempDir } from './helpers.js';

describe('packet loss on the netns backend (root, iproute2, iptables)', function () {
  this.timeout(180_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('the packet-loss scenario runs, its canary sees dropped packets, and nothing fails open', async function () {
    const problem = await netnsHostProblem();
    requireCapability(this, problem === undefined && hasIptables(), `network namespaces with iptables (${problem ?? 'iptables missing'})`);
    const r = await execa(process.execPath, [BIN, 'run', join(CHAOS_SUITE, 'packet-loss.yaml'), '--backend', 'netns', '--out', tmp.path, '--reporter', 'json'], {
      cwd: ROOT,
      reject: false,
      env: { NO_COLOR: '1' },
    });
    expect(r.exitCode, r.stdout + r.stderr).to.equal(0);
    const report = JSON.parse(readFileSync(join(tmp.path, 'latest', 'report.json'), 'utf8')) as RunResult;
    const tl = report.scenarios[0]!.timeline!;
    const fault = tl.faults[0]!;
    expect(fault.kind).to.equal('packet-loss');
    expect(fault.canary!.ok, JSON.stringify(fault.canary)).to.equal(true);
    // Positive evidence: the kernel's own count of packets the DROP rule matched (a slow connect alone proves nothing).
    const check = fault.canary!.checks.find((c) => c.name === 'packets dropped')!;
    expect(check.ok).to.equal(true);
    expect(check.detail).to.match(/^the DROP rule matched [1-9]\d* packet\(s\); /);
    expect(tl.invariants!.every((i) => i.ok)).to.equal(true);
  });
});
