import { isIP } from 'node:net';
import type forge from 'node-forge';
import type { PrivateDir } from '../util/private-dir.js';
import { buildCertificate, type Issuer, type SanEntry } from './build-certificate.js';
import { generateKeyPair, type KeyPair } from './key-pair.js';
import { PkiError } from './pki-error.js';
import { spiffeId } from './spiffe-id.js';

export interface MeshPkiOptions {
  readonly trustDomain: string;
  /** Clock for every validity period (injected so chaos runs and tests can replay). */
  readonly now?: () => Date;
}

export interface WorkloadRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Adds an IP SAN (the address the workload's data plane listens on). */
  readonly address?: string;
}

/** A certificate with its key; `caPem` is the bundle that verifies it. */
export interface IssuedIdentity {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
}

export interface WorkloadIdentity extends IssuedIdentity {
  readonly spiffeId: string;
}

/** Validity of a certificate to issue (epoch milliseconds); defaults: an hour back to a day ahead. */
export interface Validity {
  readonly notBefore?: number;
  readonly notAfter?: number;
}

/** A second mesh root for a staged CA rotation: what the mesh moves to, with the identities it issues. */
export interface NextRoot {
  readonly caPem: string;
  /** A workload certificate from the new root (same SPIFFE ID and key as `issueWorkload`). */
  issueWorkload(request: WorkloadRequest, validity?: Validity): WorkloadIdentity;
  /** The probe's mesh client identity, issued by the new root (a client that has rotated too). */
  readonly meshClient: WorkloadIdentity;
}

/** The client identities the probes present (structurally the probe stage's `ProbeMaterial['clients']`). */
export interface ProbeClientIdentities {
  /** Mesh CA, mesh trust domain: the valid Istio peer. */
  readonly mesh: WorkloadIdentity;
  /** A second, unrelated self-signed root; same SPIFFE form as `mesh`. */
  readonly foreignCa: WorkloadIdentity;
  /** Mesh CA, but notBefore now-2d and notAfter now-1d. */
  readonly expired: WorkloadIdentity;
  /** Mesh CA, SPIFFE ID in `other-trust-domain.example`. */
  readonly otherTrustDomain: WorkloadIdentity;
}

/** What `createProbeContext` takes: CA bundles to recognise server certificates, and the client identities. */
export interface ProbePkiMaterial {
  readonly meshCaPem: string;
  readonly appCaPem: string;
  readonly clients: ProbeClientIdentities;
}

/** Paths written by `writeCaFiles`, in Istio's plug-in CA (`cacerts` secret) layout. */
export interface CaFiles {
  readonly caCertFile: string;
  readonly caKeyFile: string;
  readonly rootCertFile: string;
  readonly certChainFile: string;
}

export interface MeshPki {
  readonly trustDomain: string;
  /** The mesh root CA certificate (its key never leaves this object except through `writeCaFiles`). */
  readonly meshCaPem: string;
  /** Root of the foreign client: a CA the mesh must not trust. */
  readonly foreignCaPem: string;
  /** Root of the echo application's own server certificate (pass-through detection). */
  readonly appCaPem: string;
  readonly clients: ProbeClientIdentities;
  /** A workload certificate: SPIFFE URI SAN, serverAuth+clientAuth, valid now-1h..now+24h unless `validity` says otherwise. */
  issueWorkload(request: WorkloadRequest, validity?: Validity): WorkloadIdentity;
  /**
   * The root a staged CA rotation moves to, created on first use (one RSA key: call `prepareKeyPairs(1)` first so
   * it is not generated on the event loop) and the same on every later call.
   */
  nextRoot(): NextRoot;
  /** The echo application's server identity: app CA, CN `meshconform-echo-app`, no SPIFFE SAN. */
  appIdentity(): IssuedIdentity;
  probeMaterial(): ProbePkiMaterial;
  /** Writes the mesh CA (key 0600) for a mesh that must sign with it (Istio plug-in CA); the only way the key leaves. */
  writeCaFiles(dir: PrivateDir): Promise<CaFiles>;
}

export const PROBE_NAMESPACE = 'meshconform-probe';
export const PROBE_SERVICE_ACCOUNT = 'probe-client';
export const OTHER_TRUST_DOMAIN = 'other-trust-domain.example';
export const APP_COMMON_NAME = 'meshconform-echo-app';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Creates the run's PKI. Scale choice: only five RSA keys are generated (mesh CA, foreign CA, app CA, one key shared by
 * every workload and the echo app, one key shared by every probe client), and one certificate is issued per identity.
 * A key per workload would cost ~125 ms each (500 workloads ≈ 1 min); identity lives in the certificate, not the key.
 */
export function createMeshPki(options: MeshPkiOptions): MeshPki {
  const now = options.now ?? (() => new Date());
  const trustDomain = options.trustDomain;
  spiffeId(trustDomain, PROBE_NAMESPACE, PROBE_SERVICE_ACCOUNT); // validates the trust domain up front
  const t0 = now().getTime();

  const meshCa = createRoot(`meshconform mesh root CA (${trustDomain})`, t0);
  const foreignCa = createRoot('meshconform foreign root CA', t0);
  const appCa = createRoot('meshconform echo application CA', t0);
  const workloadKeys = generateKeyPair();
  const clientKeys = generateKeyPair();

  const leaf = (issuer: Root, keys: KeyPair, sans: SanEntry[], from: number, to: number, commonName?: string): IssuedIdentity => ({
    certPem: buildCertificate({ subject: subjectOf(commonName), issuer, keys, notBefore: new Date(from), notAfter: new Date(to), ca: false, sans }),
    keyPem: keys.privateKeyPem,
    caPem: issuer.certPem,
  });
  const client = (issuer: Root, id: string, from: number, to: number): WorkloadIdentity => ({
    ...leaf(issuer, clientKeys, [{ uri: id }], from, to),
    spiffeId: id,
  });

  const issueFrom = (issuer: Root, request: WorkloadRequest, validity: Validity = {}): WorkloadIdentity => {
    const id = spiffeId(trustDomain, request.namespace, request.serviceAccount);
    const sans: SanEntry[] = [];
    if (request.address !== undefined) {
      if (isIP(request.address) === 0) throw new PkiError(`workload ${request.namespace}/${request.serviceAccount}: "${request.address}" is not an IP address`);
      sans.push({ ip: request.address });
    }
    const t = now().getTime();
    const from = validity.notBefore ?? t - HOUR;
    const to = validity.notAfter ?? t + DAY;
    if (!(to > from)) throw new PkiError(`workload ${request.namespace}/${request.serviceAccount}: notAfter must be after notBefore`);
    return { ...leaf(issuer, workloadKeys, [{ uri: id }, ...sans], from, to), spiffeId: id };
  };
  let next: NextRoot | undefined;

  const probeId = spiffeId(trustDomain, PROBE_NAMESPACE, PROBE_SERVICE_ACCOUNT);
  const clients: ProbeClientIdentities = {
    mesh: client(meshCa, probeId, t0 - HOUR, t0 + DAY),
    foreignCa: client(foreignCa, probeId, t0 - HOUR, t0 + DAY),
    expired: client(meshCa, probeId, t0 - 2 * DAY, t0 - DAY),
    otherTrustDomain: client(meshCa, spiffeId(OTHER_TRUST_DOMAIN, PROBE_NAMESPACE, PROBE_SERVICE_ACCOUNT), t0 - HOUR, t0 + DAY),
  };
  const appIdentity = leaf(appCa, workloadKeys, [{ dns: APP_COMMON_NAME }], t0 - HOUR, t0 + DAY, APP_COMMON_NAME);

  return {
    trustDomain,
    meshCaPem: meshCa.certPem,
    foreignCaPem: foreignCa.certPem,
    appCaPem: appCa.certPem,
    clients,
    issueWorkload: (request, validity) => issueFrom(meshCa, request, validity),
    nextRoot() {
      if (!next) {
        const root = createRoot(`meshconform next mesh root CA (${trustDomain})`, now().getTime());
        next = {
          caPem: root.certPem,
          issueWorkload: (request, validity) => issueFrom(root, request, validity),
          meshClient: client(root, probeId, t0 - HOUR, t0 + DAY),
        };
      }
      return next;
    },
    appIdentity: () => appIdentity,
    probeMaterial: () => ({ meshCaPem: meshCa.certPem, appCaPem: appCa.certPem, clients }),
    async writeCaFiles(dir) {
      // A root CA is its own chain: cert-chain.pem is the CA cert itself.
      return {
        caCertFile: await dir.write('ca-cert.pem', meshCa.certPem, 0o644),
        caKeyFile: await dir.write('ca-key.pem', meshCa.keys.privateKeyPem, 0o600),
        rootCertFile: await dir.write('root-cert.pem', meshCa.certPem, 0o644),
        certChainFile: await dir.write('cert-chain.pem', meshCa.certPem, 0o644),
      };
    },
  };
}

interface Root extends Issuer {
  readonly certPem: string;
}

/** A self-signed root valid from a week back (covers the expired client) to a year ahead. */
function createRoot(commonName: string, t0: number): Root {
  const keys = generateKeyPair();
  const subject: forge.pki.CertificateField[] = [
    { name: 'organizationName', value: 'meshconform' },
    { name: 'commonName', value: commonName },
  ];
  const certPem = buildCertificate({ subject, keys, notBefore: new Date(t0 - 7 * DAY), notAfter: new Date(t0 + 365 * DAY), ca: true });
  return { subject, keys, certPem };
}

/** Istio workload certificates carry only the SAN; we keep an O (and a CN for the app) so tools print something. */
function subjectOf(commonName?: string): forge.pki.CertificateField[] {
  const subject: forge.pki.CertificateField[] = [{ name: 'organizationName', value: 'meshconform' }];
  if (commonName) subject.push({ name: 'commonName', value: commonName });
  return subject;
}
