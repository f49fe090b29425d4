import type { CellResult, DecidingPolicy, DeniedObservation, Observation } from '../model/index.js';

export { CLIENT_SHORT_NAMES } from './client-labels.js';

/** "tls-alert certificate required (116)", "reset (ECONNRESET)", "http-status 403". */
export function denialText(obs: DeniedObservation): string {
  if (obs.how === 'tls-alert' && obs.alert) {
    return `tls-alert ${obs.alert.name}${obs.alert.code !== undefined ? ` (${obs.alert.code})` : ''}`;
  }
  const status = obs.httpStatus !== undefined ? ` ${obs.httpStatus}` : '';
  return `${obs.how}${status}${obs.detail ? ` (${obs.detail})` : ''}`;
}

/** "; istio-peer-exchange preamble from foo/finance": which proxy answered, by its own metadata (Envoy's TCP MX). */
export function mxText(obs: Observation): string {
  if (!obs.mx) return '';
  const who = obs.mx.workload ? `${obs.mx.namespace ? `${obs.mx.namespace}/` : ''}${obs.mx.workload}` : 'an unnamed proxy';
  return `; istio-peer-exchange preamble from ${who}`;
}

/** "; yet the application received plaintext at foo/finance:8080": its receipt of a probe the client saw refused. */
export function receiptText(obs: Observation): string {
  return obs.receipt ? `; yet the application received ${obs.receipt.received} at ${obs.receipt.workload}:${obs.receipt.port} (its receipt)` : '';
}

/** One line of evidence: what the probe saw. */
export function observationText(obs: Observation): string {
  switch (obs.status) {
    case 'allowed': {
      const tls = obs.tls ? `, server ${obs.tls.serverIdentity ?? 'without SPIFFE ID'} from the ${obs.tls.serverIssuer} CA` : '';
      return `answered via ${obs.path} by ${obs.echo.workload}:${obs.echo.port} (app received ${obs.echo.received}${tls})${mxText(obs)}`;
    }
    case 'denied':
      return `denied by ${denialText(obs)}${mxText(obs)}${receiptText(obs)}`;
    case 'error':
      return `probe error: ${obs.message}${receiptText(obs)}`;
    default: {
      const never: never = obs;
      return String(never);
    }
  }
}

export function decidedByText(decidedBy: readonly DecidingPolicy[]): string {
  if (decidedBy.length === 0) return 'no policy applies (default PERMISSIVE)';
  return `decided by ${decidedBy.map((p) => `${p.namespace}/${p.name} (${p.level})`).join(' → ')}`;
}

/** "expected deny in STRICT mode, observed allow: answered via plaintext …; rule …; decided by …". */
export function mismatchText(c: CellResult): string {
  const observed = c.observed ? `observed ${c.observedOutcome ?? 'no outcome'}: ${observationText(c.observed)}` : 'nothing observed';
  const attempts = c.observed && c.observed.attempts > 1 ? ` after ${c.observed.attempts} attempts` : '';
  return `expected ${c.expected.outcome} in ${c.expected.mode} mode, ${observed}${attempts}; rule ${c.expected.rule}; ${decidedByText(c.decidedBy)}`;
}

export function cellLabel(c: Pick<CellResult, 'workload' | 'port' | 'client'>): string {
  return `${c.workload}:${c.port} ${c.client}`;
}
