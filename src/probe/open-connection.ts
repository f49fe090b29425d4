import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { MxEvidence, ProbeJob, TlsEvidence } from '../model/index.js';
import type { ProbeContext } from './probe-context.js';
import { chainEvidence, peerX509, ReceivedBytes, type ChainEvidence } from './wire-evidence.js';

/** What happened on one probe connection, recorded as it happens (the classifier reads it afterwards). */
export interface ConnectionTrace {
  readonly t0: number;
  /** `connect`: no TCP yet; `handshake`: TCP up, TLS not finished; `reply`: payload sent, waiting. */
  phase: 'connect' | 'handshake' | 'reply';
  connectMs?: number;
  handshakeMs?: number;
  tls?: TlsEvidence;
  /** The server's metadata-exchange preamble (peer-exchange.ts), once read. */
  mx?: MxEvidence;
  /** The certificate chain the server presented (TLS only), bounded. */
  chain?: ChainEvidence;
  /**
   * What the server sent, as the exchange read it: the decrypted bytes after TLS, the raw ones without; for HBONE,
   * what came through the tunnel. Bytes of a failed handshake never reach JavaScript, so they are not here.
   */
  readonly received?: ReceivedBytes;
  /** The first error the socket emitted. */
  error?: Error;
  /** The peer closed its side (FIN). */
  eof: boolean;
}

export interface TlsOptions {
  readonly secureContext: tls.SecureContext;
  readonly alpn: readonly string[] | undefined;
}

/**
 * Opens a NEW TCP connection (and TLS, if asked) to the job's target and records connect/handshake timings, TLS
 * evidence, the first error and EOF. `onReady` runs when the payload may be sent: TCP connect for plaintext,
 * `secureConnect` for TLS (in TLS 1.3 the server may still reject the client certificate after that).
 */
export function openConnection(
  job: ProbeJob,
  ctx: ProbeContext,
  tlsOptions: TlsOptions | null,
  onReady: (socket: net.Socket) => void,
): { socket: net.Socket; trace: ConnectionTrace } {
  const trace: ConnectionTrace = { t0: performance.now(), phase: 'connect', eof: false, received: new ReceivedBytes() };
  const elapsed = () => performance.now() - trace.t0;
  const socket = tlsOptions
    ? tls.connect({
        host: job.address,
        port: job.targetPort,
        secureContext: tlsOptions.secureContext,
        ...(tlsOptions.alpn ? { ALPNProtocols: [...tlsOptions.alpn] } : {}),
        // The probe judges the server certificate itself (serverIssuer, serverIdentityOk); it must see every server.
        rejectUnauthorized: false,
      })
    : net.connect({ host: job.address, port: job.targetPort });
  socket.once('connect', () => {
    trace.connectMs = elapsed();
    if (tlsOptions) {
      trace.phase = 'handshake';
    } else {
      trace.phase = 'reply';
      onReady(socket);
    }
  });
  if (tlsOptions) {
    socket.once('secureConnect', () => {
      trace.handshakeMs = elapsed() - (trace.connectMs ?? 0);
      trace.tls = ctx.tlsEvidence(socket as tls.TLSSocket, job.expectedServerIdentity);
      // After the context, which may read Node's legacy peer object first (wire-evidence.ts peerX509).
      trace.chain = chainEvidence(peerX509(socket as tls.TLSSocket));
      trace.phase = 'reply';
      onReady(socket);
    });
  }
  socket.on('error', (err) => {
    trace.error ??= err;
  });
  socket.once('end', () => {
    trace.eof = true;
  });
  return { socket, trace };
}

/** Resolves once the socket's handle is closed, so a finished probe never holds a file descriptor. */
export function closed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
