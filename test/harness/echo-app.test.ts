// The echo application as a real process: what it reports for plaintext, HTTP, TLS and garbage.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ECHO_APP, startChild, stopChild, type Child } from './support/child.js';
import { startEcho, writeJsonAtomic, type WorkloadSpec } from './support/fixture.js';
import { parseEcho } from './support/probe-client.js';
import { createTestPki, issuedBy, type TestPki } from './support/test-pki.js';

/** Send bytes (optionally half-closing), collect everything until the server closes. */
function exchange(port: number, bytes: Buffer | string, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => (halfClose ? s.end(bytes) : s.write(bytes)));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

describe('harness: echo application', function () {
  let dir: string;
  let pki: TestPki;
  let echo: Child | undefined;
  let ports: Record<string, number>;
  const extra: Child[] = [];
  const workloads: WorkloadSpec[] = [
    {
      namespace: 'foo',
      name: 'finance',
      labels: {},
      address: '127.0.0.1',
      ports: [
        { port: 8080, protocol: 'tcp' },
        { port: 9090, protocol: 'http' },
      ],
    },
    { namespace: 'bar', name: 'web', labels: {}, address: '127.0.0.1', ports: [{ port: 8080, protocol: 'http' }] },
  ];
  const port = (key: string) => ports[key] ?? 0;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'meshconform-echo-test-'));
    pki = createTestPki(dir);
    ({ child: echo, ports } = await startEcho(dir, workloads, pki));
  });

  after(async function () {
    await stopChild(echo);
    for (const c of extra) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints one ready line mapping every workload port to its app port', function () {
    expect(Object.keys(ports).sort()).to.deep.equal(['bar/web|8080', 'foo/finance|8080', 'foo/finance|9090']);
    expect(new Set(Object.values(ports)).size).to.equal(3);
    expect(echo?.lines).to.have.length(1);
  });

  it('answers a raw line with one MESHCONFORM-ECHO line and closes', async function () {
    const raw = await exchange(port('foo/finance|8080'), 'MESHCONFORM-PROBE k\n');
    expect(raw).to.match(/^MESHCONFORM-ECHO \{.*\}\n$/);
    expect(parseEcho(raw)).to.deep.equal({ workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'tcp' });
  });

  it('answers a line cut short by a half-close', async function () {
    const raw = await exchange(port('foo/finance|8080'), 'no newline', true);
    expect(parseEcho(raw)).to.include({ protocol: 'tcp', received: 'plaintext' });
  });

  it('answers an HTTP request with 200 JSON, reporting x-forwarded-client-cert', async function () {
    const raw = await exchange(port('bar/web|8080'), 'GET /x HTTP/1.1\r\nhost: a\r\nX-Forwarded-Client-Cert: By=spiffe://a;URI=spiffe://b\r\n\r\n');
    expect(raw).to.match(/^HTTP\/1\.1 200 OK\r\n/);
    expect(raw.toLowerCase()).to.include('content-type: application/json\r\n').and.include('connection: close\r\n');
    expect(parseEcho(raw)).to.deep.equal({ workload: 'bar/web', port: 8080, received: 'plaintext', protocol: 'http', xfcc: 'By=spiffe://a;URI=spiffe://b' });
    const plain = parseEcho(await exchange(port('foo/finance|9090'), 'GET / HTTP/1.0\r\n\r\n'));
    expect(plain).to.deep.equal({ workload: 'foo/finance', port: 9090, received: 'plaintext', protocol: 'http' });
  });

  it('terminates TLS itself with its own certificate, whatever ALPN is offered', async function () {
    for (const alpn of [undefined, ['istio-peer-exchange', 'istio'], ['istio-http/1.1']]) {
      const got = await new Promise<{ raw: string; alpn: string | false | null; issuer: boolean }>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let result: { alpn: string | false | null; issuer: boolean } = { alpn: null, issuer: false };
        const c = tls.connect({ host: '127.0.0.1', port: port('foo/finance|9090'), rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) }, () => {
          const peer = c.getPeerX509Certificate();
          result = { alpn: c.alpnProtocol, issuer: peer ? issuedBy(peer, pki.appCa) : false };
          c.write('GET / HTTP/1.1\r\n\r\n');
        });
        c.on('data', (d: Buffer) => chunks.push(d));
        c.on('error', reject);
        c.on('close', () => resolve({ raw: Buffer.concat(chunks).toString('latin1'), ...result }));
      });
      expect(got.issuer).to.equal(true);
      expect(got.alpn).to.equal(false);
      expect(parseEcho(got.raw)).to.deep.equal({ workload: 'foo/finance', port: 9090, received: 'tls', protocol: 'http' });
    }
  });

  it('survives garbage and bounds what it reads', async function () {
    await exchange(port('foo/finance|8080'), Buffer.from([0x16, 0x03, 0x01, 0x00, 0x02, 0xff, 0xff]), true).catch(() => '');
    await exchange(port('foo/finance|8080'), Buffer.alloc(70 * 1024, 0x41)).catch(() => '');
    const big = await exchange(port('foo/finance|8080'), Buffer.alloc(70 * 1024, 0x41)).catch(() => '');
    expect(big === '' || big.startsWith('MESHCONFORM-ECHO ')).to.equal(true);
    // still serving
    expect(parseEcho(await exchange(port('foo/finance|8080'), 'again\n'))).to.include({ received: 'plaintext' });
  });

  it('exits 0 on SIGTERM', async function () {
    const other = await startEcho(dir, [workloads[0]!], pki);
    extra.push(other.child);
    expect(await stopChild(other.child)).to.deep.equal({ code: 0, signal: null });
  });

  it('exits 2 with one clear line for a bad config or a port in use', async function () {
    const noEnv = startChild(ECHO_APP, {});
    extra.push(noEnv);
    expect((await noEnv.exited).code).to.equal(2);
    expect(noEnv.stderr()).to.equal('echo-app: MESHCONFORM_ECHO_CONFIG must name the echo config file\n');

    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const file = join(dir, 'echo-in-use.json');
    writeJsonAtomic(file, { listeners: [{ workload: 'foo/x', port: 1, address: '127.0.0.1', appPort: taken }], tls: { certFile: pki.app.certFile, keyFile: pki.app.keyFile } });
    const inUse = startChild(ECHO_APP, { MESHCONFORM_ECHO_CONFIG: file });
    extra.push(inUse);
    expect((await inUse.exited).code).to.equal(2);
    expect(inUse.stderr()).to.equal(`echo-app: cannot listen on 127.0.0.1:${taken} for foo/x|1: address already in use\n`);
    await new Promise((r) => blocker.close(r));
  });
});
