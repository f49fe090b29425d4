// Real loopback mTLS servers that negotiate `istio-peer-exchange` and then do (or botch) Istio's metadata exchange,
// for the mtls-tcp client of the host prober and of the probe agent.
import type net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { MeshPki } from '../../src/pki/index.js';
import { encodePreamble, MX_MAGIC } from '../../src/probe/peer-exchange.js';
import { HOST, type EchoIdentity, type TestServer } from './fixtures.js';

/**
 * `envoy`: on the client's first data, the preamble, then (once 8 bytes are in) the client's magic header drained and
 * the echo line answered; `absurd`: a header claiming a 2 GiB payload; `truncated`: the header and 5 of 40 payload
 * bytes, then close; `slow`: the same 5 bytes, then silence; `bad-magic`: 8 bytes that are not the magic, then the echo
 * line (a data plane that negotiates the ALPN without the exchange but writes first).
 */
export type MxBehaviour = 'envoy' | 'absurd' | 'truncated' | 'slow' | 'bad-magic';

export interface MxServer extends TestServer {
  /** What each connection passed on to the "application", after the exchange. */
  readonly appBytes: Buffer[];
}

const header = (length: number) => {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(MX_MAGIC, 0);
  h.writeUInt32BE(length, 4);
  return h;
};

export async function startMxServer(pki: MeshPki, id: EchoIdentity, behaviour: MxBehaviour): Promise<MxServer> {
  const [namespace, name] = id.workload.split('/') as [string, string];
  const cert = pki.issueWorkload({ namespace, serviceAccount: name, address: HOST });
  const appBytes: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const echoLine = `MESHCONFORM-ECHO ${JSON.stringify({ ...id, received: 'plaintext', protocol: 'tcp' })}\n`;
  const server = tls.createServer(
    { cert: cert.certPem, key: cert.keyPem, ca: pki.meshCaPem, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['istio-peer-exchange', 'h2', 'http/1.1'] },
    (socket) => {
      let buf = Buffer.alloc(0);
      let first = true;
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (first) {
          first = false;
          switch (behaviour) {
            case 'envoy':
              socket.write(
                encodePreamble(
                  { NAME: `${name}-7d9f`, NAMESPACE: namespace, WORKLOAD_NAME: name, CLUSTER_ID: 'Kubernetes' },
                  `sidecar~${HOST}~${name}-7d9f.${namespace}~${namespace}.svc.cluster.local`,
                ),
              );
              break;
            case 'absurd':
              socket.write(header(0x7fffffff));
              return;
            case 'truncated':
              socket.end(Buffer.concat([header(40), Buffer.from([0x0a, 0x05, 0x74, 0x79, 0x70])]));
              return;
            case 'slow':
              socket.write(Buffer.concat([header(40), Buffer.from([0x0a, 0x05, 0x74, 0x79, 0x70])]));
              return;
            case 'bad-magic':
              socket.write(Buffer.from([0x3d, 0x23, 0x00, 0x00, 0, 0, 0, 0]));
              break;
          }
        }
        if (behaviour !== 'envoy' && behaviour !== 'bad-magic') return;
        if (buf.length < 8) return;
        let start = 0;
        if (buf.readUInt32BE(0) === MX_MAGIC) {
          const length = buf.readUInt32BE(4);
          if (buf.length < 8 + length) return;
          start = 8 + length;
        }
        const rest = buf.subarray(start);
        if (rest.includes(0x0a)) {
          appBytes.push(Buffer.from(rest));
          socket.end(echoLine);
        }
      });
    },
  );
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
    appBytes,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
