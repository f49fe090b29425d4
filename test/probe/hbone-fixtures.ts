// Real HBONE-shaped servers on <random loopback address>:15008 — a well-behaved node proxy and hostile ones
// (wrong statuses, resets, GOAWAY, not HTTP/2 at all, garbage frames) — for the HBONE probe's classification tests.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { HboneClientKind, PortProtocol, ProbeJob } from '../../src/model/index.js';
import type { MeshPki } from '../../src/pki/index.js';

export const HBONE_PORT = 15008;
export const FINANCE = 'spiffe://cluster.local/ns/foo/sa/finance';

export interface HboneServer {
  readonly address: string;
  /** Server-side TLS sockets still open (for the no-leak check). */
  readonly openSockets: () => number;
  close(): Promise<void>;
}

/** A random 127/8 address outside the ranges the local backend (127.64–253) and the harness tests (127.100–199) use. */
function randomAddress(): string {
  const r = (n: number) => Math.floor(Math.random() * n);
  return `127.${3 + r(58)}.${r(250)}.${1 + r(250)}`;
}

export interface TlsServerOptions {
  /** The certificate the server presents: the target workload's (default) or the echo app's (not a mesh cert). */
  readonly certificate?: 'workload' | 'app';
  /** Require a client certificate chaining to the mesh CA (as a node proxy does). */
  readonly requireClientCert?: boolean;
  /** ALPN the server supports; `null`: none configured (the server negotiates nothing). */
  readonly alpn?: readonly string[] | null;
}

/** A TLS server on a fresh loopback address, port 15008; `onSecure` gets every accepted TLS socket. */
export async function startTlsServer(pki: MeshPki, opts: TlsServerOptions, onSecure: (socket: tls.TLSSocket) => void): Promise<HboneServer> {
  const identity = opts.certificate === 'app' ? pki.appIdentity() : pki.issueWorkload({ namespace: 'foo', serviceAccount: 'finance' });
  const sockets = new Set<net.Socket>();
  const alpn = opts.alpn === undefined ? ['h2'] : opts.alpn;
  const server = tls.createServer(
    {
      cert: identity.certPem,
      key: identity.keyPem,
      ca: pki.meshCaPem,
      requestCert: opts.requireClientCert ?? false,
      rejectUnauthorized: opts.requireClientCert ?? false,
      minVersion: 'TLSv1.3',
      ...(alpn ? { ALPNProtocols: [...alpn] } : {}),
    },
    (socket) => {
      socket.on('error', () => {});
      onSecure(socket);
    },
  );
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  for (let attempt = 0; ; attempt++) {
    const address = randomAddress();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port: HBONE_PORT, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return {
        address,
        openSockets: () => sockets.size,
        close: () =>
          new Promise<void>((resolve) => {
            for (const s of sockets) s.destroy();
            server.close(() => resolve());
          }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }
}

export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

/** A real HTTP/2 server behind the TLS server: `onStream` decides what each CONNECT gets. */
export function startHboneServer(
  pki: MeshPki,
  onStream: StreamHandler,
  opts: TlsServerOptions & { readonly onSession?: (session: http2.ServerHttp2Session) => void } = {},
): Promise<HboneServer> {
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    onStream(stream, headers);
  });
  h2.on('session', (session) => {
    session.on('error', () => {});
    opts.onSession?.(session);
  });
  h2.on('sessionError', () => {});
  return startTlsServer(pki, { requireClientCert: true, ...opts }, (socket) => h2.emit('connection', socket));
}

/** A node proxy that behaves: CONNECT → 200, then the stream is piped to `appPort` on 127.0.0.1. */
export function relayTo(appPort: number, seen?: { authority?: string; method?: string }): StreamHandler {
  return (stream, headers) => {
    if (seen) {
      seen.authority = String(headers[':authority']);
      seen.method = String(headers[':method']);
    }
    const up = net.connect({ host: '127.0.0.1', port: appPort }, () => {
      stream.respond({ ':status': 200 });
      stream.pipe(up);
      up.pipe(stream);
    });
    up.on('error', () => stream.close(http2.constants.NGHTTP2_CONNECT_ERROR));
    stream.on('close', () => up.destroy());
  };
}

let seq = 0;
/** An HBONE job: CONNECT `address:targetPort` through `address:15008`, at workload port `port`. */
export function hboneJob(client: HboneClientKind, protocol: PortProtocol, address: string, opts: { port?: number; targetPort?: number } = {}): ProbeJob {
  seq++;
  const port = opts.port ?? 8080;
  return {
    key: `probe-test|ambient|foo/finance|${port}|${client}|${seq}`,
    scenario: 'probe-test',
    meshMode: 'ambient',
    workload: 'foo/finance',
    port,
    protocol,
    client,
    address,
    targetPort: opts.targetPort ?? port,
    expectedServerIdentity: FINANCE,
  };
}
