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
    const r = await execa(process.execPath, [BIN, 'run', join(CHAOS_SUITE, 'packet-loss.yaml'), '--backend', 'netns', '--out', tmp.path, '--reporter', 'json'], { cwd: ROOT, reject: false, env: { NO_COLOR: '1' } });
    expect(r.exitCode, r.stdout + r.stderr).to.equal(0);
    const report = JSON.parse(readFileSync(join(tmp.path, 'latest', 'report.json'), 'utf8')) as RunResult;
    const tl = report.scenarios[0]!.timeline!;
    const fault = tl.faults[0]!;
    expect(fault.kind).to.equal('packet-loss');
    expect(fault.canary!.ok, JSON.stringify(fault.canary)).to.equal(true);
    expect(fault.canary!.checks[0]!.detail).to.match(/^\d+ connect\(s\) to 198\.1[89]\.\d+\.\d+:8080 got no answer within 150 ms/);
    expect(tl.invariants!.every((i) => i.ok)).to.equal(true);
  });
});
