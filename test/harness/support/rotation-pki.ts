// Certificates for rotation and clock tests: extra mesh roots with their own keys, leaves with chosen serials and
// validity periods, and atomic replacement of PEM files (write a temporary name, rename over the target), as the
// harness does before a SIGHUP.
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import forge from 'node-forge';
import { TRUST_DOMAIN } from './test-pki.js';

export interface Root {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface Leaf {
  readonly certPem: string;
  readonly keyPem: string;
  /** Upper-case hex, as X509Certificate.serialNumber prints it. */
  readonly serial: string;
}

export interface LeafSpec {
  readonly uri: string;
  readonly ips?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly issuer: Root;
  /** Extended key usages (default both). */
  readonly eku?: readonly ('serverAuth' | 'clientAuth')[];
}

const HOUR = 3600_000;

function rsaPem(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function sign(cert: forge.pki.Certificate, keyPem: string): string {
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function serialHex(): string {
  const b = randomBytes(8);
  b[0] = (b[0]! & 0x7f) | 0x10; // positive, no leading zero byte
  return b.toString('hex');
}

/** A self-signed mesh root with its own key, valid from 30 days ago for 60 days. */
export function newRoot(cn: string): Root {
  const key = rsaPem();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(key.publicKeyPem);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - 30 * 24 * HOUR);
  cert.validity.notAfter = new Date(Date.now() + 30 * 24 * HOUR);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { certPem: sign(cert, key.privateKeyPem), keyPem: key.privateKeyPem };
}

/** An intermediate CA issued by `issuer`. */
export function newIntermediate(issuer: Root, cn: string): Root {
  const key = rsaPem();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(key.publicKeyPem);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - 30 * 24 * HOUR);
  cert.validity.notAfter = new Date(Date.now() + 30 * 24 * HOUR);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer(forge.pki.certificateFromPem(issuer.certPem).subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  return { certPem: sign(cert, issuer.keyPem), keyPem: key.privateKeyPem };
}

/** A SPIFFE leaf (client and server auth) issued by `spec.issuer`. */
export function issueLeaf(spec: LeafSpec): Leaf {
  const key = rsaPem();
  const issuer = forge.pki.certificateFromPem(spec.issuer.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(key.publicKeyPem);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = spec.notBefore ?? new Date(Date.now() - HOUR);
  cert.validity.notAfter = spec.notAfter ?? new Date(Date.now() + 24 * HOUR);
  cert.setSubject([{ name: 'commonName', value: spec.uri.split('/').pop() ?? 'leaf' }]);
  cert.setIssuer(issuer.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', ...Object.fromEntries((spec.eku ?? ['serverAuth', 'clientAuth']).map((u) => [u, true])) },
    { name: 'subjectAltName', altNames: [{ type: 6, value: spec.uri }, ...(spec.ips ?? []).map((ip) => ({ type: 7, ip }))] },
  ]);
  const certPem = sign(cert, spec.issuer.keyPem);
  return { certPem, keyPem: key.privateKeyPem, serial: new X509Certificate(certPem).serialNumber };
}

export const spiffe = (namespace: string, serviceAccount: string, trustDomain = TRUST_DOMAIN): string => `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;

/** Replace `file` atomically with `content`. */
export function replaceFile(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}
