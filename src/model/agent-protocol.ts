/**
 * The probe agent's line protocol: one JSON object a line, over one stream (`kubectl exec -i` into the probe pod, or a
 * local pipe) that carries every batch of a run. The host (src/backend/kube/agent-session.ts) writes `hello` once,
 * then any number of `batch` lines, then `end` (or closes stdin); the agent (src/agent) answers `ready`, then for each
 * batch one `observation` a job in completion order and `done`. An `error` line means the session is unusable: the
 * agent exits 2 after it.
 */
import type { CellKey, Observation, ProbeJob } from './probe.js';

export const AGENT_PROTOCOL = 1;
/** The `agent` field of `ready`. */
export const AGENT_NAME = 'meshconform-probe-agent';

/** The client certificates a probe can present, by name. */
export const CREDENTIAL_NAMES = ['mesh', 'foreignCa', 'expired', 'otherTrustDomain'] as const;
export type CredentialName = (typeof CREDENTIAL_NAMES)[number];

/** What the agent needs to fire every client kind and to recognise who answered. Private keys travel on stdin only. */
export interface AgentMaterial {
  /** The mesh trust bundle; may be absent when the agent reads it from the sidecar's exported certificates. */
  readonly meshCaPem?: string;
  /** The echo application's CA: a server certificate chaining here means TLS reached the app (pass-through). */
  readonly appCaPem: string;
  readonly clients: { readonly [K in CredentialName]?: { readonly certPem: string; readonly keyPem: string } };
}

/** The settings of a session, as `hello` carries them. */
export interface AgentHello {
  /** Deadline of each probe, unless a batch names its own. */
  readonly timeoutMs: number;
  /** Probes in flight at once. */
  readonly concurrency: number;
  readonly material: AgentMaterial;
  /**
   * Folder where the probe pod's Istio sidecar exports its own certificates (proxy metadata OUTPUT_CERTS: key.pem,
   * cert-chain.pem, root-cert.pem): they become the `mesh` credential and join the mesh trust bundle, re-read before
   * every batch (Istio rotates them).
   */
  readonly istioOutputCerts?: string;
  /** How long the agent waits for the sidecar to write them. */
  readonly waitForCertsMs?: number;
}

// ---- host to agent ----

export interface AgentHelloMessage extends AgentHello {
  readonly type: 'hello';
  readonly protocol: number;
}

/** Batches run one at a time, in the order sent. */
export interface AgentBatchMessage {
  readonly type: 'batch';
  readonly id: string;
  readonly jobs: readonly ProbeJob[];
  /** This batch's probe deadline, instead of hello's. */
  readonly timeoutMs?: number;
}

export interface AgentEndMessage {
  readonly type: 'end';
}

export type AgentRequest = AgentHelloMessage | AgentBatchMessage | AgentEndMessage;

// ---- agent to host ----

export interface AgentReadyMessage {
  readonly type: 'ready';
  readonly protocol: number;
  readonly agent: string;
  /** The agent's Node version. */
  readonly node: string;
  /** Credentials it holds: a client kind whose credential is missing is an error observation. */
  readonly credentials: readonly CredentialName[];
  /** The SPIFFE ID of the sidecar's exported certificate, when `istioOutputCerts` was given. */
  readonly meshIdentity?: string;
}

export interface AgentObservationMessage {
  readonly type: 'observation';
  readonly batch: string;
  readonly key: CellKey;
  readonly observation: Observation;
}

export interface AgentDoneMessage {
  readonly type: 'done';
  readonly batch: string;
  /** Jobs in the batch (one observation each came before). */
  readonly count: number;
}

export interface AgentErrorMessage {
  readonly type: 'error';
  readonly message: string;
}

export type AgentReply = AgentReadyMessage | AgentObservationMessage | AgentDoneMessage | AgentErrorMessage;
