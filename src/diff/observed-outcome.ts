import type { ExpectedOutcome, Observation } from '../model/index.js';

/**
 * The outcome class of one observation, or `undefined` when it is not evidence about the mesh at all.
 * A refused TCP connect counts as a harness error: the data-plane contract says every declared port accepts TCP
 * once ready, so a refusal looks exactly like a dead data plane and must never pass for a denial.
 */
export function observedOutcome(obs: Observation): ExpectedOutcome | undefined {
  switch (obs.status) {
    case 'allowed':
      return obs.path === 'passthrough' ? 'passthrough' : 'allow';
    case 'denied':
      return obs.how === 'refused' ? undefined : 'deny';
    case 'error':
      return undefined;
    default: {
      const never: never = obs;
      return never;
    }
  }
}
