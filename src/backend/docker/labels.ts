import { hostname } from 'node:os';

/** Every container and network a run creates carries `meshconform.run=<run-id>`; `meshconform reap` finds leftovers by it. */
export const RUN_LABEL = 'meshconform.run';
/** One environment (one scenario start) within a run. */
export const ENV_LABEL = 'meshconform.env';
/** Owner process and host: `reap` keeps what a live run on this host still uses. */
export const PID_LABEL = 'meshconform.pid';
export const HOST_LABEL = 'meshconform.host';
export const WORKLOAD_LABEL = 'meshconform.workload';

export function ownerLabels(runId: string, envId: string): Record<string, string> {
  return { [RUN_LABEL]: runId, [ENV_LABEL]: envId, [PID_LABEL]: String(process.pid), [HOST_LABEL]: hostname() };
}
