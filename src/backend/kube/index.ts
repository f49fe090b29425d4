export { createKubeBackend, istioctlVersion, versionMatches, kindNodeImageFor, tieSkip, KIND_NODE_IMAGES, ISTIO_VERSIONS_LABEL, REQUIRED_PERMISSIONS } from './kube-backend.js';
export type {
  AdmissionLayer,
  ApplyResult,
  ClusterBackendOptions,
  IstioProfile,
  KindBackendOptions,
  KubeBackend,
  KubeBackendOptions,
  KubeRun,
  KubeScenario,
  OpenOptions,
  PluginCaFiles,
} from './kube-backend.js';
export { createExecaRunner, commandLine, type Command, type CommandResult, type CommandRunner, type LineStream } from './command-runner.js';
export { createDryRunRunner } from './dry-run-runner.js';
export { openAgentSession, AGENT_PROTOCOL, type AgentCredential, type AgentHello, type AgentMaterial, type AgentSession } from './agent-session.js';
export {
  converge,
  CONVERGENCE_DEFAULTS,
  type CellConvergence,
  type ConfigEvidence,
  type EvidenceOptions,
  type ConvergenceOptions,
  type Judgement,
  type TimedObservation,
} from './convergence.js';
export {
  hasPolicyTies,
  policyGroups,
  probeAgentManifests,
  scenarioManifests,
  servicePlan,
  toYaml,
  POD_HARNESS_FILES,
  type HarnessFile,
  type Manifest,
  type ManifestContext,
} from './manifests.js';
export { loadUserCa, issueFromUserCa, USER_CA_FILES, type UserCa } from './user-ca.js';
export { reapKube, reapKindClusters, type KubeReapResult } from './reap.js';
export { RUN_LABEL as KUBE_RUN_LABEL, KIND_CLUSTER_PREFIX } from './labels.js';
