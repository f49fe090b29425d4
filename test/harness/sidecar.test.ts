// The reference sidecar and the echo app as real processes, probed with real TLS. The outcome tables are
// docs/outcomes.md (the project's reading of spec §5, shared with the oracle), cell by cell.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { DIRECT_CLIENT_KINDS, type DirectClientKind, type ExpectedOutcome, type MtlsMode, type PortProtocol } from '../../src/model/index.js';
import { SIDECAR, startChild, stopChild, type Child } from './support/child.js';
import { policy, randomLoopback, startEcho, startSidecar, workloadConfig, writeJsonAtomic, type WorkloadSpec } from './support/fixture.js';
import { parseEcho, probe } from './support/probe-client.js';
import { createTestPki, type TestPki } from './support/test-pki.js';

const A = 'allow',
  P = 'passthrough',
  D = 'deny';
// [DISABLE, PERMISSIVE, STRICT]
const TCP_TABLE: Record<DirectClientKind, [ExpectedOutcome, ExpectedOutcome, ExpectedOutcome]> = {
  'plaintext-tcp': [A, A, D],
  'plaintext-http': [A, A, D],
  'mtls-tcp': [P, A, A],
  'mtls-http': [P, A, A],
  'tls-no-client-cert': [P, P, D],
  'mtls-foreign-ca': [P, D, D],
  'mtls-expired': [P, D, D],
  'mtls-other-trust-domain': [P, D, D],
  'tls-no-istio-alpn': [P, P, A],
};
const HTTP_TABLE: Record<DirectClientKind, [ExpectedOutcome, ExpectedOutcome, ExpectedOutcome]> = {
  'plaintext-tcp': [D, D, D],
  'plaintext-http': [A, A, D],
  'mtls-tcp': [D, D, D],
  'mtls-http': [D, A, A],
  'tls-no-client-cert': [D, D, D],
  'mtls-foreign-ca': [D, D, D],
  'mtls-expired': [D, D, D],
  'mtls-other-trust-domain': [D, D, D],
  'tls-no-istio-alpn': [D, D, A],
};
const MODE_INDEX: Record<MtlsMode, number> = { DISABLE: 0, PERMISSIVE: 1, STRICT: 2 };

function expected(mode: MtlsMode, protocol: PortProtocol, client: DirectClientKind): ExpectedOutcome {
  return (protocol === 'tcp' ? TCP_TABLE : HTTP_TABLE)[client][MODE_INDEX[mode]] as ExpectedOutcome;
}

// One workload; the namespace policy says PERMISSIVE, the workload policy overrides ports (spec R4.3).
const PORTS: readonly { port: number; protocol: PortProtocol; mode: MtlsMode }[] = [
  { port: 8001, protocol: 'tcp', mode: 'STRICT' },
  { port: 8002, protocol: 'tcp', mode: 'PERMISSIVE' },
  { port: 8003, protocol: 'tcp', mode: 'DISABLE' },
  { port: 8004, protocol: 'http', mode: 'STRICT' },
  { port: 8005, protocol: 'http', mode: 'PERMISSIVE' },
  { port: 8006, protocol: 'http', mode: 'DISABLE' },
];
const POLICIES = [
  policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }),
  policy('foo', 'ns', { mtls: { mode: 'PERMISSIVE' } }),
  policy('foo', 'finance', {
    selector: { matchLabels: { app: 'finance' } },
    mtls: { mode: 'UNSET' },
    portLevelMtls: { '8001': { mode: 'STRICT' }, '8003': { mode: 'DISABLE' }, '8004': { mode: 'STRICT' }, '8006': { mode: 'DISABLE' } },
  }),
];
const SELF = 'spiffe://cluster.local/ns/foo/sa/finance';
const PEER = 'spiffe://cluster.local/ns/foo/sa/sleep';

describe('harness: reference sidecar (real processes, real TLS)', function () {
  let dir: string;
  let pki: TestPki;
  let echo: Child | undefined;
  let appPorts: Record<string, number>;
  const children: Child[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'meshconform-sidecar-test-'));
    pki = createTestPki(dir);
  });

  after(async function () {
    for (const c of children) await stopChild(c);
    await stopChild(echo);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Echo app + sidecar for one workload; returns the sidecar child and the config path. */
  async function bringUp(w: WorkloadSpec, policies = POLICIES, env: Record<string, string> = {}): Promise<{ sidecar: Child; configFile: string }> {
    const started = await startEcho(dir, [w], pki);
    children.push(started.child);
    appPorts = started.ports;
    const configFile = join(dir, `${w.name}-${w.address}.json`);
    writeJsonAtomic(configFile, workloadConfig(w, appPorts, pki, policies));
    const sidecar = await startSidecar([configFile], env);
    children.push(sidecar);
    return { sidecar, configFile };
  }

  describe('outcome tables', function () {
    const address = randomLoopback();
    const w: WorkloadSpec = { namespace: 'foo', name: 'finance', labels: { app: 'finance' }, address, ports: PORTS };

    before(async function () {
      await bringUp(w);
    });

    for (const { port, protocol, mode } of PORTS) {
      for (const client of DIRECT_CLIENT_KINDS) {
        const want = expected(mode, protocol, client);
        it(`${mode} ${protocol} port ${port}: ${client} → ${want}`, async function () {
          const got = await probe(client, { host: address, port, protocol }, pki);
          expect(got.outcome, `raw=${JSON.stringify(got.raw)} detail=${got.detail}`).to.equal(want);
          if (want === 'allow') {
            expect(got.echo).to.include({ workload: 'foo/finance', port, received: 'plaintext' });
            if (client.startsWith('plaintext')) {
              expect(got.serverIssuer).to.equal(undefined);
            } else {
              // terminated by the sidecar: the workload's SPIFFE certificate from the mesh CA
              expect(got.serverIssuer).to.equal('mesh');
              expect(got.serverIdentity).to.equal(SELF);
            }
          }
          if (want === 'passthrough') {
            expect(got.serverIssuer).to.equal('app');
            expect(got.echo).to.include({ workload: 'foo/finance', port, received: 'tls' });
          }
        });
      }
    }

    it('adds x-forwarded-client-cert after mTLS termination on HTTP ports only', async function () {
      const strictHttp = await probe('mtls-http', { host: address, port: 8004, protocol: 'http' }, pki);
      expect(strictHttp.echo?.xfcc).to.equal(`By=${SELF};URI=${PEER}`);
      const permissiveHttp = await probe('mtls-http', { host: address, port: 8005, protocol: 'http' }, pki);
      expect(permissiveHttp.echo?.xfcc).to.equal(`By=${SELF};URI=${PEER}`);
      const plaintext = await probe('plaintext-http', { host: address, port: 8005, protocol: 'http' }, pki);
      expect(plaintext.echo).to.not.have.property('xfcc');
    });

    it('negotiates the server ALPN when it overlaps and none otherwise, never failing the handshake', async function () {
      const tcp = await probe('mtls-tcp', { host: address, port: 8001, protocol: 'tcp' }, pki);
      expect(tcp.alpn).to.equal('istio-peer-exchange');
      const http = await probe('mtls-http', { host: address, port: 8004, protocol: 'http' }, pki);
      expect(http.alpn).to.equal(false);
      expect(http.outcome).to.equal('allow');
    });

    it('answers raw bytes on an HTTP port with exactly the 400 Envoy sends', async function () {
      for (const port of [8005, 8006]) {
        const got = await probe('plaintext-tcp', { host: address, port, protocol: 'http' }, pki);
        expect(got.raw).to.equal('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      }
    });

    it('closes a STRICT port without a byte for plaintext', async function () {
      const got = await probe('plaintext-http', { host: address, port: 8004, protocol: 'http' }, pki);
      expect(got.outcome).to.equal('deny');
      expect(got.raw).to.equal('');
    });

    it('answers an mTLS client that half-closes after sending its request', async function () {
      const raw = await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const c = tls.connect({ host: address, port: 8001, rejectUnauthorized: false, cert: pki.client.certPem, key: pki.client.keyPem, ALPNProtocols: ['istio'] }, () =>
          c.end('MESHCONFORM-PROBE half-close\n'),
        );
        c.on('data', (d: Buffer) => chunks.push(d));
        c.on('error', reject);
        c.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      });
      expect(parseEcho(raw)).to.include({ workload: 'foo/finance', port: 8001, received: 'plaintext' });
    });

    it('keeps serving after garbage, fragmented and truncated TLS records', async function () {
      const garbage = [
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0]), // handshake record holding a bogus hello
        Buffer.from([0x16, 0x03, 0x01]), // truncated header, then close
        Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01]), // absurd record length
        Buffer.alloc(300, 0xff),
      ];
      for (const bytes of garbage) {
        for (const port of [8001, 8002, 8005]) {
          await new Promise<void>((resolve) => {
            const s = net.connect({ host: address, port }, () => s.end(bytes));
            s.on('error', () => resolve());
            s.on('close', () => resolve());
            s.resume();
          });
        }
      }
      const got = await probe('mtls-tcp', { host: address, port: 8001, protocol: 'tcp' }, pki);
      expect(got.outcome).to.equal('allow');
    });
  });

  describe('multiple workloads in one process (MESHCONFORM_WORKLOAD_CONFIGS)', function () {
    it('serves each workload on its own address with its own modes', async function () {
      const a: WorkloadSpec = { namespace: 'foo', name: 'alpha', labels: { app: 'alpha' }, address: randomLoopback(), ports: [{ port: 9000, protocol: 'tcp' }] };
      const b: WorkloadSpec = { namespace: 'bar', name: 'beta', labels: { app: 'beta' }, address: randomLoopback(), ports: [{ port: 9000, protocol: 'tcp' }] };
      const started = await startEcho(dir, [a, b], pki);
      children.push(started.child);
      const policies = [policy('foo', 'strict-foo', { mtls: { mode: 'STRICT' } })];
      const files = [a, b].map((w) => {
        const f = join(dir, `multi-${w.name}.json`);
        writeJsonAtomic(f, workloadConfig(w, started.ports, pki, policies));
        return f;
      });
      children.push(await startSidecar(files));
      expect((await probe('plaintext-tcp', { host: a.address, port: 9000, protocol: 'tcp' }, pki)).outcome).to.equal('deny');
      const alpha = await probe('mtls-tcp', { host: a.address, port: 9000, protocol: 'tcp' }, pki);
      expect(alpha.echo?.workload).to.equal('foo/alpha');
      expect(alpha.serverIdentity).to.equal('spiffe://cluster.local/ns/foo/sa/alpha');
      const beta = await probe('plaintext-tcp', { host: b.address, port: 9000, protocol: 'tcp' }, pki);
      expect(beta.outcome).to.equal('allow');
      expect(beta.echo?.workload).to.equal('bar/beta');
    });
  });

  describe('SIGHUP reload', function () {
    it('switches a port from PERMISSIVE to STRICT after the config file is replaced atomically', async function () {
      const w: WorkloadSpec = { namespace: 'foo', name: 'reload', labels: { app: 'reload' }, address: randomLoopback(), ports: [{ port: 8080, protocol: 'http' }] };
      const { sidecar, configFile } = await bringUp(w, []);
      const target = { host: w.address, port: 8080, protocol: 'http' as const };
      expect((await probe('plaintext-http', target, pki)).outcome).to.equal('allow');

      writeJsonAtomic(configFile, workloadConfig(w, appPorts, pki, [policy('foo', 'lock', { selector: { matchLabels: { app: 'reload' } }, mtls: { mode: 'STRICT' } })]));
      const from = sidecar.lines.length;
      process.kill(sidecar.pid, 'SIGHUP');
      await sidecar.waitForLine((l) => l === 'reloaded' || l === 'reload-failed', from).then((l) => expect(l).to.equal('reloaded'));

      expect((await probe('plaintext-http', target, pki)).outcome).to.equal('deny');
      expect((await probe('tls-no-istio-alpn', target, pki)).outcome).to.equal('allow');
    });

    it('keeps the previous configuration when the new file is broken', async function () {
      const w: WorkloadSpec = { namespace: 'foo', name: 'broken', labels: {}, address: randomLoopback(), ports: [{ port: 8080, protocol: 'tcp' }] };
      const { sidecar, configFile } = await bringUp(w, [policy('foo', 'ns', { mtls: { mode: 'STRICT' } })]);
      writeJsonAtomic(configFile, { apiVersion: 'meshconform.dev/v1alpha1' });
      const from = sidecar.lines.length;
      process.kill(sidecar.pid, 'SIGHUP');
      expect(await sidecar.waitForLine((l) => l.startsWith('reload'), from)).to.equal('reload-failed');
      await sidecar.waitForStderr(/reload failed, keeping the previous configuration: workload config .*: workload: missing \(required\)/);
      expect((await probe('plaintext-tcp', { host: w.address, port: 8080, protocol: 'tcp' }, pki)).outcome).to.equal('deny');
    });
  });

  describe('server-first clients and an unreachable app', function () {
    it('handles a silent client as plaintext after the sniff timeout', async function () {
      const w: WorkloadSpec = { namespace: 'foo', name: 'silent', labels: {}, address: randomLoopback(), ports: [{ port: 7001, protocol: 'tcp' }] };
      await bringUp(w, [], { MESHCONFORM_SNIFF_TIMEOUT_MS: '100' });
      // PERMISSIVE: a client that stays silent past the sniff timeout is on the plaintext chain, so an Istio mTLS
      // handshake it starts afterwards is not terminated by the sidecar but reaches the app untouched.
      const silent = net.connect({ host: w.address, port: 7001 });
      await new Promise((r) => silent.once('connect', r));
      await new Promise((r) => setTimeout(r, 1000));
      const got = await probe('mtls-tcp', { host: w.address, port: 7001, protocol: 'tcp' }, pki, silent);
      expect(got.outcome).to.equal('passthrough');
      // without the wait the same client is terminated by the sidecar
      expect((await probe('mtls-tcp', { host: w.address, port: 7001, protocol: 'tcp' }, pki)).outcome).to.equal('allow');
    });

    it('closes a silent client on a STRICT port', async function () {
      const w: WorkloadSpec = { namespace: 'foo', name: 'silentstrict', labels: {}, address: randomLoopback(), ports: [{ port: 7003, protocol: 'tcp' }] };
      await bringUp(w, [policy('foo', 'ns', { mtls: { mode: 'STRICT' } })], { MESHCONFORM_SNIFF_TIMEOUT_MS: '100' });
      const s = net.connect({ host: w.address, port: 7003 });
      const received: Buffer[] = [];
      s.on('data', (d: Buffer) => received.push(d));
      await new Promise<void>((resolve) => {
        s.on('close', () => resolve());
        s.on('error', () => resolve());
      });
      expect(Buffer.concat(received).length).to.equal(0);
    });

    it('closes the client when the application is unreachable', async function () {
      const w: WorkloadSpec = { namespace: 'foo', name: 'noapp', labels: {}, address: randomLoopback(), ports: [{ port: 7004, protocol: 'tcp' }] };
      const closed = net.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const deadPort = (closed.address() as net.AddressInfo).port;
      await new Promise((r) => closed.close(r));
      const configFile = join(dir, 'noapp.json');
      writeJsonAtomic(configFile, workloadConfig(w, { 'foo/noapp|7004': deadPort }, pki, []));
      children.push(await startSidecar([configFile]));
      const got = await probe('plaintext-tcp', { host: w.address, port: 7004, protocol: 'tcp' }, pki);
      expect(got.outcome).to.equal('deny');
      expect(got.raw).to.equal('');
    });
  });

  describe('process lifecycle', function () {
    function config(w: WorkloadSpec, overrides: Record<string, unknown> = {}): string {
      const f = join(dir, `lifecycle-${Math.random().toString(36).slice(2)}.json`);
      writeJsonAtomic(f, { ...workloadConfig(w, { [`foo/${w.name}|${w.ports[0]?.port}`]: 1 }, pki, []), ...overrides });
      return f;
    }
    const spec = (port: number): WorkloadSpec => ({ namespace: 'foo', name: 'life', labels: {}, address: randomLoopback(), ports: [{ port, protocol: 'tcp' }] });

    it('exits 0 on SIGTERM', async function () {
      const sidecar = await startSidecar([config(spec(6001))]);
      const exit = await stopChild(sidecar);
      expect(exit).to.deep.equal({ code: 0, signal: null });
    });

    it('exits 2 with one clear line when the port is in use', async function () {
      const w = spec(6002);
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(6002, w.address, r));
      try {
        const child = startChild(SIDECAR, { MESHCONFORM_WORKLOAD_CONFIG: config(w) });
        children.push(child);
        expect((await child.exited).code).to.equal(2);
        expect(child.stderr()).to.equal(`reference-sidecar: cannot listen on ${w.address}:6002: address already in use\n`);
      } finally {
        await new Promise((r) => blocker.close(r));
      }
    });

    const badStarts: [string, () => Record<string, string>, RegExp][] = [
      ['no config variable', () => ({}), /set exactly one of MESHCONFORM_WORKLOAD_CONFIG .* or MESHCONFORM_WORKLOAD_CONFIGS/],
      ['both config variables', () => ({ MESHCONFORM_WORKLOAD_CONFIG: 'a', MESHCONFORM_WORKLOAD_CONFIGS: 'b' }), /set exactly one of/],
      ['a missing config file', () => ({ MESHCONFORM_WORKLOAD_CONFIG: join(dir, 'nope.json') }), /cannot read workload config .*nope\.json: no such file/],
      [
        'a missing certificate file',
        () => ({ MESHCONFORM_WORKLOAD_CONFIG: config(spec(6003), { tls: { certFile: join(dir, 'missing.crt'), keyFile: pki.client.keyFile, caFile: pki.meshCa.certFile } }) }),
        /cannot read TLS certificate file .*missing\.crt for foo\/life: no such file/,
      ],
      [
        'a certificate that does not match its key',
        () => ({ MESHCONFORM_WORKLOAD_CONFIG: config(spec(6004), { tls: { certFile: pki.meshCa.certFile, keyFile: pki.client.keyFile, caFile: pki.meshCa.certFile } }) }),
        /invalid TLS material for foo\/life/,
      ],
      [
        'an unknown policy mode',
        () => ({ MESHCONFORM_WORKLOAD_CONFIG: config(spec(6005), { policies: [policy('foo', 'x', { mtls: { mode: 'STRIKT' as never } })] }) }),
        /policies\[0\]\.spec\.mtls\.mode: expected one of UNSET, DISABLE, PERMISSIVE, STRICT, null, got "STRIKT"/,
      ],
      ['an unknown defect', () => ({ MESHCONFORM_WORKLOAD_CONFIG: config(spec(6006)), MESHCONFORM_DEFECTS: 'fail-open' }), /unknown defect 'fail-open'/],
    ];
    for (const [name, env, message] of badStarts) {
      it(`exits 2 with a clear message for ${name}`, async function () {
        const child = startChild(SIDECAR, env());
        children.push(child);
        expect((await child.exited).code).to.equal(2);
        const lines = child.stderr().trimEnd().split('\n');
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(message);
      });
    }
  });
});
