import type { ClientKind, ExpectedOutcome } from '../model/index.js';

/**
 * Column labels short enough for every client in 120 columns: the console reporter and the HTML report (which
 * bundles this file) share them, so both name a client the same way.
 */
export const CLIENT_SHORT_NAMES: Readonly<Record<ClientKind, string>> = {
  'plaintext-tcp': 'pt-tcp',
  'plaintext-http': 'pt-http',
  'mtls-tcp': 'mtls-tcp',
  'mtls-http': 'mtls-http',
  'tls-no-client-cert': 'no-cert',
  'mtls-foreign-ca': 'foreign',
  'mtls-expired': 'expired',
  'mtls-other-trust-domain': 'other-td',
  'tls-no-istio-alpn': 'no-alpn',
  hbone: 'hbone',
  'hbone-no-client-cert': 'hb-no-cert',
  'hbone-foreign-ca': 'hb-foreign',
  'hbone-expired': 'hb-expired',
  'hbone-other-trust-domain': 'hb-other-td',
  'hbone-unserved-port': 'hb-unserved',
};

/** The short label of a client, or its full name for a kind this build does not know (an older report). */
export function clientShortName(kind: string): string {
  return (CLIENT_SHORT_NAMES as Readonly<Record<string, string>>)[kind] ?? kind;
}

/** An expected or observed outcome as a cell shows it (console and HTML tables). */
export const OUTCOME_SHORT: Readonly<Record<ExpectedOutcome, string>> = { allow: 'allow', deny: 'deny', passthrough: 'pthru' };
