import type { DenialKind, EchoReply } from '../model/index.js';
import { parseEchoLine } from './echo-reply.js';
import { receivedAlert } from './tls-alerts.js';

/** What one exchange ended in, before timings and TLS evidence are attached. */
export type Outcome =
  | { readonly kind: 'echo'; readonly echo: EchoReply; readonly httpStatus?: number }
  | {
      readonly kind: 'denied';
      readonly how: DenialKind;
      readonly detail: string;
      readonly alert?: { readonly code?: number; readonly name: string };
      readonly httpStatus?: number;
    }
  | { readonly kind: 'error'; readonly message: string };

export const denied = (how: DenialKind, detail: string, extra: { alert?: { code?: number; name: string }; httpStatus?: number } = {}): Outcome => ({
  kind: 'denied',
  how,
  detail,
  ...extra,
});

/** Our side could not run the probe: the host ran out of something, or the target is not a usable address. */
const LOCAL_ERRORS = new Set([
  'EMFILE',
  'ENFILE',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'ENOBUFS',
  'ENOMEM',
  'EINVAL',
  'EACCES',
  'EPERM',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_SOCKET_BAD_PORT',
]);

/** Bytes that are not TLS where TLS was expected (a plaintext port answering a ClientHello). */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LAYER_FAILURE']);

/**
 * The denial taxonomy for a socket-level error. Only errors the peer (or the path to it) caused are denials;
 * anything else is `error`, which never counts as a denial.
 */
export function outcomeOfError(err: unknown): Outcome {
  if (!(err instanceof Error)) return { kind: 'error', message: `probe failed: ${String(err)}` };
  const code = (err as NodeJS.ErrnoException).code;
  const detail = code ? `${code}: ${err.message}` : err.message;
  const alert = receivedAlert({ code, message: err.message });
  if (alert) return denied('tls-alert', detail, { alert });
  switch (code) {
    case 'ECONNREFUSED':
      return denied('refused', detail);
    case 'ECONNRESET':
    case 'EPIPE':
      // Node reports a clean FIN during the handshake as ECONNRESET with this message: no RST was seen.
      if (/socket disconnected before secure TLS connection was established/.test(err.message)) return denied('closed', detail);
      return denied('reset', detail);
    case 'ETIMEDOUT':
      return denied('timeout', detail);
  }
  if (code && NOT_TLS.has(code)) return denied('protocol-error', detail);
  if (code && LOCAL_ERRORS.has(code)) return { kind: 'error', message: `probe could not run: ${detail}` };
  if (code?.startsWith('ERR_SSL_')) return denied('protocol-error', detail);
  return { kind: 'error', message: `probe failed: ${detail}` };
}

const HTTP_STATUS_LINE = /^HTTP\/\d(?:\.\d)? (\d{3})\b/;

/** The first reply line of a raw (non-HTTP-client) exchange. */
export function outcomeOfReplyLine(line: string): Outcome {
  const echo = parseEchoLine(line);
  if (echo) return echo.kind === 'echo' ? { kind: 'echo', echo: echo.echo } : { kind: 'error', message: `malformed echo reply: ${echo.why}` };
  const status = HTTP_STATUS_LINE.exec(line);
  if (status) return outcomeOfHttpStatus(Number(status[1]), printable(line));
  return denied('protocol-error', `non-echo reply: ${printable(line)}`);
}

/** A response that is not the echo app's: 400/426 are the data plane rejecting the protocol, anything else a status. */
export function outcomeOfHttpStatus(status: number, detail: string): Outcome {
  return status === 400 || status === 426 ? denied('protocol-error', detail, { httpStatus: status }) : denied('http-status', detail, { httpStatus: status });
}

/** Short, single-line, ASCII-safe rendering of bytes a peer sent, for `detail`. */
export function printable(text: string, max = 120): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '.');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
