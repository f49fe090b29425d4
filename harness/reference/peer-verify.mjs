// @ts-check
/**
 * Client-certificate verification against the trust bundle with the proxy's own clock. OpenSSL (Node's TLS) checks
 * validity periods against the system clock only, so a proxy started with a clock offset
 * (`MESHCONFORM_CLOCK_OFFSET_MS`) lets the handshake through and decides here, after it. The result uses OpenSSL's
 * verify codes so the planted defects forgive the same errors whichever path checked the chain.
 */
import { X509Certificate } from 'node:crypto';
import { HarnessError } from '../common/harness-error.mjs';

/** OpenSSL verify errors about who issued the certificate (forgiven by defect accept-any-ca). */
export const ISSUER_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);
/** OpenSSL verify errors about the validity period (forgiven by defects accept-expired, accept-expired-during-rotation). */
export const VALIDITY_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
/** OpenSSL's default verify depth is 100; a mesh chain is 1–3 certificates. */
const MAX_DEPTH = 10;

/**
 * `MESHCONFORM_CLOCK_OFFSET_MS`: milliseconds added to the system clock for certificate validity checks.
 * @param {string | undefined} value
 * @returns {number} 0 when unset or empty
 */
export function parseClockOffset(value) {
  if (value === undefined || value.trim() === '') return 0;
  const n = /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new HarnessError(`MESHCONFORM_CLOCK_OFFSET_MS must be an integer number of milliseconds (negative for a clock behind), got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Verify a client chain the way OpenSSL does for a TLS server (purpose sslclient), at `nowMs`.
 * @param {X509Certificate} leaf
 * @param {readonly X509Certificate[]} presented further certificates the client sent (untrusted intermediates)
 * @param {readonly X509Certificate[]} roots the trust bundle
 * @param {number} nowMs
 * @returns {string | null} null when trusted, else an OpenSSL verify code
 */
export function verifyClientChain(leaf, presented, roots, nowMs) {
  /** @type {X509Certificate[]} */
  const chain = [leaf];
  let cur = leaf;
  for (;;) {
    const named = roots.filter((r) => cur.checkIssued(r));
    const root = named.find((r) => cur.verify(r.publicKey));
    if (root) {
      if (root.fingerprint256 !== cur.fingerprint256) chain.push(root);
      break;
    }
    if (named.length > 0) return 'CERT_SIGNATURE_FAILURE';
    if (cur.checkIssued(cur)) return chain.length === 1 ? 'DEPTH_ZERO_SELF_SIGNED_CERT' : 'SELF_SIGNED_CERT_IN_CHAIN';
    const next = presented.find((c) => c.fingerprint256 !== cur.fingerprint256 && !chain.includes(c) && cur.checkIssued(c));
    if (!next) return chain.length === 1 ? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' : 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
    if (!cur.verify(next.publicKey)) return 'CERT_SIGNATURE_FAILURE';
    chain.push(next);
    if (chain.length > MAX_DEPTH) return 'CERT_CHAIN_TOO_LONG';
    cur = next;
  }
  for (const issuer of chain.slice(1)) if (!issuer.ca) return 'INVALID_CA';
  const eku = leaf.keyUsage; // Node's name for the extended key usages; undefined when the extension is absent
  if (eku && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) return 'INVALID_PURPOSE';
  // OpenSSL checks from the trust anchor down; every certificate of the path must be within its validity period.
  for (const c of [...chain].reverse()) {
    if (nowMs < Date.parse(c.validFrom)) return 'CERT_NOT_YET_VALID';
    if (nowMs > Date.parse(c.validTo)) return 'CERT_HAS_EXPIRED';
  }
  return null;
}

/**
 * The client's certificate chain from Node's detailed peer certificate (`getPeerCertificate(true)`): the leaf, then
 * what followed it (Node may append roots from the server's own store; they are only candidates here).
 * @param {import('node:tls').DetailedPeerCertificate} detailed
 * @returns {{ leaf: X509Certificate, presented: X509Certificate[] }}
 */
export function peerChain(detailed) {
  const leaf = new X509Certificate(detailed.raw);
  /** @type {X509Certificate[]} */
  const presented = [];
  const seen = new Set([detailed.fingerprint256]);
  let next = detailed.issuerCertificate;
  while (next?.raw && !seen.has(next.fingerprint256) && presented.length < MAX_DEPTH) {
    seen.add(next.fingerprint256);
    presented.push(new X509Certificate(next.raw));
    next = next.issuerCertificate;
  }
  return { leaf, presented };
}
