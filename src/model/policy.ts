/** Where something came from in a scenario or policy file (1-based line and column). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** An effective mTLS mode: what a port actually enforces once UNSET has been resolved. */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** A mode as written in a PeerAuthentication: UNSET means "inherit from the parent level". */
export type PolicyMode = MtlsMode | 'UNSET';

export const POLICY_MODES: readonly PolicyMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

/** A PeerAuthentication manifest exactly as `kubectl apply` takes it (security.istio.io/v1 or v1beta1). */
export interface PeerAuthenticationManifest {
  apiVersion: string;
  kind: 'PeerAuthentication';
  metadata: {
    name: string;
    namespace?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec?: {
    selector?: { matchLabels?: Record<string, string> } | null;
    mtls?: { mode?: PolicyMode } | null;
    portLevelMtls?: Record<string, { mode?: PolicyMode } | null>;
  };
}

/** A validated PeerAuthentication, normalised for the oracle while keeping the manifest the data plane receives. */
export interface Policy {
  readonly name: string;
  /** Namespace after defaulting (a manifest without one takes the scenario's default namespace). */
  readonly namespace: string;
  /** RFC 3339 timestamp; absent means Go's zero time (year 1), so every explicit timestamp, the epoch included, orders after it. */
  readonly creationTimestamp?: string;
  /** `null`: no selector at all; `{}`: a selector with no labels. Both are namespace/mesh-level in sidecar mode. */
  readonly selector: Readonly<Record<string, string>> | null;
  /** `spec.selector` was written, even if empty (`selector: {}`): matters in ambient mode (spec R2.5). */
  readonly selectorWritten: boolean;
  /** `spec.mtls.mode` with every UNSET spelling (R1.2) collapsed to 'UNSET'. */
  readonly mode: PolicyMode;
  /** `spec.portLevelMtls`, port → mode (UNSET spellings collapsed). */
  readonly portLevelMtls: ReadonlyMap<number, PolicyMode>;
  /** The manifest as written (with namespace defaulted), passed verbatim to data planes. */
  readonly manifest: PeerAuthenticationManifest;
  readonly source: SourcePos;
}

/** The level a policy acts at (spec R2.2), plus `port` for a portLevelMtls entry. */
export type PolicyLevel = 'mesh' | 'namespace' | 'workload' | 'port';

/** One link in the chain of policies that decided an effective mode. */
export interface DecidingPolicy {
  readonly level: PolicyLevel;
  readonly namespace: string;
  readonly name: string;
}
