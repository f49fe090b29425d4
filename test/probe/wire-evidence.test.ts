// Wire evidence (issue #15): the first bytes a server sent and the chain it presented, bounded, for every probe kind,
// against real servers on loopback — a well-behaved mTLS proxy with a chain, hostile byte streams and certificates, a
// TLS alert, an HBONE node proxy — and evidence gathering that never throws.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import forge from 'node-forge';
import type { ClientKind, Observation, PortProtocol, WireEvidence } from '../../src/model/index.js';
import { buildCertificate, type Issuer } from '../../src/pki/build-certificate.js';
import { createMeshPki, type MeshPki } from '../../src/pki/index.js';
import { generateKeyPair } from '../../src/pki/key-pair.js';
import { createProbeContext, runProbe, type ProbeContext } from '../../src/probe/index.js';
import { boundedText, chainEvidence, peerX509, ReceivedBytes, WIRE_BOUNDS, wireEvidence } from '../../src/probe/wire-evidence.js';
import * as fx from './fixtures.js';
import { startMxServer } from './mx-fixtures.js';
import { FINANCE, hboneJob, relayTo, startHboneServer, type HboneServer } from './hbone-fixtures.js';

const TIMEOUT_MS = 3000;
const ID = { workload: 'foo/finance', port: 8080 };
const MESH_ROOT = 'CN=meshconform mesh root CA (cluster.local), O=meshconform';
const PRINTABLE = /^[\x20-\x7e]*$/;
let pkiOnce: MeshPki | undefined;
/** One PKI for the file (key generation is the slow part). */
const meshPki = () => (pkiOnce ??= createMeshPki({ trustDomain: 'cluster.local' }));

/** A TCP (or TLS) server that answers the first bytes of every connection with `reply`, then closes. */
async function replyServer(reply: Buffer, tlsOptions?: tls.TlsOptions): Promise<fx.TestServer> {
  const sockets = new Set<net.Socket>();
  const answer = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.once('data', () => s.end(reply));
  };
  const server = tlsOptions ? tls.createServer(tlsOptions, answer) : net.createServer(answer);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, fx.HOST, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    openSockets: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An echo line server over mTLS presenting `certPem` (a chain: leaf first) — a sidecar that sends its intermediates. */
function chainServer(pki: MeshPki, certPem: string, keyPem: string): Promise<fx.TestServer> {
  const line = Buffer.from(`MESHCONFORM-ECHO ${JSON.stringify({ ...ID, received: 'plaintext', protocol: 'tcp' })}\n`);
  return replyServer(line, { cert: certPem, key: keyPem, ca: pki.meshCaPem, requestCert: true, rejectUnauthorized: true });
}

/** A UTF8String attribute (forge encodes the value itself). */
const utf8 = (name: string, value: string) => ({ name, value, valueTagClass: forge.asn1.Type.UTF8 }) as unknown as forge.pki.CertificateField;
const DAY = 86_400_000;

/** A root, `depth` intermediates under it, and a leaf with the given subject and SANs: PEM chain leaf first. */
function longChain(depth: number, leaf: { subject: forge.pki.CertificateField[]; sans: Parameters<typeof buildCertificate>[0]['sans'] }) {
  const validity = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY) };
  const rootKeys = generateKeyPair();
  const rootSubject = [{ name: 'commonName', value: 'wire root' }];
  const rootPem = buildCertificate({ subject: rootSubject, keys: rootKeys, ...validity, ca: true });
  let issuer: Issuer = { subject: rootSubject, keys: rootKeys };
  const intermediates: string[] = [];
  for (let i = 1; i <= depth; i++) {
    const keys = generateKeyPair();
    const subject = [
      { name: 'organizationName', value: 'wire' },
      { name: 'commonName', value: `wire intermediate ${i}` },
    ];
    intermediates.unshift(buildCertificate({ subject, issuer, keys, ...validity, ca: true }));
    issuer = { subject, keys };
  }
  const leafKeys = generateKeyPair();
  const leafPem = buildCertificate({ subject: leaf.subject, issuer, keys: leafKeys, ...validity, ca: false, ...(leaf.sans ? { sans: leaf.sans } : {}) });
  return { rootPem, chainPem: [leafPem, ...intermediates, rootPem].join(''), keyPem: leafKeys.privateKeyPem };
}

function wireOf(o: Observation): WireEvidence {
  expect(o.wire, JSON.stringify(o)).to.be.an('object');
  return o.wire!;
}

/** firstBytes are exactly the rendering of `sent` (the first 256 bytes), `total` all of them. */
function expectFirstBytes(w: WireEvidence, sent: Buffer): void {
  const head = sent.subarray(0, WIRE_BOUNDS.firstBytes);
  expect(w.firstBytes).to.deep.equal({ hex: head.toString('hex'), text: head.toString('latin1').replace(/[^\x20-\x7e]/g, '.'), total: sent.length });
}

describe('probe: wire evidence (first bytes, presented chain)', function () {
  let pki: MeshPki;
  let ctx: ProbeContext;
  const servers: { close(): Promise<void> }[] = [];
  const start = async <T extends { close(): Promise<void> }>(s: Promise<T>) => {
    const server = await s;
    servers.push(server);
    return server;
  };
  const probe = (client: ClientKind, protocol: PortProtocol, port: number, c = ctx) => runProbe(fx.job(client, protocol, port, FINANCE), c, { timeoutMs: TIMEOUT_MS });

  before(function () {
    pki = meshPki();
    ctx = createProbeContext(pki.probeMaterial());
  });
  after(async function () {
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('TLS: the presented chain', function () {
    it('an mTLS proxy sending leaf and root: both, leaf first, with one-line subjects and split SANs; the decrypted reply as first bytes', async function () {
      const cert = pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance', address: fx.HOST });
      const srv = await start(chainServer(pki, cert.certPem + pki.meshCaPem, cert.keyPem));
      const o = await probe('mtls-tcp', 'tcp', srv.port);
      expect(o.status, JSON.stringify(o)).to.equal('allowed');
      const w = wireOf(o);
      expect(w.chain).to.deep.equal([
        { subject: 'O=meshconform', issuer: MESH_ROOT, sans: [`URI:${FINANCE}`, `IP:${fx.HOST}`] },
        // The root is self-signed: the walk stops there.
        { subject: MESH_ROOT, issuer: MESH_ROOT, sans: [] },
      ]);
      expect(w.firstBytes?.text).to.match(/^MESHCONFORM-ECHO \{/);
      expect(w.firstBytes?.text.endsWith('.'), 'the newline, as a dot').to.equal(true);
      expect(Buffer.from(w.firstBytes!.hex, 'hex').toString('utf8')).to.equal(`MESHCONFORM-ECHO ${JSON.stringify({ ...ID, received: 'plaintext', protocol: 'tcp' })}\n`);
    });

    it('an HTTP probe over mTLS: the chain, and the HTTP response as first bytes', async function () {
      const srv = await start(fx.startMeshProxy(pki, 'http', ID));
      const w = wireOf(await probe('mtls-http', 'http', srv.port));
      // The proxy trusts the mesh root for client certificates, so OpenSSL sends it after the leaf.
      expect(w.chain).to.deep.equal([
        { subject: 'O=meshconform', issuer: MESH_ROOT, sans: [`URI:${FINANCE}`, `IP:${fx.HOST}`] },
        { subject: MESH_ROOT, issuer: MESH_ROOT, sans: [] },
      ]);
      expect(w.firstBytes?.text).to.match(/^HTTP\/1\.1 200 OK\.\./);
      expect(w.firstBytes?.total).to.be.at.least(w.firstBytes!.text.length);
    });

    it('a long chain with a hostile leaf: at most 4 certificates, 8 SANs each, 512 characters a string, control characters escaped; the issuer is still found through the intermediates', async function () {
      const longCn = 'x'.repeat(5000);
      const chain = longChain(4, {
        // DER order: the long name first, so it comes last in the one-line form and the escapes stay in view.
        subject: [{ name: 'commonName', value: longCn }, utf8('commonName', 'evil, O=forged\u0000\u001b[31mred\u202e\u0085'), { name: 'countryName', value: 'DE' }],
        sans: [
          { uri: 'spiffe://cluster.local/ns/foo/sa/finance' },
          { dns: 'a, b' },
          { dns: 'ctl\u0001\u001b[2J' },
          { ip: '::1' },
          { dns: 'd'.repeat(2000) },
          ...Array.from({ length: 20 }, (_, i) => ({ dns: `n${i}.example` })),
        ],
      });
      const material = { ...pki.probeMaterial(), meshCaPem: chain.rootPem };
      const srv = await start(replyServer(Buffer.from('not an echo\n'), { cert: chain.chainPem, key: chain.keyPem }));
      const o = await probe('tls-no-client-cert', 'tcp', srv.port, createProbeContext(material));
      // The leaf chains to the (test) mesh root through four intermediates the server sent.
      expect(o.tls?.serverIssuer).to.equal('mesh');
      const w = wireOf(o);
      expect(w.chain).to.have.length(WIRE_BOUNDS.chain);
      const [leaf, first, second, third] = w.chain!;
      for (const c of w.chain!) {
        for (const s of [c.subject, c.issuer, ...c.sans]) {
          expect(s.length).to.be.at.most(WIRE_BOUNDS.chars);
          expect(s).to.not.match(/[\p{Cc}\p{Cf}]/u);
        }
        expect(c.sans.length).to.be.at.most(WIRE_BOUNDS.sans);
      }
      expect(leaf!.subject.startsWith('C=DE, CN=evil\\, O=forged\\00\\1B[31mred\\E2\\80\\AE\\C2\\85, CN=xxxx')).to.equal(true);
      expect(leaf!.subject).to.have.length(WIRE_BOUNDS.chars);
      expect(leaf!.subject.endsWith('x…')).to.equal(true);
      expect(leaf!.issuer).to.equal('CN=wire intermediate 4, O=wire');
      expect(leaf!.sans).to.have.length(WIRE_BOUNDS.sans);
      expect(leaf!.sans.slice(0, 4)).to.deep.equal([`URI:${FINANCE}`, 'DNS:a, b', 'DNS:ctl\\01\\1B[2J', 'IP:0:0:0:0:0:0:0:1']);
      expect(leaf!.sans[4])
        .to.have.length(WIRE_BOUNDS.chars)
        .and.match(/^DNS:d+…$/);
      expect([first!.subject, second!.subject, third!.subject]).to.deep.equal([
        'CN=wire intermediate 4, O=wire',
        'CN=wire intermediate 3, O=wire',
        'CN=wire intermediate 2, O=wire',
      ]);
    });

    it('a TLS 1.3 alert after the handshake (no client certificate): the alert, the chain, no first bytes', async function () {
      const srv = await start(fx.startMeshProxy(pki, 'tcp', ID));
      const o = await probe('tls-no-client-cert', 'tcp', srv.port);
      expect(o).to.deep.include({ status: 'denied', how: 'tls-alert' });
      const w = wireOf(o);
      expect(w.firstBytes).to.equal(undefined);
      expect(w.chain?.[0]?.sans[0]).to.equal(`URI:${FINANCE}`);
    });

    it('a TLS 1.2 alert during the handshake: no wire evidence at all (nothing reached the client)', async function () {
      const srv = await start(fx.startMeshProxy(pki, 'tcp', ID, { maxVersion: 'TLSv1.2' }));
      const o = await probe('tls-no-client-cert', 'tcp', srv.port);
      expect(o).to.deep.include({ status: 'denied', how: 'tls-alert', alert: { code: 40, name: 'handshake_failure' } });
      expect(o.wire).to.equal(undefined);
    });

    it('a TLS client at a plaintext port: no handshake, no wire evidence (the raw bytes never reach JavaScript)', async function () {
      const srv = await start(replyServer(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')));
      const o = await probe('mtls-tcp', 'tcp', srv.port);
      expect(o.status).to.equal('denied');
      expect(o.wire).to.equal(undefined);
    });

    it('istio-peer-exchange: the preamble is the first thing the server sent (the mx evidence reads it); a broken one is there raw', async function () {
      const srv = await start(startMxServer(pki, ID, 'envoy'));
      const o = await probe('mtls-tcp', 'tcp', srv.port);
      expect(o).to.deep.include({ status: 'allowed', mx: { seen: true, workload: 'finance', namespace: 'foo' } });
      const w = wireOf(o);
      expect(w.firstBytes?.hex.startsWith('3d230467')).to.equal(true);
      expect(w.firstBytes?.total).to.be.greaterThan(8);
      const absurd = await start(startMxServer(pki, ID, 'absurd'));
      const bad = await probe('mtls-tcp', 'tcp', absurd.port);
      expect(bad.status).to.equal('error');
      expect(wireOf(bad).firstBytes?.hex.startsWith('3d230467')).to.equal(true);
    });

    it("keeps Node 20's peer certificate readable for a context that reads it itself (as the chaos driver's does)", async function () {
      const srv = await start(fx.startMeshProxy(pki, 'tcp', ID));
      let legacyRaw = false;
      const wrapped: ProbeContext = {
        secureContext: (c) => ctx.secureContext(c),
        tlsEvidence(socket, expected) {
          legacyRaw = Buffer.isBuffer(socket.getPeerCertificate().raw);
          return ctx.tlsEvidence(socket, expected);
        },
      };
      const o = await probe('mtls-tcp', 'tcp', srv.port, wrapped);
      expect(o.status).to.equal('allowed');
      expect(legacyRaw).to.equal(true);
      expect(o.tls).to.include({ serverIssuer: 'mesh', serverIdentityOk: true });
      expect(wireOf(o).chain).to.have.length(2);
    });
    it('a leaf seen before: its chain from the first connection, and the socket keeps its certificates to itself', async function () {
      const srv = await start(fx.startMeshProxy(pki, 'tcp', ID));
      const connect = () =>
        new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({ host: fx.HOST, port: srv.port, rejectUnauthorized: false });
          s.once('secureConnect', () => resolve(s));
          s.once('error', reject);
        });
      const [first, second] = [await connect(), await connect()];
      try {
        const a = peerX509(first)!;
        const b = peerX509(second)!;
        expect(b).to.equal(a);
        expect(peerX509(second)).to.equal(a);
        expect(chainEvidence(b)?.map((c) => c.subject)).to.deep.equal(['O=meshconform', MESH_ROOT]);
        // Answered from the first socket's chain, the second never handed its own out: Node's legacy object is intact.
        expect(Buffer.isBuffer(second.getPeerCertificate().raw)).to.equal(true);
      } finally {
        first.destroy();
        second.destroy();
      }
    });
  });

  describe('plaintext: hostile bytes', function () {
    const hostile = Buffer.concat([
      Buffer.from([0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xff, 0xfe, 0xc3, 0x28, 0x7f, 0x80, 0x9b, 0x0d]),
      Buffer.from('€ après'),
      Buffer.alloc(1000, 0x41),
    ]);

    it('plaintext-tcp: hex and text of the first 256 bytes only, the text plain ASCII, every byte counted', async function () {
      const srv = await start(replyServer(hostile));
      const o = await probe('plaintext-tcp', 'tcp', srv.port);
      expect(o).to.deep.include({ status: 'denied', how: 'protocol-error' });
      const w = wireOf(o);
      expectFirstBytes(w, hostile);
      expect(w.firstBytes!.hex)
        .to.have.length(2 * WIRE_BOUNDS.firstBytes)
        .and.match(/^[0-9a-f]+$/);
      expect(w.firstBytes!.text).to.have.length(WIRE_BOUNDS.firstBytes).and.match(PRINTABLE);
      expect(w.firstBytes!.text.startsWith('..[31m...(.....')).to.equal(true);
      expect(w.chain).to.equal(undefined);
    });

    it('plaintext-http: the bytes undici refused are the evidence', async function () {
      const srv = await start(replyServer(hostile));
      const w = wireOf(await probe('plaintext-http', 'http', srv.port));
      expect(w.firstBytes!.hex.startsWith(hostile.subarray(0, 16).toString('hex'))).to.equal(true);
      expect(w.firstBytes!.text).to.match(PRINTABLE);
      expect(w.firstBytes!.total).to.be.at.least(w.firstBytes!.text.length);
    });

    it('a short reply: all of it, total its length; silence and refusal: no evidence', async function () {
      const srv = await start(replyServer(Buffer.from('nope\n')));
      expectFirstBytes(wireOf(await probe('plaintext-tcp', 'tcp', srv.port)), Buffer.from('nope\n'));
      const closing = await start(fx.startClosingServer());
      expect((await probe('plaintext-tcp', 'tcp', closing.port)).wire).to.equal(undefined);
      expect((await probe('plaintext-tcp', 'tcp', await fx.freePort())).wire).to.equal(undefined);
    });
  });

  describe('HBONE: the node proxy chain, the tunnelled reply', function () {
    let echoTcp: fx.TestServer;
    let echoHttp: fx.TestServer;
    before(async function () {
      echoTcp = await start(fx.startPlainEcho('tcp', ID));
      echoHttp = await start(fx.startPlainEcho('http', ID));
    });

    it('the line through the tunnel, and the HTTP response through the tunnel', async function () {
      const srv = await start<HboneServer>(startHboneServer(pki, relayTo(echoTcp.port)));
      const line = await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS });
      expect(line.status, JSON.stringify(line)).to.equal('allowed');
      const w = wireOf(line);
      expect(w.chain).to.deep.equal([
        { subject: 'O=meshconform', issuer: MESH_ROOT, sans: [`URI:${FINANCE}`] },
        { subject: MESH_ROOT, issuer: MESH_ROOT, sans: [] },
      ]);
      expect(w.firstBytes?.text).to.match(/^MESHCONFORM-ECHO \{/);

      const httpSrv = await start<HboneServer>(startHboneServer(pki, relayTo(echoHttp.port)));
      const http = wireOf(await runProbe(hboneJob('hbone', 'http', httpSrv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(http.firstBytes?.text).to.match(/^HTTP\/1\.1 200 OK\.\./);
    });

    it('a refused CONNECT: the chain, no first bytes (nothing came through a tunnel)', async function () {
      const srv = await start<HboneServer>(startHboneServer(pki, (stream) => stream.respond({ ':status': 401 }, { endStream: true })));
      const o = await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS });
      expect(o).to.deep.include({ status: 'denied', how: 'http-status' });
      const w = wireOf(o);
      expect(w.firstBytes).to.equal(undefined);
      expect(w.chain?.[0]?.sans).to.deep.equal([`URI:${FINANCE}`]);
    });
  });
});

describe('probe: wire evidence pieces never throw and stay bounded', function () {
  it('ReceivedBytes keeps the first 256 bytes across chunks and counts the rest', function () {
    const r = new ReceivedBytes();
    expect(r.evidence()).to.equal(undefined);
    const all = Buffer.from(Array.from({ length: 700 }, (_, i) => i % 256));
    for (let i = 0; i < all.length; i += 100) r.push(all.subarray(i, i + 100));
    r.push(Buffer.alloc(0));
    const e = r.evidence()!;
    expect(e.total).to.equal(700);
    expect(e.hex).to.equal(all.subarray(0, 256).toString('hex'));
    expect(e.text).to.have.length(256).and.match(PRINTABLE);
    expect(e.text.slice(0x41, 0x44)).to.equal('ABC');
  });

  it('a chain that cycles or misbehaves ends the walk; a throwing certificate or socket leaves the evidence out', function () {
    const pki = meshPki();
    type Node = { -readonly [K in keyof X509Certificate]?: X509Certificate[K] };
    const node = (pem: string): Node => {
      const x = new X509Certificate(pem);
      return { fingerprint256: x.fingerprint256, subject: x.subject, issuer: x.issuer, subjectAltName: x.subjectAltName };
    };
    const leaf = node(pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance' }).certPem);
    const other = node(pki.appIdentity().certPem);
    leaf.issuerCertificate = other as X509Certificate;
    other.issuerCertificate = leaf as X509Certificate;
    expect(chainEvidence(leaf as X509Certificate)?.map((c) => c.subject)).to.deep.equal(['O=meshconform', 'CN=meshconform-echo-app, O=meshconform']);
    const root = node(pki.meshCaPem);
    root.issuerCertificate = root as X509Certificate;
    expect(chainEvidence(root as X509Certificate)).to.have.length(1);
    expect(chainEvidence(undefined)).to.equal(undefined);
    const hostile = new Proxy({} as X509Certificate, {
      get() {
        throw new Error('boom');
      },
    });
    expect(chainEvidence(hostile)).to.equal(undefined);
    const socket = {
      getPeerX509Certificate: () => {
        throw new Error('destroyed');
      },
    } as unknown as tls.TLSSocket;
    expect(peerX509(socket)).to.equal(undefined);
    const bad = {
      evidence: () => {
        throw new Error('boom');
      },
    } as unknown as ReceivedBytes;
    expect(wireEvidence(bad, undefined)).to.equal(undefined);
    expect(wireEvidence(new ReceivedBytes(), undefined)).to.equal(undefined);
  });

  it('boundedText escapes control, format and separator characters and never cuts a surrogate pair', function () {
    expect(boundedText('a\u0000b\u001b[0m\u202e\u2028\u0085é')).to.equal('a\\00b\\1B[0m\\E2\\80\\AE\\E2\\80\\A8\\C2\\85é');
    const emoji = `${'x'.repeat(WIRE_BOUNDS.chars - 2)}😀😀`;
    const cut = boundedText(emoji);
    expect(cut.length).to.be.at.most(WIRE_BOUNDS.chars);
    expect(cut.endsWith('…')).to.equal(true);
    expect(cut).to.not.match(/[\uD800-\uDBFF]…$/);
    expect(boundedText('y'.repeat(100_000))).to.have.length(WIRE_BOUNDS.chars);
  });
});
