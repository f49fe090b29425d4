// HBONE probes (HTTP/2 CONNECT over mTLS to :15008) against real servers: a well-behaved node proxy, and hostile
// ones for every way an HBONE answer can go wrong. Each must end in a typed `denied` or `error`, never a crash,
// never `allowed` without the echo application's reply.
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import http2 from 'node:http2';
import type { AllowedObservation, DeniedObservation, ErrorObservation, Observation } from '../../src/model/index.js';
import { createMeshPki, type MeshPki } from '../../src/pki/index.js';
import { createProbeContext, hboneUnservedPort, runProbe, runProbes, type ProbeContext } from '../../src/probe/index.js';
import { FrameScanner, type WireFrame } from '../../src/probe/http2-frames.js';
import '../support/fuzz-seed.js';
import * as fx from './fixtures.js';
import { FINANCE, hboneJob, relayTo, startHboneServer, startTlsServer, type HboneServer } from './hbone-fixtures.js';

const TIMEOUT_MS = 3000;
const ID = { workload: 'foo/finance', port: 8080 };

function allowed(o: Observation): AllowedObservation {
  expect(o.status, JSON.stringify(o)).to.equal('allowed');
  // Every answer through a tunnel carries the CONNECT round trip as evidence.
  expect(o.timings.tunnelMs, 'HBONE CONNECT time').to.be.a('number').and.at.least(0);
  return o as AllowedObservation;
}
function denied(o: Observation): DeniedObservation {
  expect(o.status, JSON.stringify(o)).to.equal('denied');
  return o as DeniedObservation;
}
function errored(o: Observation): ErrorObservation {
  expect(o.status, JSON.stringify(o)).to.equal('error');
  return o as ErrorObservation;
}

/** Bounded wait for server-side sockets to close after a probe (cleanup, not a timing assertion). */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`gave up waiting: ${what}`);
}

describe('probe: HBONE clients', function () {
  let pki: MeshPki;
  let ctx: ProbeContext;
  let echoTcp: fx.TestServer;
  let echoHttp: fx.TestServer;
  const servers: HboneServer[] = [];
  const start = async (s: Promise<HboneServer>) => {
    const server = await s;
    servers.push(server);
    return server;
  };

  before(async function () {
    pki = createMeshPki({ trustDomain: 'cluster.local' });
    ctx = createProbeContext(pki.probeMaterial());
    echoTcp = await fx.startPlainEcho('tcp', ID);
    echoHttp = await fx.startPlainEcho('http', ID);
  });
  after(async function () {
    await Promise.all([...servers.map((s) => s.close()), echoTcp.close(), echoHttp.close()]);
  });

  describe('a well-behaved node proxy', function () {
    it('hbone on a tcp port: CONNECT address:port, the line through the tunnel, allowed over mtls with h2 evidence', async function () {
      const seen: { authority?: string; method?: string } = {};
      const srv = await start(startHboneServer(pki, relayTo(echoTcp.port, seen)));
      const o = allowed(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(seen).to.deep.equal({ method: 'CONNECT', authority: `${srv.address}:8080` });
      expect(o.path).to.equal('mtls');
      expect(o.echo).to.deep.equal({ workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'tcp' });
      expect(o.tls).to.include({ version: 'TLSv1.3', alpn: 'h2', serverIdentity: FINANCE, serverIssuer: 'mesh', serverIdentityOk: true });
      expect(o.timings.connectMs).to.be.a('number');
      expect(o.timings.handshakeMs).to.be.a('number');
      await eventually(() => srv.openSockets() === 0, 'the HBONE connection to close');
    });

    it('hbone on an http port: an HTTP/1.1 GET through the tunnel, allowed with HTTP 200', async function () {
      const srv = await start(startHboneServer(pki, relayTo(echoHttp.port)));
      const o = allowed(await runProbe(hboneJob('hbone', 'http', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.path).to.equal('mtls');
      expect(o.httpStatus).to.equal(200);
      expect(o.echo.protocol).to.equal('http');
    });

    it('the authority names the real workload port (R6.6), and hbone-unserved-port the port the job carries', async function () {
      const seen: { authority?: string } = {};
      const srv = await start(startHboneServer(pki, relayTo(echoTcp.port, seen)));
      allowed(await runProbe(hboneJob('hbone', 'tcp', srv.address, { port: 9090 }), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(seen.authority).to.equal(`${srv.address}:9090`);
      const unserved = hboneUnservedPort([9090, 15009]);
      expect(unserved).to.equal(15010);
      allowed(await runProbe(hboneJob('hbone-unserved-port', 'tcp', srv.address, { port: 9090, targetPort: unserved }), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(seen.authority).to.equal(`${srv.address}:15010`);
    });

    it('a node proxy presenting a certificate that is not the mesh identity: allowed (the echo answered) but serverIdentityOk is false', async function () {
      const srv = await start(startHboneServer(pki, relayTo(echoTcp.port), { certificate: 'app' }));
      const o = allowed(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.path).to.equal('mtls');
      expect(o.tls).to.include({ serverIssuer: 'app', serverIdentityOk: false });
    });
  });

  describe('the node proxy refuses the client certificate', function () {
    it('hbone-no-client-cert: TLS 1.3 certificate_required alert', async function () {
      const srv = await start(startHboneServer(pki, relayTo(echoTcp.port)));
      const o = denied(await runProbe(hboneJob('hbone-no-client-cert', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('tls-alert');
      expect(o.alert).to.deep.equal({ code: 116, name: 'certificate_required' });
    });

    for (const client of ['hbone-foreign-ca', 'hbone-expired'] as const) {
      it(`${client}: denied by the TLS layer, never allowed`, async function () {
        const srv = await start(startHboneServer(pki, relayTo(echoTcp.port)));
        const o = denied(await runProbe(hboneJob(client, 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
        expect(o.how).to.be.oneOf(['tls-alert', 'closed', 'reset']);
      });
    }
  });

  describe('the CONNECT is refused', function () {
    const respond =
      (status: number): Parameters<typeof startHboneServer>[1] =>
      (stream) =>
        stream.respond({ ':status': status }, { endStream: true });

    it('401 (RBAC deny, spec R6.3): http-status 401', async function () {
      const srv = await start(startHboneServer(pki, respond(401)));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o).to.include({ how: 'http-status', httpStatus: 401 });
      expect(o.detail).to.match(/CONNECT answered HTTP 401/);
    });

    it('503 (nothing serves the port): http-status 503', async function () {
      const srv = await start(startHboneServer(pki, respond(503)));
      const o = denied(await runProbe(hboneJob('hbone-unserved-port', 'tcp', srv.address, { targetPort: 15009 }), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o).to.include({ how: 'http-status', httpStatus: 503 });
    });

    it('400 (not a CONNECT the proxy accepts): protocol-error with the status', async function () {
      const srv = await start(startHboneServer(pki, respond(400)));
      const o = denied(await runProbe(hboneJob('hbone', 'http', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o).to.include({ how: 'protocol-error', httpStatus: 400 });
    });

    it('RST_STREAM before the response: reset, naming the error code', async function () {
      const srv = await start(startHboneServer(pki, (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('reset');
      expect(o.detail).to.match(/RST_STREAM REFUSED_STREAM/);
    });

    it('GOAWAY as soon as the session opens: closed, naming the GOAWAY', async function () {
      const srv = await start(startHboneServer(pki, () => {}, { onSession: (s) => s.goaway(http2.constants.NGHTTP2_NO_ERROR) }));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('closed');
      expect(o.detail).to.match(/GOAWAY NO_ERROR/);
    });

    it('GOAWAY with an error code: closed, naming the code', async function () {
      const srv = await start(startHboneServer(pki, () => {}, { onSession: (s) => s.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR) }));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('closed');
      expect(o.detail).to.match(/GOAWAY INTERNAL_ERROR/);
    });

    it('a server that never answers the CONNECT: timeout, saying what it waited for', async function () {
      const srv = await start(startHboneServer(pki, () => {}));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: 300 }));
      expect(o.how).to.equal('timeout');
      expect(o.detail).to.match(/waiting for the CONNECT response/);
    });
  });

  describe('malformed HBONE', function () {
    it('not HTTP/2 at all (an HTTP/1.1 answer after ALPN h2): protocol-error', async function () {
      const srv = await start(startTlsServer(pki, {}, (s) => s.write('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('protocol-error');
    });

    it('a SETTINGS frame with a bad length: protocol-error at once (the client GOAWAY is seen on the wire)', async function () {
      const bad = Buffer.from([0, 0, 5, 0x4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]);
      const srv = await start(startTlsServer(pki, {}, (s) => s.once('data', () => s.write(bad))));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: 10_000 }));
      expect(o.how).to.equal('protocol-error');
      expect(o.detail).to.match(/GOAWAY FRAME_SIZE_ERROR/);
    });

    it('the server closes right after the client preface (stream closed mid-handshake): closed', async function () {
      const srv = await start(startTlsServer(pki, {}, (s) => s.once('data', () => s.end())));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('closed');
      expect(o.detail).to.match(/before answering the CONNECT/);
    });

    it('the server negotiates no ALPN: protocol-error naming it', async function () {
      const srv = await start(startTlsServer(pki, { alpn: null }, () => {}));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('protocol-error');
      expect(o.detail).to.match(/no ALPN, not h2/);
      expect(o.tls?.alpn).to.equal(null);
    });

    it('the server only speaks http/1.1: the handshake fails with no_application_protocol', async function () {
      const srv = await start(startTlsServer(pki, { alpn: ['http/1.1'] }, () => {}));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('tls-alert');
      expect(o.alert?.name).to.equal('no_application_protocol');
    });

    it('200, then the tunnel ends without a byte: closed', async function () {
      const srv = await start(startHboneServer(pki, (stream) => stream.respond({ ':status': 200 }, { endStream: true })));
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('closed');
      expect(o.detail).to.match(/tunnel closed without a reply/);
    });

    it('200, then RST_STREAM before the reply: reset', async function () {
      const srv = await start(
        startHboneServer(pki, (stream) => {
          stream.respond({ ':status': 200 });
          stream.once('data', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
        }),
      );
      const o = denied(await runProbe(hboneJob('hbone', 'http', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('reset');
      expect(o.detail).to.match(/reset the tunnel \(RST_STREAM INTERNAL_ERROR\)/);
    });

    it('200, then bytes that are not the echo app: protocol-error, not allowed', async function () {
      const srv = await start(
        startHboneServer(pki, (stream) => {
          stream.respond({ ':status': 200 });
          stream.once('data', () => stream.end('hello from something else\n'));
        }),
      );
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('protocol-error');
    });

    it('200, then garbage where an HTTP response belongs: protocol-error', async function () {
      const srv = await start(
        startHboneServer(pki, (stream) => {
          stream.respond({ ':status': 200 });
          stream.once('data', () => stream.end('\x00\x01garbage\r\n\r\n'));
        }),
      );
      const o = denied(await runProbe(hboneJob('hbone', 'http', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('protocol-error');
    });

    it('200, then an echo-looking body that is not valid: error (a harness problem), not a denial', async function () {
      const srv = await start(
        startHboneServer(pki, (stream) => {
          stream.respond({ ':status': 200 });
          stream.once('data', () => stream.end('HTTP/1.1 200 OK\r\ncontent-length: 26\r\nconnection: close\r\n\r\n{"workload":1,"received":2'));
        }),
      );
      errored(await runProbe(hboneJob('hbone', 'http', srv.address), ctx, { timeoutMs: TIMEOUT_MS }));
    });
  });

  it('200 mixed HBONE probes at concurrency 16 leave no socket open on either side', async function () {
    const good = await start(startHboneServer(pki, relayTo(echoTcp.port)));
    const refusing = await start(startHboneServer(pki, (stream) => stream.respond({ ':status': 401 }, { endStream: true })));
    const resetting = await start(startHboneServer(pki, (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)));
    const kinds = [
      { client: 'hbone', srv: good, want: 'allowed' },
      { client: 'hbone-no-client-cert', srv: good, want: 'denied' },
      { client: 'hbone-foreign-ca', srv: good, want: 'denied' },
      { client: 'hbone', srv: refusing, want: 'denied' },
      { client: 'hbone', srv: resetting, want: 'denied' },
    ] as const;
    const jobs = Array.from({ length: 200 }, (_, i) => {
      const k = kinds[i % kinds.length]!;
      return { job: hboneJob(k.client, 'tcp', k.srv.address), want: k.want };
    });
    const baseline = readdirSync('/proc/self/fd').length;
    const results = await runProbes(
      jobs.map((j) => j.job),
      ctx,
      { concurrency: 16, timeoutMs: 10_000 },
    );
    for (const { job, want } of jobs) expect(results.get(job.key)?.status, `${job.client} → ${JSON.stringify(results.get(job.key))}`).to.equal(want);
    await eventually(() => [good, refusing, resetting].every((s) => s.openSockets() === 0), 'server-side sockets to close');
    expect(readdirSync('/proc/self/fd').length).to.be.at.most(baseline);
  });

  describe('harness errors, never denials', function () {
    it('nothing listens on 15008: refused (the diff counts it as an error, like a dead data plane)', async function () {
      const o = denied(await runProbe(hboneJob('hbone', 'tcp', '127.2.0.1'), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.how).to.equal('refused');
    });

    it('hbone-unserved-port whose job names the served port: error, the probe never asks the wrong question', async function () {
      const o = errored(await runProbe(hboneJob('hbone-unserved-port', 'tcp', '127.2.0.1'), ctx, { timeoutMs: TIMEOUT_MS }));
      expect(o.message).to.match(/must name a port the workload does not declare/);
    });

    it('a missing client credential is an error naming it', async function () {
      const bare = createProbeContext({ ...pki.probeMaterial(), clients: { mesh: pki.clients.mesh } });
      const o = errored(await runProbe(hboneJob('hbone-expired', 'tcp', '127.2.0.1'), bare, { timeoutMs: TIMEOUT_MS }));
      expect(o.message).to.match(/hbone-expired \(expired\)/);
    });
  });

  describe('fuzz: hostile bytes never pass and never crash', function () {
    it('random bytes after the TLS handshake (with or without a valid SETTINGS first)', async function () {
      this.timeout(120_000);
      const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
      let reply = Buffer.alloc(0);
      const srv = await start(startTlsServer(pki, {}, (s) => s.once('data', () => s.end(reply))));
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 64 }), async (withSettings, bytes) => {
          reply = withSettings ? Buffer.concat([settings, bytes]) : Buffer.from(bytes);
          const o = await runProbe(hboneJob('hbone', 'tcp', srv.address), ctx, { timeoutMs: 500 });
          expect(o.status, JSON.stringify(o)).to.not.equal('allowed');
        }),
        { numRuns: 40 },
      );
    });

    it('random bytes through an established tunnel', async function () {
      this.timeout(120_000);
      let reply = Buffer.alloc(0);
      const srv = await start(
        startHboneServer(pki, (stream) => {
          stream.respond({ ':status': 200 });
          stream.once('data', () => stream.end(reply));
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('tcp' as const, 'http' as const), fc.uint8Array({ minLength: 0, maxLength: 200 }), async (protocol, bytes) => {
          reply = Buffer.from(bytes);
          const o = await runProbe(hboneJob('hbone', protocol, srv.address), ctx, { timeoutMs: 1000 });
          expect(o.status, JSON.stringify(o)).to.not.equal('allowed');
        }),
        { numRuns: 40 },
      );
    });
  });
});

describe('probe: HTTP/2 frame scanner', function () {
  it('finds RST_STREAM and GOAWAY error codes across arbitrary chunk boundaries, after the client preface', function () {
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const frame = (type: number, streamId: number, payload: Buffer) => {
      const h = Buffer.alloc(9);
      h.writeUIntBE(payload.length, 0, 3);
      h[3] = type;
      h.writeUInt32BE(streamId, 5);
      return Buffer.concat([h, payload]);
    };
    const u32 = (...v: number[]) => Buffer.concat(v.map((n) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])));
    const wire = Buffer.concat([
      preface,
      frame(0x4, 0, Buffer.alloc(12)),
      frame(0x0, 1, Buffer.alloc(5000, 7)),
      frame(0x3, 1, u32(7)),
      frame(0x7, 0, Buffer.concat([u32(1, 6), Buffer.from('debug data')])),
    ]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 40 }), (cuts) => {
        const seen: WireFrame[] = [];
        const scanner = new FrameScanner((f) => seen.push(f), { clientPreface: true });
        let i = 0;
        for (const c of cuts) {
          if (i >= wire.length) break;
          scanner.push(wire.subarray(i, i + c));
          i += c;
        }
        scanner.push(wire.subarray(i));
        expect(seen.map((f) => [f.type, f.streamId, f.length, f.errorCode])).to.deep.equal([
          [0x4, 0, 12, undefined],
          [0x0, 1, 5000, undefined],
          [0x3, 1, 4, 7],
          [0x7, 0, 18, 6],
        ]);
      }),
    );
  });
});
