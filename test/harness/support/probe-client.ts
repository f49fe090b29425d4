// A small stand-in for the real probes (src/probe is another helper's area): fires one client kind at a port and
// classifies what came back as allow / passthrough / deny, with the evidence the tests assert on.
import net from 'node:net';
import tls from 'node:tls';
import type { DirectClientKind, EchoReply, PortProtocol } from '../../../src/model/index.js';
import { MX_ALPN, readPreamble } from '../../../harness/common/peer-exchange.mjs';
import { issuedBy, type Issued, type TestPki } from './test-pki.js';

export interface ProbeOutcome {
  readonly outcome: 'allow' | 'passthrough' | 'deny' | 'timeout';
  readonly echo?: EchoReply;
  /** Everything the server sent (decrypted for TLS clients), after a metadata-exchange preamble if there was one. */
  readonly raw: string;
  /** The server's istio-peer-exchange preamble, decoded (this client sends none of its own). */
  readonly mx?: { workload?: string; namespace?: string };
  /** Error code or 'closed'. */
  readonly detail: string;
  readonly serverIdentity?: string;
  readonly serverIssuer?: 'mesh' | 'app' | 'unknown';
  readonly alpn?: string | false | null;
}

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly protocol: PortProtocol;
}

const DEADLINE_MS = 5000;
const TCP_ALPN = ['istio-peer-exchange', 'istio'];
const HTTP_ALPN = ['istio-http/1.1'];

export function payloadFor(protocol: PortProtocol): string {
  return protocol === 'http' ? 'GET /probe HTTP/1.1\r\nhost: probe.test\r\nconnection: close\r\n\r\n' : 'MESHCONFORM-PROBE test|sidecar|foo/finance|1|probe\n';
}

interface TlsSpec {
  readonly cert?: Issued;
  readonly alpn?: string[];
  readonly payload: PortProtocol;
}

function specFor(kind: DirectClientKind, protocol: PortProtocol, pki: TestPki): { tls?: TlsSpec; payload: PortProtocol } {
  const istioAlpn = protocol === 'http' ? HTTP_ALPN : TCP_ALPN;
  switch (kind) {
    case 'plaintext-tcp':
      return { payload: 'tcp' };
    case 'plaintext-http':
      return { payload: 'http' };
    case 'mtls-tcp':
      return { tls: { cert: pki.client, alpn: TCP_ALPN, payload: 'tcp' }, payload: 'tcp' };
    case 'mtls-http':
      return { tls: { cert: pki.client, alpn: HTTP_ALPN, payload: 'http' }, payload: 'http' };
    case 'tls-no-client-cert':
      return { tls: { payload: protocol }, payload: protocol };
    case 'mtls-foreign-ca':
      return { tls: { cert: pki.foreignClient, alpn: istioAlpn, payload: protocol }, payload: protocol };
    case 'mtls-expired':
      return { tls: { cert: pki.expiredClient, alpn: istioAlpn, payload: protocol }, payload: protocol };
    case 'mtls-other-trust-domain':
      return { tls: { cert: pki.otherTrustDomainClient, alpn: istioAlpn, payload: protocol }, payload: protocol };
    case 'tls-no-istio-alpn':
      return { tls: { cert: pki.client, payload: protocol }, payload: protocol };
  }
}

/** Parse the echo app's answer (raw line or HTTP 200 with a JSON body). */
export function parseEcho(raw: string): EchoReply | undefined {
  try {
    if (raw.startsWith('MESHCONFORM-ECHO ')) return JSON.parse(raw.slice('MESHCONFORM-ECHO '.length).split('\n')[0] ?? '') as EchoReply;
    if (raw.startsWith('HTTP/1.1 200 ')) return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as EchoReply;
  } catch {
    return undefined;
  }
  return undefined;
}

/** Fire one client kind at a target and classify the result. */
export function probe(kind: DirectClientKind, target: ProbeTarget, pki: TestPki, socket?: net.Socket): Promise<ProbeOutcome> {
  const spec = specFor(kind, target.protocol, pki);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    let tlsInfo: Pick<ProbeOutcome, 'serverIdentity' | 'serverIssuer' | 'alpn'> = {};
    let conn: net.Socket;
    const finish = (detail: string, timedOut = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      let bytes = Buffer.concat(chunks);
      let mx: ProbeOutcome['mx'];
      if (tlsInfo.alpn === MX_ALPN) {
        const r = readPreamble(bytes);
        if (r.state === 'ok') {
          mx = r.peer;
          bytes = bytes.subarray(r.consumed);
        }
      }
      const raw = bytes.toString('latin1');
      const echo = parseEcho(raw);
      const outcome = timedOut ? 'timeout' : !echo ? 'deny' : echo.received === 'tls' ? 'passthrough' : 'allow';
      resolve({ outcome, raw, detail, ...(echo ? { echo } : {}), ...(mx ? { mx } : {}), ...tlsInfo });
    };
    const timer = setTimeout(() => finish('deadline', true), DEADLINE_MS);
    const payload = payloadFor(spec.payload);
    if (spec.tls) {
      const t = spec.tls;
      const c = tls.connect({
        ...(socket ? { socket } : { host: target.host, port: target.port }),
        rejectUnauthorized: false,
        ...(t.cert ? { cert: t.cert.certPem, key: t.cert.keyPem } : {}),
        ...(t.alpn ? { ALPNProtocols: t.alpn } : {}),
      });
      conn = c;
      c.on('secureConnect', () => {
        const peer = c.getPeerX509Certificate();
        tlsInfo = {
          alpn: c.alpnProtocol,
          ...(peer
            ? {
                serverIdentity:
                  (peer.subjectAltName ?? '')
                    .split(', ')
                    .find((s) => s.startsWith('URI:'))
                    ?.slice(4) ?? '',
                serverIssuer: issuedBy(peer, pki.meshCa) ? 'mesh' : issuedBy(peer, pki.appCa) ? 'app' : 'unknown',
              }
            : {}),
        };
        c.write(payload);
      });
    } else {
      conn = socket ?? net.connect({ host: target.host, port: target.port });
      if (socket) conn.write(payload);
      else conn.on('connect', () => conn.write(payload));
    }
    conn.on('data', (d: Buffer) => chunks.push(d));
    conn.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    conn.on('close', () => finish('closed'));
  });
}
