import type { AppReceipt, Observation } from '../model/index.js';
import { withProps } from '../util/with-props.js';

/** Where one attempt of one cell is recorded: its cell key and index among the cell's attempts. */
export interface AttemptRef {
  readonly key: string;
  readonly index: number;
}

/**
 * Marks every attempt whose probe id the application recorded with `receipt` (the first receipt of an id wins; a
 * receipt for an unknown id — a companion probe, another run, a forgery — is ignored). Returns how many attempts
 * were newly marked. Only adds evidence: nothing else in an observation changes.
 */
export function applyReceipts(receipts: readonly AppReceipt[], ids: ReadonlyMap<string, AttemptRef>, attempts: ReadonlyMap<string, Observation[]>): number {
  let marked = 0;
  for (const r of receipts) {
    const ref = ids.get(r.id);
    if (!ref) continue;
    const list = attempts.get(ref.key);
    const obs = list?.[ref.index];
    if (!list || !obs || obs.receipt) continue;
    list[ref.index] = withProps(obs, { receipt: { workload: r.workload, port: r.port, received: r.received } });
    marked++;
  }
  return marked;
}
