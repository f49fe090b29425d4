// The reference sidecar's Istio metadata exchange, as real processes with real TLS: what the client reads before the
// application's bytes, and exactly which client bytes the application receives (a recording app stands behind it).
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { readPreamble } from '../../harness/common/peer-exchange.mjs';
import { createProbeContext, runProbe } from '../../src/probe/index.js';
import { PROBE_MX_HEADER, framePayload } from '../../src/probe/peer-exchange.js';
import { stopChild, type Child } from './support/child.js';
import { policy, randomLoopback, startEcho, startSidecar, workloadConfig, writeJsonAtomic, type WorkloadSpec } from './support/fixture.js';
import { createTestPki, type TestPki } from './support/test-pki.js';

const POLICIES = [policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } })];
const DEADLINE_MS = 5000;

/** Answers `APP <json of every byte received>\n` at the first newline: the test sees what the sidecar passed on. */
async function startRecordingApp(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.includes(0x0a)) s.end(`APP ${JSON.stringify(got.toString('latin1'))}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * One mTLS connection with ALPN istio-peer-exchange: writes `writes` in turn, each after the bytes so far satisfy
 * `waitBefore` (when given), and resolves with everything the server sent once it closes (or at the deadline).
 */
function exchange(
  pki: TestPki,
  host: string,
  port: number,
  writes: readonly Buffer[],
  waitBefore?: (received: Buffer, i: number) => boolean,
): Promise<{ alpn: string | false | null; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let next = 0;
    const c = tls.connect({ host, port, rejectUnauthorized: false, cert: pki.client.certPem, key: pki.client.keyPem, ALPNProtocols: ['istio-peer-exchange', 'istio'] });
    const timer = setTimeout(() => c.destroy(), DEADLINE_MS);
    const pump = () => {
      while (next < writes.length && (!waitBefore || next === 0 || waitBefore(Buffer.concat(chunks), next))) c.write(writes[next++]!);
    };
    c.on('secureConnect', pump);
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      pump();
    });
    c.on('error', reject);
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ alpn: c.alpnProtocol, bytes: Buffer.concat(chunks) });
    });
  });
}

/** Splits what the server sent into the decoded preamble and the application's `APP` answer. */
function split(bytes: Buffer): { peer?: { workload?: string; namespace?: string }; app?: string } {
  const r = readPreamble(bytes);
  if (r.state !== 'ok') return {};
  const rest = bytes.subarray(r.consumed).toString('utf8'); // the app writes its JSON line as UTF-8
  return { peer: r.peer, ...(rest.startsWith('APP ') ? { app: JSON.parse(rest.slice(4).trim()) as string } : {}) };
}

describe('harness: reference sidecar, Istio metadata exchange (real processes, real TLS)', function () {
  let dir: string;
  let pki: TestPki;
  const children: Child[] = [];
  let app: Awaited<ReturnType<typeof startRecordingApp>>;
  const address = randomLoopback();
  const w: WorkloadSpec = {
    namespace: 'foo',
    name: 'finance',
    labels: { app: 'finance' },
    address,
    ports: [
      { port: 9100, protocol: 'tcp' },
      { port: 9101, protocol: 'http' },
    ],
  };

  async function sidecarFor(spec: WorkloadSpec, appPorts: Record<string, number>, env: Record<string, string> = {}): Promise<void> {
    const configFile = join(dir, `${spec.name}-${spec.address}.json`);
    writeJsonAtomic(configFile, workloadConfig(spec, appPorts, pki, POLICIES));
    children.push(await startSidecar([configFile], env));
  }

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'meshconform-mx-test-'));
    pki = createTestPki(dir);
    app = await startRecordingApp();
    await sidecarFor(w, { 'foo/finance|9100': app.port, 'foo/finance|9101': app.port });
  });
  after(async function () {
    for (const c of children) await stopChild(c);
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes its preamble (the workload's name and namespace) and drains a client's well-formed header", async function () {
    const got = await exchange(pki, address, 9100, [Buffer.concat([PROBE_MX_HEADER, Buffer.from('hello\n')])]);
    expect(got.alpn).to.equal('istio-peer-exchange');
    expect(split(got.bytes)).to.deep.equal({ peer: { workload: 'finance', namespace: 'foo' }, app: 'hello\n' });
  });

  it('passes bytes without the magic through untouched', async function () {
    const got = await exchange(pki, address, 9100, [Buffer.from('hello world\n')]);
    expect(split(got.bytes)).to.deep.equal({ peer: { workload: 'finance', namespace: 'foo' }, app: 'hello world\n' });
  });

  it('drains only the 8-byte header when the payload is not an Any: the payload reaches the app', async function () {
    const got = await exchange(pki, address, 9100, [Buffer.concat([framePayload(Buffer.from([0xff, 0xff])), Buffer.from('hello\n')])]);
    expect(split(got.bytes).app).to.equal('\xff\xffhello\n');
  });

  it('writes on the first data even below 8 bytes, and holds those bytes until it has 8', async function () {
    // The second write goes out only once the whole preamble arrived: it was written for 3 bytes.
    const got = await exchange(pki, address, 9100, [Buffer.from('abc'), Buffer.from('defgh\n')], (received) => readPreamble(received).state === 'ok');
    expect(split(got.bytes)).to.deep.equal({ peer: { workload: 'finance', namespace: 'foo' }, app: 'abcdefgh\n' });
  });

  it('does no exchange on an HTTP port (no istio-peer-exchange there)', async function () {
    const c = await exchange(pki, address, 9101, [Buffer.from('hello\n')]);
    expect(c.alpn).to.not.equal('istio-peer-exchange');
    expect(readPreamble(c.bytes).state).to.equal('none');
  });

  it('the host prober against the reference sidecar and the echo app: allowed, MX seen, the peer named', async function () {
    const spec: WorkloadSpec = { namespace: 'bar', name: 'ledger', labels: { app: 'ledger' }, address: randomLoopback(), ports: [{ port: 9200, protocol: 'tcp' }] };
    const echo = await startEcho(dir, [spec], pki);
    children.push(echo.child);
    await sidecarFor(spec, echo.ports);
    const ctx = createProbeContext({ meshCaPem: pki.meshCa.certPem, appCaPem: pki.appCa.certPem, clients: { mesh: { certPem: pki.client.certPem, keyPem: pki.client.keyPem } } });
    const o = await runProbe(
      {
        key: 'mx|sidecar|bar/ledger|9200|mtls-tcp',
        scenario: 'mx',
        meshMode: 'sidecar',
        workload: 'bar/ledger',
        port: 9200,
        protocol: 'tcp',
        client: 'mtls-tcp',
        address: spec.address,
        targetPort: 9200,
        expectedServerIdentity: 'spiffe://cluster.local/ns/bar/sa/ledger',
      },
      ctx,
      { timeoutMs: DEADLINE_MS },
    );
    expect(o.status, JSON.stringify(o)).to.equal('allowed');
    expect(o.mx).to.deep.equal({ seen: true, workload: 'ledger', namespace: 'bar' });
    expect(o.tls?.serverIdentityOk).to.equal(true);
  });

  it('defect mx-drops-first-bytes: the preamble goes out, the first bytes never reach the app', async function () {
    const spec: WorkloadSpec = { ...w, address: randomLoopback(), ports: [{ port: 9100, protocol: 'tcp' }] };
    await sidecarFor(spec, { 'foo/finance|9100': app.port }, { MESHCONFORM_DEFECTS: 'mx-drops-first-bytes' });
    const got = await exchange(
      pki,
      spec.address,
      9100,
      [Buffer.concat([PROBE_MX_HEADER, Buffer.from('first\n')]), Buffer.from('second\n')],
      (received) => readPreamble(received).state === 'ok',
    );
    expect(split(got.bytes)).to.deep.equal({ peer: { workload: 'finance', namespace: 'foo' }, app: 'second\n' });
  });
});
