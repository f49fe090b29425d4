import { randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';
import type { KeyPair } from './key-pair.js';

/** A certificate authority this process holds the key of. */
export interface Issuer {
  readonly subject: readonly forge.pki.CertificateField[];
  readonly keys: KeyPair;
}

/** Subject alternative names: `uri` (SPIFFE ID), `dns`, `ip`. */
export type SanEntry = { readonly uri: string } | { readonly dns: string } | { readonly ip: string };

export interface CertificateSpec {
  readonly subject: readonly forge.pki.CertificateField[];
  /** Absent: self-signed with `keys`. */
  readonly issuer?: Issuer;
  readonly keys: KeyPair;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly ca: boolean;
  readonly sans?: readonly SanEntry[];
}

const SHA256_WITH_RSA = forge.pki.oids['sha256WithRSAEncryption']!;
// Present in forge 1.4 (x509.js) but missing from @types/node-forge.
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

/**
 * Builds the TBSCertificate with forge and signs it with Node's native RSA (forge's own `cert.sign` is pure JS and
 * several times slower per certificate). Returns the certificate as PEM.
 */
export function buildCertificate(spec: CertificateSpec): string {
  const issuer = spec.issuer ?? { subject: spec.subject, keys: spec.keys };
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.keys.forgePublicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject([...spec.subject]);
  cert.setIssuer([...issuer.subject]);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: spec.ca, critical: true },
    spec.ca ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true } : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    // forge's `keyIdentifier: true` would hash the subject's key, which is wrong for every non-self-signed cert.
    { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keys.keyIdentifier },
  ];
  if (!spec.ca) extensions.push({ name: 'extKeyUsage', serverAuth: true, clientAuth: true });
  if (spec.sans && spec.sans.length > 0) {
    // RFC 5280 §4.2.1.6: SAN must be critical when the subject is empty.
    extensions.push({ name: 'subjectAltName', critical: spec.subject.length === 0, altNames: spec.sans.map(altName) });
  }
  cert.setExtensions(extensions);

  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  const tbs = getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', tbsDer, issuer.keys.privateKey).toString('binary');
  return forge.pki.certificateToPem(cert);
}

function altName(san: SanEntry): { type: number; value?: string; ip?: string } {
  if ('uri' in san) return { type: 6, value: san.uri };
  if ('dns' in san) return { type: 2, value: san.dns };
  return { type: 7, ip: san.ip };
}

/** 128 random bits, positive and minimally encoded (first byte 0x01–0x7f). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}
