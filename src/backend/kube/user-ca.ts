import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';
import { BackendError } from '../../util/errors.js';
import type { AgentMaterial } from './agent-session.js';

/** A mesh CA the user supplies (`--mesh-ca <dir>`), in Istio's plug-in CA layout. */
export interface UserCa {
  readonly dir: string;
  readonly caCertPem: string;
  readonly caKey: KeyObject;
  /** The mesh's trust anchor (root-cert.pem). */
  readonly rootPem: string;
  /** ca-cert.pem up to the root (cert-chain.pem); presented after the leaf so servers can build the path. */
  readonly chainPem: string;
}

export const USER_CA_FILES = ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'] as const;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SHA256_WITH_RSA = forge.pki.oids['sha256WithRSAEncryption']!;
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

/** Reads and checks the four files; every problem names the file and what to do. */
export async function loadUserCa(dir: string): Promise<UserCa> {
  const text: Record<string, string> = {};
  for (const f of USER_CA_FILES) {
    try {
      text[f] = await readFile(join(dir, f), 'utf8');
    } catch (err) {
      throw new BackendError(
        `--mesh-ca ${dir}: cannot read ${f} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the folder must hold ${USER_CA_FILES.join(', ')} as for Istio's cacerts secret`,
        { cause: err },
      );
    }
  }
  let caCert: X509Certificate;
  try {
    caCert = new X509Certificate(text['ca-cert.pem']!);
    new X509Certificate(text['root-cert.pem']!);
  } catch (err) {
    throw new BackendError(`--mesh-ca ${dir}: ca-cert.pem or root-cert.pem is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  let caKey: KeyObject;
  try {
    caKey = createPrivateKey(text['ca-key.pem']!);
  } catch (err) {
    throw new BackendError(`--mesh-ca ${dir}: ca-key.pem is not a private key: ${(err as Error).message}`, { cause: err });
  }
  if (caKey.asymmetricKeyType !== 'rsa') {
    throw new BackendError(
      `--mesh-ca ${dir}: the CA key is ${caKey.asymmetricKeyType}; only RSA CA keys are supported. What to do: leave out --mesh-ca (the probe agent then uses its own sidecar's certificate)`,
    );
  }
  if (!caCert.ca || !caCert.checkPrivateKey(caKey)) throw new BackendError(`--mesh-ca ${dir}: ca-cert.pem is not a CA certificate matching ca-key.pem`);
  return { dir, caCertPem: text['ca-cert.pem']!, caKey, rootPem: text['root-cert.pem']!, chainPem: text['cert-chain.pem']! };
}

/**
 * Client certificates issued from the user's CA for the probe agent: the valid mesh peer, an expired one, and one from
 * another trust domain. The foreign-CA client and the echo app's CA come from the run's own PKI.
 */
export function issueFromUserCa(
  ca: UserCa,
  o: { readonly trustDomain: string; readonly otherTrustDomain: string; readonly identity: { readonly namespace: string; readonly serviceAccount: string }; readonly now?: Date },
): Pick<AgentMaterial, 'meshCaPem' | 'clients'> {
  const t = (o.now ?? new Date()).getTime();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgePublic = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const issuerCert = forge.pki.certificateFromPem(ca.caCertPem);
  const path = `ns/${o.identity.namespace}/sa/${o.identity.serviceAccount}`;
  const leaf = (trustDomain: string, from: number, to: number) => ({
    certPem: `${issue(issuerCert, ca.caKey, forgePublic, `spiffe://${trustDomain}/${path}`, from, to)}${ca.chainPem.trim() ? `\n${ca.chainPem.trim()}\n` : ''}`,
    keyPem,
  });
  return {
    meshCaPem: ca.rootPem,
    clients: {
      mesh: leaf(o.trustDomain, t - HOUR, t + DAY),
      expired: leaf(o.trustDomain, t - 2 * DAY, t - DAY),
      otherTrustDomain: leaf(o.otherTrustDomain, t - HOUR, t + DAY),
    },
  };
}

function issue(issuer: forge.pki.Certificate, issuerKey: KeyObject, publicKey: forge.pki.PublicKey, uri: string, from: number, to: number): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f || 0x01;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(from);
  cert.validity.notAfter = new Date(to);
  cert.setSubject([{ name: 'organizationName', value: 'meshconform' }]);
  cert.setIssuer(issuer.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', critical: false, altNames: [{ type: 6, value: uri }] },
  ]);
  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  const tbs = getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  cert.signature = sign('sha256', Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary'), issuerKey).toString('binary');
  return forge.pki.certificateToPem(cert);
}
