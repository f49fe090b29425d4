export { runChaos, type ChaosRunResult } from './chaos-runner.js';
export { buildSchedule, effectiveSeed, faultName, randomSeed, INITIAL_SET, RANDOM_PARAMETERS, type ScheduledFault } from './schedule.js';
export { missingCapabilities, vacuousFaults, type PlanProblem } from './plan-checks.js';
export { startFaultProxy, type FaultProxy, type Toxic, type ConnectionStats } from './fault-proxy.js';
export { startProber, type Prober, type ProberOptions } from './prober.js';
export { World, expiredServer, type Acceptable, type Epoch, type Tolerance } from './world.js';
export { asMeshClient, judgeProbes, judgeRun, measureEnforcement, measureRecovery, outcomeOf, percentiles, windows, type JudgedProbe } from './judge.js';
export {
  cellId,
  type CertValidity,
  type ChaosCell,
  type ChaosRunInput,
  type ChaosTlsEvidence,
  type Credentials,
  type IssuedTls,
  type PolicySetView,
  type ProbeRecord,
} from './types.js';
