export {
  createMeshPki,
  APP_COMMON_NAME,
  OTHER_TRUST_DOMAIN,
  PROBE_NAMESPACE,
  PROBE_SERVICE_ACCOUNT,
  type CaFiles,
  type IssuedIdentity,
  type MeshPki,
  type MeshPkiOptions,
  type NextRoot,
  type Validity,
  type ProbeClientIdentities,
  type ProbePkiMaterial,
  type WorkloadIdentity,
  type WorkloadRequest,
} from './mesh-pki.js';
export { spiffeId } from './spiffe-id.js';
export { prepareKeyPairs, preparedKeyPairs } from './key-pair.js';
/** RSA keys one createMeshPki call generates (three CA roots, one workload key, one client key). */
export const KEYS_PER_PKI = 5;
export { PkiError } from './pki-error.js';
