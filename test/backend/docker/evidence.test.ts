// Evidence on the docker backend: a failing cell gets its container's log lines in the probe's window (as the Docker
// engine stamped them), the config its data plane held, and the container's whole log beside the report.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { stampedLines } from '../../../src/backend/docker/container-log.js';
import { createDockerBackend } from '../../../src/backend/docker/index.js';
import type { EvidenceRequest, WorkloadTls } from '../../../src/model/index.js';
import { createMeshPki } from '../../../src/pki/index.js';
import { echoArgv, harnessFile, resolveDataPlane } from '../../../src/run/data-plane.js';
import { loadScenarios } from '../../../src/scenario/index.js';
import { requireCapability } from '../../support/require.js';
import { cli, dockerOrUndefined, e2eScenario, labelled, removeTempDirs, report, root, until } from './support.js';

const ENGINE = 'a Docker engine (DOCKER_HOST)';

/** One frame of Docker's multiplexed log answer. */
const frame = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

describe('docker backend: evidence of failing cells', function () {
  this.timeout(240_000);
  let docker: Dockerode | undefined;
  before(async () => {
    docker = await dockerOrUndefined();
  });
  after(removeTempDirs);

  it("reads Docker's log framing: stdout and stderr frames, the engine's nanosecond timestamps, raw TTY output, a cut answer", () => {
    const raw = Buffer.concat([
      frame(1, '2024-05-01T10:00:00.123456789Z ready\n'),
      frame(2, '2024-05-01T10:00:01.5Z sidecar: foo/a:8080 STRICT/tcp plaintext -> close\r\n'),
      frame(2, '2024-05-01T10:00:02Z two\n2024-05-01T10:00:03.000000001Z lines\n'),
      frame(1, 'no stamp here\n'),
    ]);
    expect(stampedLines(raw)).to.deep.equal([
      { atMs: Date.parse('2024-05-01T10:00:00.123Z'), stream: 'stdout', text: 'ready' },
      { atMs: Date.parse('2024-05-01T10:00:01.500Z'), stream: 'stderr', text: 'sidecar: foo/a:8080 STRICT/tcp plaintext -> close' },
      { atMs: Date.parse('2024-05-01T10:00:02Z'), stream: 'stderr', text: 'two' },
      { atMs: Date.parse('2024-05-01T10:00:03Z'), stream: 'stderr', text: 'lines' },
      // Without a readable stamp a line takes the one before.
      { atMs: Date.parse('2024-05-01T10:00:03Z'), stream: 'stdout', text: 'no stamp here' },
    ]);
    expect(stampedLines(Buffer.from('2024-05-01T10:00:00Z tty line\n'))).to.deep.equal([{ atMs: Date.parse('2024-05-01T10:00:00Z'), stream: 'stdout', text: 'tty line' }]);
    const cut = Buffer.concat([frame(1, '2024-05-01T10:00:00Z whole\n'), frame(2, '2024-05-01T10:00:01Z cut off').subarray(0, 14)]);
    expect(stampedLines(cut)).to.deep.equal([
      { atMs: Date.parse('2024-05-01T10:00:00Z'), stream: 'stdout', text: 'whole' },
      { atMs: Date.parse('2024-05-01T10:00:00Z'), stream: 'stderr', text: '2024-0' },
    ]);
    expect(stampedLines(Buffer.alloc(0))).to.deep.equal([]);
    const long = stampedLines(frame(1, `2024-05-01T10:00:00Z ${'x'.repeat(20_000)}\n`));
    expect(long[0]!.text.length).to.equal(8 * 1024 + 1);
  });

  it("a planted defect, run through the CLI: every failing cell has the sidecar's access-log lines, the STRICT config, and the container's log beside the report", async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const scenario = join(root, 'scenarios/core/multi-namespace-mix.yaml');
    const c = await cli(['run', scenario, '--backend', 'docker', '--defect', 'strict-accepts-plaintext', '--retries', '0']);
    expect(c.exitCode, c.stderr + c.stdout.slice(-3000)).to.equal(1);
    const r = report(c);
    const failing = r.scenarios.flatMap((s) => s.cells).filter((x) => x.verdict === 'fail');
    expect(failing.length).to.be.greaterThan(0);
    const attachments = new Map(r.scenarios.flatMap((s) => s.attachments ?? []).map((a) => [a.id, a]));
    for (const cell of failing) {
      const e = cell.evidence;
      expect(e, cell.key).to.not.equal(undefined);
      expect(e!.logs?.source, cell.key).to.equal(`container of ${cell.workload}`);
      const lines = e!.logs!.lines;
      const access = new RegExp(`${cell.workload.replace('/', '\\/')}:${cell.port} STRICT/tcp plaintext -> plaintext`);
      expect(lines.map((l) => l.text).join('\n'), cell.key).to.match(access);
      // The engine's own timestamps, within the cell's evidence window (src/run/evidence.ts: 250 ms before the probe,
      // 1 s after it, for what a data plane logs once the client gave up).
      const t = cell.observed!.timings!;
      for (const l of lines) expect(l.atMs, `${cell.key}: ${l.text}`).to.be.within(t.startedAt - 250, t.startedAt + t.totalMs + 1000);
      expect(lines.find((l) => access.test(l.text))?.stream).to.equal('stderr');
      // The config the data plane held: the one copied in, with what the entrypoint filled in (its own address).
      expect(e!.config?.source, cell.key).to.equal(`workload config of ${cell.workload} (/meshconform/run/workload.json in its container)`);
      expect(e!.config?.text, cell.key)
        .to.contain('"mode": "STRICT"')
        .and.contain(`"name": "${cell.workload.split('/')[1]}"`);
      expect(JSON.parse(e!.config!.text).workload.address, cell.key).to.match(/^198\.(18|19)\./);
      expect(e!.config!.text).to.not.contain('PRIVATE KEY');
      // One attachment per container: its whole log, written beside the report.
      expect(e!.attachments, cell.key).to.have.length(1);
      const a = attachments.get(e!.attachments![0]!)!;
      expect(a, cell.key).to.deep.include({ workload: cell.workload, mediaType: 'text/plain', label: `container of ${cell.workload}: its whole log (stdout and stderr)` });
      expect(a.text).to.match(/^\d{4}-\d\d-\d\dT[^ ]+Z stdout meshconform-entrypoint: started /m);
      const file = join(c.out, 'latest', 'evidence', `${a.id}.txt`);
      expect(existsSync(file), file).to.equal(true);
      expect(readFileSync(file, 'utf8')).to.match(access);
    }
    // One attachment per container asked about, not per cell.
    const ids = new Set(failing.flatMap((x) => x.evidence?.attachments ?? []));
    expect(ids.size).to.equal(new Set(failing.map((x) => x.workload)).size);
    expect(r.scenarios.flatMap((s) => s.cells).filter((x) => x.verdict === 'pass' && x.evidence)).to.deep.equal([]);
    expect(await labelled(docker!, r.runId)).to.deep.equal({ containers: [], networks: [] });
  });

  it('the config in force follows each policy change; a container whose log cannot be read keeps its config; none once stopped', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const [scenario] = await loadScenarios([e2eScenario('strict-and-permissive')]);
    const pki = createMeshPki({ trustDomain: scenario!.trustDomain });
    const identities = new Map<string, WorkloadTls>(
      scenario!.workloads.map((w) => [`${w.namespace}/${w.name}`, pki.issueWorkload({ namespace: w.namespace, serviceAccount: w.serviceAccount })]),
    );
    const runId = `test-evidence-${Date.now()}`;
    const env = await createDockerBackend({ harnessDir: harnessFile('') }).start({
      runId,
      scenario: scenario!,
      meshMode: 'sidecar',
      dataPlane: resolveDataPlane('reference'),
      echoArgv: echoArgv(),
      identities,
      appTls: pki.appIdentity(),
      readyTimeoutMs: 60_000,
    });
    try {
      const finance = env.targets.get('foo/finance')!;
      const t0 = Date.now();
      expect(await plaintextEcho(finance.address, 8080), 'STRICT port answered plaintext').to.equal(false);
      const t1 = Date.now();
      await env.applyPolicies([
        { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'foo' }, spec: { mtls: { mode: 'DISABLE' } } },
      ]);
      const t2 = Date.now();
      expect(await until(() => plaintextEcho(finance.address, 8080), 10_000), 'DISABLE not enforced').to.equal(true);
      const t3 = Date.now();
      const [web] = await docker!.listContainers({ filters: JSON.stringify({ label: [`meshconform.run=${runId}`, 'meshconform.workload=bar/web'] }) });
      await docker!.getContainer(web!.Id).remove({ force: true });
      const req = (key: string, workload: string, fromMs: number, toMs: number): EvidenceRequest => ({ key, workload, port: 8080, fromMs, toMs });
      const got = await env.evidence!([
        // Docker stamps a line when the engine reads it, which lags under load: each window runs to the next step.
        req('before', 'foo/finance', t0, t2),
        // The config in force is the one written last before a window's end: this one ends before the apply.
        req('before-apply', 'foo/finance', t0, t1),
        req('after', 'foo/finance', t2, t3 + 1000),
        req('gone', 'bar/web', t0, t3),
        req('unknown', 'nope/none', t0, t3),
      ]);
      const before = got.cells.get('before')!;
      const after = got.cells.get('after')!;
      expect(before.logs!.lines.map((l) => l.text).join('\n')).to.match(/foo\/finance:8080 STRICT\/tcp plaintext -> close/);
      expect(before.logs!.lines.map((l) => l.text).join('\n')).to.not.contain('DISABLE');
      expect(after.logs!.lines.map((l) => l.text).join('\n')).to.match(/foo\/finance:8080 DISABLE\/tcp plaintext -> plaintext/);
      expect(JSON.parse(got.cells.get('before-apply')!.config!.text).policies[0].spec.mtls.mode).to.equal('STRICT');
      expect(JSON.parse(after.config!.text).policies[0].spec.mtls.mode).to.equal('DISABLE');
      expect(JSON.parse(after.config!.text).workload.address).to.equal(finance.address);
      expect(before.attachments).to.deep.equal(after.attachments);
      // Removed behind the backend's back: no log, no attachment, the config copied in all the same.
      const gone = got.cells.get('gone')!;
      expect(gone.logs).to.equal(undefined);
      expect(gone.attachments).to.equal(undefined);
      expect(gone.config!.source).to.equal(
        'workload config of bar/web (/meshconform/config/workload.json in its container, before its entrypoint fills in the address and app ports)',
      );
      expect(JSON.parse(gone.config!.text).workload.address).to.equal('0.0.0.0');
      expect(got.cells.has('unknown')).to.equal(false);
      expect(got.attachments.map((a) => a.workload)).to.deep.equal(['foo/finance']);
    } finally {
      await env.stop();
    }
    const stopped = await env.evidence!([{ key: 'late', workload: 'foo/finance', port: 8080, fromMs: 0, toMs: Date.now() }]);
    expect(stopped).to.deep.equal({ cells: new Map(), attachments: [] });
    expect(await labelled(docker!, runId)).to.deep.equal({ containers: [], networks: [] });
  });
});

/** True when a plaintext line gets the echo app's reply (the port does not enforce mTLS). */
function plaintextEcho(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    let data = '';
    const done = (v: boolean) => (s.destroy(), resolve(v));
    s.setTimeout(2000, () => done(false));
    s.on('connect', () => s.write('MESHCONFORM-PROBE test\n'));
    s.on('data', (b) => {
      data += String(b);
      if (data.includes('\n')) done(data.startsWith('MESHCONFORM-ECHO '));
    });
    s.on('error', () => done(false));
    s.on('end', () => done(data.startsWith('MESHCONFORM-ECHO ')));
  });
}
