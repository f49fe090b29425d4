// Real loopback servers that behave like the cases a probe must classify (echo app, mesh proxy, closers, resetters…).
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { ClientKind, EchoReply, PortProtocol, ProbeJob } from '../../src/model/index.js';
import type { MeshPki } from '../../src/pki/index.js';

export const HOST = '127.0.0.1';

export interface TestServer {
  readonly port: number;
  /** Server-side sockets still open (for the no-leak check). */
  readonly openSockets: () => number;
  close(): Promise<void>;
}

async function listen(server: net.Server): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  server.on('connection', track);
  server.on('secureConnection', track);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The echo application's raw TCP behaviour: read one line, answer `MESHCONFORM-ECHO <json>\n`, close. */
function echoLine(socket: net.Socket, reply: EchoReply): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buf += d;
    if (buf.includes('\n')) socket.end(`MESHCONFORM-ECHO ${JSON.stringify(reply)}\n`);
  });
}

/** The echo application's HTTP behaviour: 200 application/json with the EchoReply. */
function echoHttp(reply: (req: http.IncomingMessage) => EchoReply): http.Server {
  return http.createServer((req, res) => {
    const body = JSON.stringify(reply(req));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

export interface EchoIdentity {
  readonly workload: string;
  readonly port: number;
}

/** The echo app reached in plaintext (DISABLE, or PERMISSIVE plaintext). */
export function startPlainEcho(protocol: PortProtocol, id: EchoIdentity): Promise<TestServer> {
  if (protocol === 'tcp') return listen(net.createServer((s) => echoLine(s, { ...id, received: 'plaintext', protocol: 'tcp' })));
  return listen(echoHttp(() => ({ ...id, received: 'plaintext', protocol: 'http' })));
}

/**
 * A mesh sidecar that terminates mTLS (mesh CA, client cert required, trust-domain check) and hands the cleartext to
 * the echo app, like Envoy does. ALPN never fails the handshake; `istio-peer-exchange` is chosen on TCP ports.
 */
export function startMeshProxy(
  pki: MeshPki,
  protocol: PortProtocol,
  id: EchoIdentity,
  opts: { serviceAccount?: string; maxVersion?: tls.SecureVersion; caPem?: string } = {},
): Promise<TestServer> {
  const [namespace, name] = id.workload.split('/') as [string, string];
  const cert = pki.issueWorkload({ namespace, serviceAccount: opts.serviceAccount ?? name, address: HOST });
  const inner =
    protocol === 'http' ? echoHttp((req) => ({ ...id, received: 'plaintext', protocol: 'http', xfcc: String(req.headers['x-forwarded-client-cert'] ?? 'none') })) : undefined;
  const server = tls.createServer(
    {
      cert: cert.certPem,
      key: cert.keyPem,
      ca: opts.caPem ?? pki.meshCaPem,
      requestCert: true,
      rejectUnauthorized: true,
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
      // Node 20 fails the handshake (alert 120) when it selects nothing, so echo the client's first choice instead.
      ALPNCallback: ({ protocols }) => (protocol === 'tcp' && protocols.includes('istio-peer-exchange') ? 'istio-peer-exchange' : protocols[0]),
    },
    (socket) => {
      const san = socket.getPeerX509Certificate()?.subjectAltName ?? '';
      if (!san.includes(`URI:spiffe://${pki.trustDomain}/`)) {
        socket.destroy(); // authenticated but foreign trust domain
        return;
      }
      if (inner) inner.emit('connection', socket);
      else echoLine(socket, { ...id, received: 'plaintext', protocol: 'tcp' });
    },
  );
  return listen(server);
}

/** The echo app answering a ClientHello itself with its own (app CA) certificate: TLS passed through untouched. */
export function startAppTls(pki: MeshPki, protocol: PortProtocol, id: EchoIdentity): Promise<TestServer> {
  const app = pki.appIdentity();
  const inner = protocol === 'http' ? echoHttp(() => ({ ...id, received: 'tls', protocol: 'http' })) : undefined;
  return listen(
    tls.createServer({ cert: app.certPem, key: app.keyPem }, (socket) => {
      if (inner) inner.emit('connection', socket);
      else echoLine(socket, { ...id, received: 'tls', protocol: 'tcp' });
    }),
  );
}

/** Accepts, then closes cleanly (FIN) without a byte. */
export const startClosingServer = () => listen(net.createServer((s) => s.end()));
/** Accepts, then sends RST. */
export const startResettingServer = () => listen(net.createServer((s) => s.resetAndDestroy()));
/** Accepts and never says anything. */
export const startSilentServer = () => listen(net.createServer(() => {}));
/** Answers every request with this status (a data plane's own HTTP error, or some other application). */
export const startStatusServer = (status: number) => listen(http.createServer((_req, res) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}`)));
/** Answers one line with arbitrary bytes, then closes. */
export const startLineServer = (reply: string) =>
  listen(
    net.createServer((s) => {
      s.once('data', () => s.end(reply));
    }),
  );

/** A port with nothing listening (bound once, then released). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, HOST, r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

let seq = 0;
export function job(client: ClientKind, protocol: PortProtocol, targetPort: number, expectedServerIdentity = 'spiffe://cluster.local/ns/foo/sa/finance'): ProbeJob {
  seq++;
  return {
    key: `probe-test|sidecar|foo/finance|${targetPort}|${client}|${seq}`,
    scenario: 'probe-test',
    meshMode: 'sidecar',
    workload: 'foo/finance',
    port: 8080,
    protocol,
    client,
    address: HOST,
    targetPort,
    expectedServerIdentity,
  };
}
