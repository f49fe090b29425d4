import type { DecidingPolicy, DeniedObservation, Observation } from '../model/index.js';

/** "tls-alert certificate required (116)", "reset (ECONNRESET)", "http-status 403". */
export function describeDenial(obs: DeniedObservation): string {
  switch (obs.how) {
    case 'tls-alert': {
      const alert = obs.alert;
      if (!alert) return `tls-alert${obs.detail ? ` (${obs.detail})` : ''}`;
      return `tls-alert ${alert.name}${alert.code !== undefined ? ` (${alert.code})` : ''}`;
    }
    case 'http-status':
    case 'protocol-error':
      return `${obs.how}${obs.httpStatus !== undefined ? ` ${obs.httpStatus}` : ''}${obs.detail ? ` (${obs.detail})` : ''}`;
    case 'refused':
    case 'reset':
    case 'closed':
    case 'timeout':
      return `${obs.how}${obs.detail ? ` (${obs.detail})` : ''}`;
    default: {
      const never: never = obs.how;
      return String(never);
    }
  }
}

/** What happened, as the second half of a sentence: "the application answered over plaintext". */
export function describeObservation(obs: Observation): string {
  switch (obs.status) {
    case 'allowed':
      switch (obs.path) {
        case 'plaintext':
          return 'the application answered over plaintext';
        case 'mtls':
          return 'the data plane terminated mTLS and the application answered';
        case 'passthrough':
          return 'the TLS passed through to the application untouched (it answered the handshake itself)';
        default: {
          const never: never = obs.path;
          return String(never);
        }
      }
    case 'denied':
      return obs.how === 'refused'
        ? `the TCP connection was refused${obs.detail ? ` (${obs.detail})` : ''}: the data plane is not accepting on a declared port`
        : `denied by ${describeDenial(obs)}`;
    case 'error':
      return `the probe could not run: ${obs.message}`;
    default: {
      const never: never = obs;
      return String(never);
    }
  }
}

/** "foo/default (namespace) → foo/finance (workload)", or the hard default when no policy applies. */
export function describeDecidedBy(decidedBy: readonly DecidingPolicy[]): string {
  if (decidedBy.length === 0) return 'no policy applies (default PERMISSIVE)';
  return `decided by ${decidedBy.map((p) => `${p.namespace}/${p.name} (${p.level})`).join(' → ')}`;
}
