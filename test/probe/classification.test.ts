import { expect } from 'chai';
import type { AllowedObservation, ClientKind, DeniedObservation, Observation, PortProtocol } from '../../src/model/index.js';
import { createMeshPki, type MeshPki } from '../../src/pki/index.js';
import { createProbeContext, runProbe, type ProbeContext } from '../../src/probe/index.js';
import * as fx from './fixtures.js';

const TIMEOUT_MS = 3000;
const ID = { workload: 'foo/finance', port: 8080 };
const FINANCE = 'spiffe://cluster.local/ns/foo/sa/finance';

function allowed(o: Observation): AllowedObservation {
  expect(o.status, JSON.stringify(o)).to.equal('allowed');
  return o as AllowedObservation;
}
function denied(o: Observation): DeniedObservation {
  expect(o.status, JSON.stringify(o)).to.equal('denied');
  return o as DeniedObservation;
}

describe('probe: classification against real servers', function () {
  let pki: MeshPki;
  let ctx: ProbeContext;
  const servers: fx.TestServer[] = [];
  const start = async (s: Promise<fx.TestServer>) => {
    const server = await s;
    servers.push(server);
    return server;
  };
  const probe = (client: ClientKind, protocol: PortProtocol, port: number, timeoutMs = TIMEOUT_MS) => runProbe(fx.job(client, protocol, port, FINANCE), ctx, { timeoutMs });

  before(function () {
    pki = createMeshPki({ trustDomain: 'cluster.local' });
    ctx = createProbeContext(pki.probeMaterial());
  });
  after(async function () {
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('the echo application reached in plaintext', function () {
    it('plaintext-tcp on a tcp port: allowed, plaintext path, echo parsed, timings recorded', async function () {
      const srv = await start(fx.startPlainEcho('tcp', ID));
      const o = allowed(await probe('plaintext-tcp', 'tcp', srv.port));
      expect(o.path).to.equal('plaintext');
      expect(o.echo).to.deep.equal({ workload: 'foo/finance', port: 8080, received: 'plaintext', protocol: 'tcp' });
      expect(o.tls).to.equal(undefined);
      expect(o.attempts).to.equal(1);
      expect(o.timings.connectMs).to.be.a('number');
      expect(o.timings.totalMs).to.be.at.least(o.timings.connectMs!);
    });

    it('plaintext-http on an http port: allowed with HTTP 200', async function () {
      const srv = await start(fx.startPlainEcho('http', ID));
      const o = allowed(await probe('plaintext-http', 'http', srv.port));
      expect(o.path).to.equal('plaintext');
      expect(o.httpStatus).to.equal(200);
      expect(o.echo.protocol).to.equal('http');
    });

    it('plaintext-http to a raw tcp echo: the raw echo line still proves the app answered', async function () {
      const srv = await start(fx.startPlainEcho('tcp', ID));
      const o = allowed(await probe('plaintext-http', 'tcp', srv.port));
      expect(o.echo.protocol).to.equal('tcp');
    });

    it('plaintext-tcp to an HTTP server: protocol-error with the 400 status', async function () {
      const srv = await start(fx.startPlainEcho('http', ID));
      const o = denied(await probe('plaintext-tcp', 'http', srv.port));
      expect(o.how).to.equal('protocol-error');
      expect(o.httpStatus).to.equal(400);
    });

    it('TLS clients to a plaintext HTTP port: protocol-error (wrong version number), never allowed', async function () {
      const srv = await start(fx.startPlainEcho('http', ID));
      for (const client of ['mtls-http', 'tls-no-client-cert', 'mtls-foreign-ca', 'tls-no-istio-alpn'] as const) {
        const o = denied(await probe(client, 'http', srv.port));
        expect(o.how, client).to.equal('protocol-error');
        expect(o.detail, client).to.match(/ERR_SSL_WRONG_VERSION_NUMBER/);
      }
    });
  });

  describe('a mesh data plane terminating mTLS (TLS 1.3)', function () {
    let tcp: fx.TestServer;
    let http: fx.TestServer;
    before(async function () {
      tcp = await start(fx.startMeshProxy(pki, 'tcp', ID));
      http = await start(fx.startMeshProxy(pki, 'http', ID));
    });

    it('mtls-tcp: allowed over the mtls path with the Istio ALPN and the workload identity', async function () {
      const o = allowed(await probe('mtls-tcp', 'tcp', tcp.port));
      expect(o.path).to.equal('mtls');
      expect(o.echo.received).to.equal('plaintext');
      expect(o.tls).to.deep.equal({ version: 'TLSv1.3', alpn: 'istio-peer-exchange', serverIdentity: FINANCE, serverIssuer: 'mesh', serverIdentityOk: true });
      expect(o.timings.handshakeMs).to.be.a('number');
    });

    it('mtls-http: allowed over HTTP through undici with ALPN istio-http/1.1 kept', async function () {
      const o = allowed(await probe('mtls-http', 'http', http.port));
      expect(o.path).to.equal('mtls');
      expect(o.httpStatus).to.equal(200);
      expect(o.echo.protocol).to.equal('http');
      expect(o.tls?.alpn).to.equal('istio-http/1.1');
      expect(o.tls?.serverIdentityOk).to.equal(true);
    });

    it('tls-no-istio-alpn: allowed, no ALPN negotiated, payload follows the port protocol', async function () {
      const onTcp = allowed(await probe('tls-no-istio-alpn', 'tcp', tcp.port));
      expect(onTcp.tls?.alpn).to.equal(null);
      expect(onTcp.echo.protocol).to.equal('tcp');
      const onHttp = allowed(await probe('tls-no-istio-alpn', 'http', http.port));
      expect(onHttp.echo.protocol).to.equal('http');
    });

    it('tls-no-client-cert: a tls-alert certificate_required (116) although secureConnect fired first', async function () {
      for (const [protocol, srv] of [
        ['tcp', tcp],
        ['http', http],
      ] as const) {
        const o = denied(await probe('tls-no-client-cert', protocol, srv.port));
        expect(o.how).to.equal('tls-alert');
        expect(o.alert).to.deep.equal({ code: 116, name: 'certificate_required' });
        expect(o.tls?.version).to.equal('TLSv1.3'); // the client saw a finished handshake: only the reply counts
      }
    });

    it('foreign CA, expired and other-trust-domain certificates: denied (closed after the TLS 1.3 handshake)', async function () {
      for (const client of ['mtls-foreign-ca', 'mtls-expired', 'mtls-other-trust-domain'] as const) {
        for (const [protocol, srv] of [
          ['tcp', tcp],
          ['http', http],
        ] as const) {
          const o = denied(await probe(client, protocol, srv.port));
          expect(o.how, `${client} on ${protocol}`).to.equal('closed');
        }
      }
    });

    it('plaintext clients to an mTLS port: denied, closed', async function () {
      expect(denied(await probe('plaintext-tcp', 'tcp', tcp.port)).how).to.equal('closed');
      expect(denied(await probe('plaintext-http', 'http', http.port)).how).to.equal('closed');
    });

    it('mtls-tcp raw bytes to an HTTP mTLS port: terminated, then an HTTP protocol error', async function () {
      const o = denied(await probe('mtls-tcp', 'http', http.port));
      expect(o.how).to.equal('protocol-error');
      expect(o.httpStatus).to.equal(400);
      expect(o.tls?.serverIssuer).to.equal('mesh');
    });

    it('reports the wrong server identity: allowed but serverIdentityOk false', async function () {
      const impostor = await start(fx.startMeshProxy(pki, 'tcp', ID, { serviceAccount: 'impostor' }));
      const o = allowed(await probe('mtls-tcp', 'tcp', impostor.port));
      expect(o.tls?.serverIssuer).to.equal('mesh');
      expect(o.tls?.serverIdentity).to.equal('spiffe://cluster.local/ns/foo/sa/impostor');
      expect(o.tls?.serverIdentityOk).to.equal(false);
    });
  });

  describe('TLS servers that reject client certificates', function () {
    it('TLS 1.2: no client certificate is a handshake_failure alert (40)', async function () {
      const srv = await start(fx.startMeshProxy(pki, 'tcp', ID, { maxVersion: 'TLSv1.2' }));
      const o = denied(await probe('tls-no-client-cert', 'tcp', srv.port));
      expect(o.how).to.equal('tls-alert');
      expect(o.alert).to.deep.equal({ code: 40, name: 'handshake_failure' });
      expect(o.tls).to.equal(undefined);
    });

    it('a server trusting another CA rejects even the mesh client: denied, never allowed', async function () {
      const srv = await start(fx.startMeshProxy(pki, 'tcp', ID, { caPem: pki.foreignCaPem }));
      for (const client of ['mtls-tcp', 'mtls-http', 'tls-no-istio-alpn', 'mtls-expired'] as const) {
        const o = denied(await probe(client, 'tcp', srv.port));
        expect(['closed', 'tls-alert', 'reset'], client).to.include(o.how);
      }
    });
  });

  describe('pass-through: the echo app answering TLS itself', function () {
    it('TLS clients get the app certificate and an echo that received TLS: passthrough path', async function () {
      const tcp = await start(fx.startAppTls(pki, 'tcp', ID));
      const http = await start(fx.startAppTls(pki, 'http', ID));
      for (const client of ['mtls-tcp', 'tls-no-client-cert', 'mtls-foreign-ca', 'tls-no-istio-alpn'] as const) {
        const o = allowed(await probe(client, 'tcp', tcp.port));
        expect(o.path, client).to.equal('passthrough');
        expect(o.echo.received).to.equal('tls');
        expect(o.tls?.serverIssuer).to.equal('app');
        expect(o.tls?.serverIdentity).to.equal(null);
        expect(o.tls?.serverIdentityOk).to.equal(false);
      }
      const o = allowed(await probe('mtls-http', 'http', http.port));
      expect(o.path).to.equal('passthrough');
      expect(o.httpStatus).to.equal(200);
    });
  });

  describe('the denial taxonomy', function () {
    const everyClient = ['plaintext-tcp', 'plaintext-http', 'mtls-tcp', 'mtls-http', 'tls-no-client-cert'] as const;

    it('nothing listening: refused', async function () {
      const port = await fx.freePort();
      for (const client of everyClient) {
        const o = denied(await probe(client, 'tcp', port));
        expect(o.how, client).to.equal('refused');
        expect(o.detail).to.match(/ECONNREFUSED/);
      }
    });

    it('a server that closes at once: closed', async function () {
      const srv = await start(fx.startClosingServer());
      for (const client of everyClient) {
        for (const protocol of ['tcp', 'http'] as const) {
          expect(denied(await probe(client, protocol, srv.port)).how, `${client} ${protocol}`).to.equal('closed');
        }
      }
    });

    it('a server that resets: reset', async function () {
      const srv = await start(fx.startResettingServer());
      for (const client of everyClient) {
        for (const protocol of ['tcp', 'http'] as const) {
          expect(denied(await probe(client, protocol, srv.port)).how, `${client} ${protocol}`).to.equal('reset');
        }
      }
    });

    it('a server that never answers: timeout, saying what the probe was waiting for', async function () {
      const srv = await start(fx.startSilentServer());
      const plain = denied(await probe('plaintext-tcp', 'tcp', srv.port, 300));
      expect(plain.how).to.equal('timeout');
      expect(plain.detail).to.match(/waiting for a reply/);
      const http = denied(await probe('plaintext-http', 'http', srv.port, 300));
      expect(http.how).to.equal('timeout');
      for (const client of ['mtls-tcp', 'mtls-http'] as const) {
        const o = denied(await probe(client, 'http', srv.port, 300));
        expect(o.how, client).to.equal('timeout');
        expect(o.detail).to.match(/waiting for the TLS handshake/);
      }
    });

    it('an HTTP status from something that is not the echo app: http-status; 400/426: protocol-error', async function () {
      const forbidden = await start(fx.startStatusServer(403));
      const o = denied(await probe('plaintext-http', 'http', forbidden.port));
      expect(o.how).to.equal('http-status');
      expect(o.httpStatus).to.equal(403);
      const upgrade = await start(fx.startStatusServer(426));
      const u = denied(await probe('plaintext-http', 'http', upgrade.port));
      expect(u.how).to.equal('protocol-error');
      expect(u.httpStatus).to.equal(426);
      const ok = await start(fx.startStatusServer(200));
      const notEcho = denied(await probe('plaintext-http', 'http', ok.port));
      expect(notEcho.how).to.equal('http-status');
      expect(notEcho.httpStatus).to.equal(200);
    });

    it('a non-echo raw reply: protocol-error', async function () {
      const srv = await start(fx.startLineServer('SSH-2.0-OpenSSH_9.2\r\n'));
      const o = denied(await probe('plaintext-tcp', 'tcp', srv.port));
      expect(o.how).to.equal('protocol-error');
      expect(o.detail).to.include('SSH-2.0');
    });
  });

  describe('harness errors are never denials', function () {
    it('an unparseable reply in the echo framing: error', async function () {
      const srv = await start(fx.startLineServer('MESHCONFORM-ECHO {"workload": oops\n'));
      const o = await probe('plaintext-tcp', 'tcp', srv.port);
      expect(o.status).to.equal('error');
      expect((o as { message: string }).message).to.match(/malformed echo reply/);
    });

    it('a bad job: error, no connection attempted', async function () {
      const bad = { ...fx.job('plaintext-tcp', 'tcp', 1), targetPort: 70000 };
      const o = await runProbe(bad, ctx, { timeoutMs: 300 });
      expect(o.status).to.equal('error');
      expect((o as { message: string }).message).to.match(/bad target port/);
      const unknown = { ...fx.job('plaintext-tcp', 'tcp', 1), client: 'carrier-pigeon' as ClientKind };
      expect((await runProbe(unknown, ctx, { timeoutMs: 300 })).status).to.equal('error');
    });

    it('missing client material: error for the probes that need it only', async function () {
      const srv = await start(fx.startMeshProxy(pki, 'tcp', ID));
      const partial = createProbeContext({ meshCaPem: pki.meshCaPem, appCaPem: pki.appCaPem, clients: { mesh: pki.clients.mesh } });
      const o = await runProbe(fx.job('mtls-expired', 'tcp', srv.port), partial, { timeoutMs: TIMEOUT_MS });
      expect(o.status).to.equal('error');
      expect((o as { message: string }).message).to.match(/no client certificate material for mtls-expired/);
      expect((await runProbe(fx.job('mtls-tcp', 'tcp', srv.port, FINANCE), partial, { timeoutMs: TIMEOUT_MS })).status).to.equal('allowed');
    });
  });
});
