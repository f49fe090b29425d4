// A throwaway PKI for harness tests: mesh CA, workload and client SPIFFE certificates, deliberately bad client
// certificates, and the echo app's own (non-mesh) certificate. RSA keys from node:crypto, certificates signed by forge.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export const TRUST_DOMAIN = 'cluster.local';

export interface KeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestPki {
  readonly dir: string;
  readonly meshCa: Issued;
  readonly appCa: Issued;
  readonly foreignCa: Issued;
  /** The echo app's server certificate (issued by appCa). */
  readonly app: Issued;
  /** Mesh client `spiffe://cluster.local/ns/foo/sa/sleep`. */
  readonly client: Issued;
  readonly expiredClient: Issued;
  readonly otherTrustDomainClient: Issued;
  readonly foreignClient: Issued;
  /** Issue (and write) a workload certificate from the mesh CA. */
  workload(namespace: string, serviceAccount: string, ip: string): Issued;
}

function keyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

let serial = 1;

interface CertSpec {
  readonly cn: string;
  readonly subjectKey: KeyPair;
  readonly issuer?: { readonly certPem: string; readonly key: KeyPair };
  readonly isCa?: boolean;
  readonly uris?: readonly string[];
  readonly ips?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

function makeCert(spec: CertSpec): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spec.subjectKey.publicKeyPem);
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = spec.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notAfter = spec.notAfter ?? new Date(Date.now() + 24 * 3600_000);
  const subject = [{ name: 'commonName', value: spec.cn }];
  cert.setSubject(subject);
  const issuerCert = spec.issuer ? forge.pki.certificateFromPem(spec.issuer.certPem) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: spec.isCa === true, critical: true },
    spec.isCa ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true } : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!spec.isCa) extensions.push({ name: 'extKeyUsage', serverAuth: true, clientAuth: true });
  const altNames = [...(spec.uris ?? []).map((value) => ({ type: 6, value })), ...(spec.ips ?? []).map((ip) => ({ type: 7, ip }))];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  const signer = spec.issuer?.key ?? spec.subjectKey;
  cert.sign(forge.pki.privateKeyFromPem(signer.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Build the whole PKI into `dir` (keys 0600). */
export function createTestPki(dir: string): TestPki {
  const caKey = keyPair();
  const leafKey = keyPair(); // shared by every leaf: tests are about chains and SANs, not key separation
  const write = (name: string, certPem: string, key: KeyPair): Issued => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    writeFileSync(certFile, certPem);
    writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });
    return { certPem, keyPem: key.privateKeyPem, certFile, keyFile };
  };
  const meshCa = write('mesh-ca', makeCert({ cn: 'meshconform test mesh CA', subjectKey: caKey, isCa: true }), caKey);
  const appCa = write('app-ca', makeCert({ cn: 'meshconform test app CA', subjectKey: caKey, isCa: true }), caKey);
  const foreignCa = write('foreign-ca', makeCert({ cn: 'meshconform test foreign CA', subjectKey: caKey, isCa: true }), caKey);
  const by = (ca: Issued) => ({ certPem: ca.certPem, key: caKey });
  const spiffe = (td: string, ns: string, sa: string) => `spiffe://${td}/ns/${ns}/sa/${sa}`;
  const sleep = spiffe(TRUST_DOMAIN, 'foo', 'sleep');
  return {
    dir,
    meshCa,
    appCa,
    foreignCa,
    app: write('app', makeCert({ cn: 'echo app', subjectKey: leafKey, issuer: by(appCa), ips: ['127.0.0.1'] }), leafKey),
    client: write('client', makeCert({ cn: 'sleep', subjectKey: leafKey, issuer: by(meshCa), uris: [sleep] }), leafKey),
    expiredClient: write(
      'client-expired',
      makeCert({
        cn: 'sleep',
        subjectKey: leafKey,
        issuer: by(meshCa),
        uris: [sleep],
        notBefore: new Date(Date.now() - 48 * 3600_000),
        notAfter: new Date(Date.now() - 24 * 3600_000),
      }),
      leafKey,
    ),
    otherTrustDomainClient: write(
      'client-other-td',
      makeCert({
        cn: 'sleep',
        subjectKey: leafKey,
        issuer: by(meshCa),
        uris: [spiffe('other.domain', 'foo', 'sleep')],
      }),
      leafKey,
    ),
    foreignClient: write('client-foreign', makeCert({ cn: 'sleep', subjectKey: leafKey, issuer: by(foreignCa), uris: [sleep] }), leafKey),
    workload: (namespace, serviceAccount, ip) =>
      write(
        `wl-${namespace}-${serviceAccount}-${ip}`,
        makeCert({
          cn: serviceAccount,
          subjectKey: leafKey,
          issuer: by(meshCa),
          uris: [spiffe(TRUST_DOMAIN, namespace, serviceAccount)],
          ips: [ip],
        }),
        leafKey,
      ),
  };
}

/** Was `certPem` issued by `ca`? */
export function issuedBy(cert: X509Certificate, ca: Issued): boolean {
  const caCert = new X509Certificate(ca.certPem);
  return cert.checkIssued(caCert) && cert.verify(caCert.publicKey);
}
