import type { DecidingPolicy } from '../model/index.js';

/** "decided by mesh istio-system/default → workload foo/finance → port foo/finance", for lint and explain text. */
export function describeDecidedBy(decidedBy: readonly DecidingPolicy[]): string {
  if (decidedBy.length === 0) return 'no policy applies (hard default PERMISSIVE)';
  return `decided by ${decidedBy.map((d) => `${d.level} ${d.namespace}/${d.name}`).join(' → ')}`;
}
