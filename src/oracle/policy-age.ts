import type { Policy } from '../model/index.js';
import { ScenarioError } from '../util/errors.js';

/**
 * A missing creationTimestamp is Go's zero time (year 1): older than any explicit timestamp, the epoch and earlier
 * ones included (a differential run of generated scenarios found the epoch tie when this was 0).
 */
const MISSING_TIMESTAMP_MS = Number.NEGATIVE_INFINITY;

function createdAtMs(p: Policy): number {
  if (p.creationTimestamp === undefined) return MISSING_TIMESTAMP_MS;
  const ms = Date.parse(p.creationTimestamp);
  if (Number.isNaN(ms)) {
    throw new ScenarioError(`PeerAuthentication ${p.namespace}/${p.name}: creationTimestamp "${p.creationTimestamp}" is not an RFC 3339 timestamp`, p.source);
  }
  return ms;
}

function compareStrings(a: string, b: string): number {
  // Code-unit order like Go's string comparison, not locale order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Istio's configCompareByCreationTime (spec R3.1): creationTimestamp, then name, then namespace. */
export function comparePolicyAge(a: Policy, b: Policy): number {
  const ta = createdAtMs(a);
  const tb = createdAtMs(b);
  const byTime = ta === tb ? 0 : ta < tb ? -1 : 1; // not ta - tb: -Infinity - -Infinity is NaN
  return byTime || compareStrings(a.name, b.name) || compareStrings(a.namespace, b.namespace);
}

/** The policy that wins a conflict within one scope: the oldest (spec R3.1, R3.2). */
export function oldestPolicy(policies: readonly Policy[]): Policy | undefined {
  let oldest: Policy | undefined;
  for (const p of policies) {
    if (oldest === undefined || comparePolicyAge(p, oldest) < 0) oldest = p;
  }
  return oldest;
}
