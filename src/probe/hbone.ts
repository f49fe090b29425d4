import { ProbeError } from '../util/errors.js';

/** Where a node proxy terminates HBONE (spec R6.2): HTTP/2 CONNECT inside mTLS. */
export const HBONE_PORT = 15008;
/** HBONE's only ALPN (spec R6.7). */
export const HBONE_ALPN = ['h2'] as const;
/** First candidate for `hbone-unserved-port`: just above the HBONE port, in Istio's reserved range, so no app uses it. */
export const UNSERVED_PORT_BASE = 15009;

/**
 * The port an `hbone-unserved-port` probe names in its CONNECT authority: the first port from 15009 up that the
 * workload does not declare. Deterministic, so every run (and every mesh) is asked the same question. The run layer
 * puts it in the job's `targetPort` (for HBONE jobs `address:targetPort` is the CONNECT authority).
 */
export function hboneUnservedPort(declared: Iterable<number>): number {
  const taken = new Set(declared);
  for (let port = UNSERVED_PORT_BASE; port <= 65535; port++) if (!taken.has(port)) return port;
  throw new ProbeError('every port from 15009 to 65535 is declared: no port is left for an hbone-unserved-port probe');
}
