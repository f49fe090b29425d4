import { PkiError } from './pki-error.js';

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`, the identity form Istio issues (SPIFFE ID spec §2). */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw new PkiError(`invalid trust domain "${trustDomain}": only lowercase letters, digits, ".", "-" and "_" are allowed`);
  }
  for (const [what, seg] of [
    ['namespace', namespace],
    ['service account', serviceAccount],
  ] as const) {
    if (!PATH_SEGMENT.test(seg) || seg === '.' || seg === '..') {
      throw new PkiError(`invalid ${what} "${seg}" for a SPIFFE ID: only letters, digits, ".", "-" and "_" are allowed`);
    }
  }
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
