import { isHboneClient, type CellKey, type Observation, type ProbeJob } from '../model/index.js';

/**
 * Did this observation show the data plane's port reacting? The application answered, or the data plane actively
 * refused the client (a TLS alert, an HTTP status, a protocol error, a close or a reset). A timeout shows nothing, and
 * a refused connect only that nothing listens.
 */
export function showsLife(obs: Observation): boolean {
  if (obs.status === 'allowed') return true;
  return obs.status === 'denied' && obs.how !== 'timeout' && obs.how !== 'refused';
}

/** The listener a probe reaches: the workload port for a direct client, the node proxy's HBONE port for every HBONE one. */
export function listenerOf(j: ProbeJob): string {
  return isHboneClient(j.client) ? `${j.address}|hbone` : `${j.address}|${j.targetPort}`;
}

/**
 * A timeout is evidence of a denial only when the same data-plane port proved alive in the same round (the batch of
 * probes fired together for one scenario attempt): another cell of that workload port got an answer or an active
 * refusal. Otherwise a hung or overloaded data plane would pass every deny cell, so the timeout becomes `error`.
 * Returns a new map; the input is not changed.
 */
export function timeoutsWithoutLife(jobs: readonly ProbeJob[], observed: ReadonlyMap<CellKey, Observation>): Map<CellKey, Observation> {
  const alive = new Set<string>();
  for (const j of jobs) {
    const obs = observed.get(j.key);
    if (obs && showsLife(obs)) alive.add(listenerOf(j));
  }
  const out = new Map(observed);
  for (const j of jobs) {
    const obs = observed.get(j.key);
    if (obs?.status !== 'denied' || obs.how !== 'timeout' || alive.has(listenerOf(j))) continue;
    out.set(j.key, {
      status: 'error',
      message: `${obs.detail}, and no other probe of ${j.workload}:${j.port} got an answer or a refusal in the same round: a data plane that does not respond is not evidence of a denial`,
      timings: obs.timings,
      attempts: obs.attempts,
      ...(obs.tls ? { tls: obs.tls } : {}),
    });
  }
  return out;
}
