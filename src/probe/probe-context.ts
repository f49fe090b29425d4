import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { CREDENTIAL_NAMES, type TlsEvidence } from '../model/index.js';
import { ProbeError } from '../util/errors.js';
import type { CredentialName, ProbeMaterial } from './probe-material.js';
import { peerX509 } from './wire-evidence.js';

type Issuer = TlsEvidence['serverIssuer'];

/** Everything probes reuse across connections. Build it once per run (or per trust domain). */
export interface ProbeContext {
  /** The SecureContext for a client certificate (`null`: none); `undefined` when the material lacks it. */
  secureContext(credential: CredentialName | null): tls.SecureContext | undefined;
  /** What the client saw of the server once the handshake finished. */
  tlsEvidence(socket: tls.TLSSocket, expectedServerIdentity: string): TlsEvidence;
}

const ISSUER_CACHE_LIMIT = 4096;
const MAX_CHAIN_DEPTH = 5;

/**
 * Builds every `tls.SecureContext` once (a new one per connect costs 30–80 % of throughput) and
 * parses the CA bundles that tell a mesh-terminated connection from one the echo application answered itself.
 */
export function createProbeContext(material: ProbeMaterial): ProbeContext {
  const meshRoots = parseBundle(material.meshCaPem, 'meshCaPem');
  const appRoots = parseBundle(material.appCaPem, 'appCaPem');
  const contexts = new Map<CredentialName | null, tls.SecureContext>();
  try {
    contexts.set(null, tls.createSecureContext({}));
    for (const name of CREDENTIAL_NAMES) {
      const cred = material.clients[name];
      if (cred) contexts.set(name, tls.createSecureContext({ cert: cred.certPem, key: cred.keyPem }));
    }
  } catch (err) {
    throw new ProbeError(`probe client material is unusable: ${(err as Error).message}`, { cause: err });
  }

  // Data planes present few distinct certificates; verifying each once keeps the per-probe cost to a hash lookup.
  const issuerCache = new Map<string, Issuer>();
  const issuerOf = (leaf: X509Certificate): Issuer => {
    const cached = issuerCache.get(leaf.fingerprint256);
    if (cached) return cached;
    const issuer = classifyChain(leaf, meshRoots, appRoots);
    if (issuerCache.size >= ISSUER_CACHE_LIMIT) issuerCache.clear();
    issuerCache.set(leaf.fingerprint256, issuer);
    return issuer;
  };

  return {
    secureContext: (credential) => contexts.get(credential),
    tlsEvidence(socket, expectedServerIdentity) {
      const leaf = peerX509(socket);
      const serverIssuer = leaf ? issuerOf(leaf) : 'unknown';
      const serverIdentity = leaf ? uriSan(leaf) : null;
      return {
        version: socket.getProtocol() ?? null,
        alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
        serverIdentity,
        serverIssuer,
        serverIdentityOk: serverIssuer === 'mesh' && serverIdentity === expectedServerIdentity,
      };
    },
  };
}

function parseBundle(pem: string, what: string): X509Certificate[] {
  const blocks = typeof pem === 'string' ? (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) : [];
  if (blocks.length === 0) throw new ProbeError(`probe material ${what} holds no PEM certificate`);
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new ProbeError(`probe material ${what} is not a valid certificate bundle: ${(err as Error).message}`, { cause: err });
  }
}

const signedBy = (cert: X509Certificate, issuer: X509Certificate) => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/** Walks the presented chain (leaf, then intermediates the server sent) up to a mesh or app root. */
function classifyChain(leaf: X509Certificate, meshRoots: X509Certificate[], appRoots: X509Certificate[]): Issuer {
  let intermediates: X509Certificate[] | undefined;
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (meshRoots.some((r) => signedBy(current, r))) return 'mesh';
    if (appRoots.some((r) => signedBy(current, r))) return 'app';
    intermediates ??= presentedChain(leaf);
    const next = intermediates.find((c) => c.ca && c.fingerprint256 !== current.fingerprint256 && signedBy(current, c));
    if (!next) break;
    current = next;
  }
  return 'unknown';
}

/** The certificates the server sent after the leaf (Node links them from the peer certificate it read). */
function presentedChain(leaf: X509Certificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set([leaf.fingerprint256]);
  for (let c = leaf.issuerCertificate; c && !seen.has(c.fingerprint256) && out.length < MAX_CHAIN_DEPTH; c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(c);
  }
  return out;
}

/** The first URI SAN (a SPIFFE ID has exactly one). Node quotes values holding separators, so both forms are read. */
export function uriSan(cert: X509Certificate): string | null {
  const m = /(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/.exec(cert.subjectAltName ?? '');
  if (!m || m[1] === undefined) return null;
  try {
    return m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1];
  } catch {
    return null;
  }
}
