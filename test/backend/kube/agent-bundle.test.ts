// The probe agent's bundle is never used stale: in a checkout it is rebuilt when any of its inputs is newer, a build
// that fails leaves no bundle behind, and an installed package (no src/) uses the one it ships. Run against a small
// stand-in checkout in a temporary folder, so the repository's own bundle is left alone.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BUNDLE, ensureProbeAgent, probeAgentIsStale } from '../../../src/backend/kube/agent-bundle.js';

describe('kube: the probe agent bundle', function () {
  let root: string;
  const harness = () => join(root, 'harness');
  const bundle = () => join(harness(), AGENT_BUNDLE);
  /** Writes a source file of the stand-in checkout dated `secondsAgo` in the past (mtime order decides staleness). */
  const write = (path: readonly string[], text: string, secondsAgo = 0) => {
    const file = join(root, ...path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(file, t, t);
  };
  const runAgent = () => execFileSync(process.execPath, [bundle()], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mc-agent-bundle-'));
    mkdirSync(harness());
    write(['src', 'probe', 'answer.ts'], "export const answer = 'v1';\n", 60);
    write(['src', 'agent', 'main.ts'], "import { answer } from '../probe/answer.js';\nconsole.log(answer);\n", 60);
    write(['src', 'model', 'index.ts'], 'export {};\n', 60);
    write(['src', 'util', 'index.ts'], 'export {};\n', 60);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is built when missing, and rebuilt when an input it imports changes', async () => {
    expect(probeAgentIsStale(root)).to.equal(true);
    expect(await ensureProbeAgent(harness())).to.equal(bundle());
    expect(runAgent()).to.equal('v1');
    expect(probeAgentIsStale(root)).to.equal(false);
    write(['src', 'probe', 'answer.ts'], "export const answer = 'v2';\n");
    expect(probeAgentIsStale(root)).to.equal(true);
    await ensureProbeAgent(harness());
    expect(runAgent()).to.equal('v2');
  });

  it('a build that fails removes the old bundle and says why', async () => {
    await ensureProbeAgent(harness());
    write(['src', 'agent', 'main.ts'], 'this is not TypeScript (\n');
    let error: Error | undefined;
    try {
      await ensureProbeAgent(harness());
    } catch (err) {
      error = err as Error;
    }
    expect(error?.name).to.equal('BackendError');
    expect(error?.message).to.match(/cannot build the probe agent/);
    expect(probeAgentIsStale(root)).to.equal(true);
    expect(() => runAgent()).to.throw();
  });

  it('an installed package (no src/) uses its shipped bundle, and names a missing one', async () => {
    await ensureProbeAgent(harness());
    rmSync(join(root, 'src'), { recursive: true });
    expect(await ensureProbeAgent(harness())).to.equal(bundle());
    rmSync(bundle());
    let error: Error | undefined;
    try {
      await ensureProbeAgent(harness());
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.match(/probe agent .* is missing: this package was not built/);
  });
});
