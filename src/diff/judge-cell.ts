import type { AllowedObservation, CellResult, Claim, ExpectedOutcome, Expectation, Observation, Verdict } from '../model/index.js';
import { acceptedOutcomes } from '../model/index.js';
import { describeDecidedBy, describeObservation } from './describe.js';
import { observedOutcome } from './observed-outcome.js';
import { withProps } from '../util/with-props.js';

/**
 * How one attempt compares with the expectation; `why` completes "expected … but <why>". `forbidden`: the application
 * answered where or how the policy does not allow it (an admission where deny is required, TLS terminated where
 * passthrough is required, a wrong identity, a misrouted reply): proof of a violation that no retry can undo.
 */
type AttemptJudgement = { readonly kind: 'match' } | { readonly kind: 'mismatch' | 'forbidden' | 'error'; readonly why: string };

/** Every client except plaintext-* speaks TLS first. */
function isTlsClient(client: Expectation['client']): boolean {
  return !client.startsWith('plaintext-');
}

/** Outcome accepted; is the evidence behind it consistent with what the observed outcome means? */
function evidenceProblem(exp: Expectation, obs: AllowedObservation): string | undefined {
  const { echo } = obs;
  if (echo.workload !== exp.workload || echo.port !== exp.port) {
    return `the reply came from ${echo.workload}:${echo.port}, not ${exp.workload}:${exp.port} (misroute)`;
  }
  if (obs.path === 'passthrough') {
    return echo.received === 'tls' ? undefined : "the application received plaintext, not the client's TLS bytes";
  }
  if (!isTlsClient(exp.client)) {
    if (obs.path !== 'plaintext') return `the connection took the ${obs.path} path, not plaintext`;
    return echo.received === 'plaintext' ? undefined : 'the application received TLS bytes from a plaintext client';
  }
  if (obs.path !== 'mtls') return `the application answered over ${obs.path}, not over mTLS terminated by the data plane`;
  const tls = obs.tls;
  if (!tls) return 'no TLS evidence was recorded for a TLS client';
  if (!tls.serverIdentityOk) {
    return `the server presented ${tls.serverIdentity ?? 'no SPIFFE identity'} issued by the ${tls.serverIssuer} CA, not the target workload's mesh identity`;
  }
  if (echo.received !== 'plaintext') return 'the application received TLS bytes instead of the decrypted stream';
  return undefined;
}

/**
 * Application-side evidence: the echo app recorded this attempt's payload (a receipt). What it received implies an
 * outcome — plaintext from a plaintext client or the decrypted stream of a TLS client is an admission, a TLS client's
 * raw bytes a passthrough — and one the policy does not allow is a violation, whatever the client saw (a data plane
 * that forwards and then swallows the answer or resets the client). Returns the reason, or undefined.
 */
function receiptProblem(exp: Expectation, obs: Observation, accepted: readonly ExpectedOutcome[]): string | undefined {
  const r = obs.receipt;
  if (!r) return undefined;
  const implied: ExpectedOutcome = isTlsClient(exp.client) && r.received === 'tls' ? 'passthrough' : 'allow';
  if (accepted.includes(implied)) return undefined;
  const what = !isTlsClient(exp.client)
    ? r.received === 'plaintext'
      ? "the client's plaintext"
      : "TLS bytes for the client's plaintext"
    : r.received === 'tls'
      ? "the client's TLS bytes untouched (passthrough)"
      : "the client's stream decrypted by the data plane";
  const where = r.workload === exp.workload && r.port === exp.port ? '' : ` at ${r.workload}:${r.port}`;
  const saw =
    obs.status === 'allowed' ? `saw that ${describeObservation(obs)}` : obs.status === 'denied' ? `was ${describeObservation(obs)}` : `saw an error (${describeObservation(obs)})`;
  return `the application${where} received ${what} (its receipt of this probe) although the client ${saw}`;
}

/**
 * Valid mesh mTLS to a STRICT or PERMISSIVE sidecar HTTP-declared port (`mtls-tcp`) must be terminated with the
 * workload's identity (R5.3, R5.4: Istio's chain there matches every Istio ALPN); only the non-HTTP bytes inside may
 * then be refused (R5.9). A refusal before that (a handshake alert over the client's TCP ALPN, a reset on the
 * ClientHello) denies a valid identity where mTLS is accepted, under either claim. Returns the reason, or undefined.
 */
function denialBeforeTermination(exp: Expectation, obs: Observation): string | undefined {
  if (obs.status !== 'denied' || !exp.denyOnlyAfterTermination) return undefined;
  if (obs.tls?.serverIdentityOk) return undefined;
  const tls = obs.tls ? `the server presented ${obs.tls.serverIdentity ?? 'no SPIFFE identity'}` : 'the TLS handshake did not complete';
  return `${describeObservation(obs)} before mTLS was terminated with the workload's identity (${tls}); valid mesh mTLS must be accepted here, only the non-HTTP bytes inside may be refused (R5.9)`;
}

function judgeAttempt(exp: Expectation, obs: Observation, accepted: readonly ExpectedOutcome[]): AttemptJudgement {
  const client = judgeClientSide(exp, obs, accepted);
  // The client's own proof of a violation says it best; otherwise the application's receipt can still prove one.
  if (client.kind === 'forbidden') return client;
  const fromApp = receiptProblem(exp, obs, accepted);
  return fromApp !== undefined ? { kind: 'forbidden', why: fromApp } : client;
}

/** What the client's side of one attempt shows, before the application's receipt is considered. */
function judgeClientSide(exp: Expectation, obs: Observation, accepted: readonly ExpectedOutcome[]): AttemptJudgement {
  const outcome = observedOutcome(obs);
  if (outcome === undefined) return { kind: 'error', why: describeObservation(obs) };
  // Asymmetric evidence: a denial or an error may be a transient failure of an allowed path, so a retry may still
  // match; an answer from the application is never transient.
  const miss = obs.status === 'allowed' ? 'forbidden' : 'mismatch';
  if (!accepted.includes(outcome)) return { kind: miss, why: describeObservation(obs) };
  const early = denialBeforeTermination(exp, obs);
  if (early !== undefined) return { kind: 'mismatch', why: early };
  if (obs.status !== 'allowed') return { kind: 'match' };
  const problem = evidenceProblem(exp, obs);
  return problem === undefined ? { kind: 'match' } : { kind: miss, why: problem };
}

/**
 * True when this attempt alone proves a violation (the application answered, or received the payload, where or how
 * the policy does not allow): a cell failed on it is settled, and retrying it is pointless.
 */
export function provesViolation(exp: Expectation, obs: Observation, claim: Claim = 'spec'): boolean {
  return judgeAttempt(exp, obs, acceptedOutcomes(exp, claim)).kind === 'forbidden';
}

function baseCell(exp: Expectation, feature: string): Omit<CellResult, 'verdict' | 'reason'> {
  return {
    key: exp.key,
    scenario: exp.scenario,
    feature,
    meshMode: exp.meshMode,
    workload: exp.workload,
    port: exp.port,
    protocol: exp.protocol,
    client: exp.client,
    expected: { mode: exp.mode, outcome: exp.outcome, rule: exp.rule, required: exp.required, requiredRule: exp.requiredRule },
    decidedBy: exp.decidedBy,
  };
}

/** `expected deny (STRICT, R5.3 …)`; under `--claim spec` a set, `expected deny or allow (…)`, with its own rule. */
function expectedText(exp: Expectation, accepted: readonly ExpectedOutcome[]): string {
  const istioOnly = accepted.length === 1 && accepted[0] === exp.outcome;
  return `expected ${accepted.join(' or ')} (${exp.mode}, ${istioOnly ? exp.rule : exp.requiredRule})`;
}

/** Who gives Istio's reference outcome (for "conformant; Istio's Envoy answers deny here"). */
function istioName(exp: Expectation): string {
  return exp.meshMode === 'ambient' ? "Istio's ztunnel" : "Istio's Envoy";
}

/** A matching outcome's sentence; one that is not Istio's reference outcome says what Istio does instead. */
function matchText(exp: Expectation, outcome: ExpectedOutcome | undefined): string {
  if (outcome === undefined || outcome === exp.outcome) return `${exp.outcome} as expected (${exp.mode}, ${exp.rule})`;
  return `${outcome}: conformant (${exp.mode}, ${exp.requiredRule}); ${istioName(exp)} answers ${exp.outcome} here (${exp.rule})`;
}

/**
 * Compares one cell's attempts (first try, then retries, in order) with the oracle's expectation.
 * fail: some attempt observed an answer the policy forbids (asymmetric evidence: retries only give an allowed path
 * that was denied or erred another chance); else pass: the first attempt matches; flaky: a later one does; error: none
 * matches and the last could not run (or was refused); fail: otherwise. An error is never a pass and never a denial.
 */
export function judgeCell(exp: Expectation, attempts: readonly Observation[], ctx: { readonly feature: string; readonly claim?: Claim }): CellResult {
  const last = attempts.at(-1);
  if (last === undefined) return errorCell(exp, 'no probe attempt was recorded for this cell', ctx.feature);
  // `--claim spec` (default) accepts every outcome PeerAuthentication requires; `istio` only Istio's reference one.
  const accepted = acceptedOutcomes(exp, ctx.claim ?? 'spec');
  const judged = attempts.map((obs) => judgeAttempt(exp, obs, accepted));
  const lastJudged = judged.at(-1)!;
  const firstMatch = judged.findIndex((j) => j.kind === 'match');
  // The outcome of the first matching attempt: what a pass or a flaky cell stands on.
  const matched = firstMatch >= 0 ? observedOutcome(attempts[firstMatch]!) : undefined;
  const n = attempts.length;
  const decided = describeDecidedBy(exp.decidedBy);

  const forbidden = judged.findIndex((j) => j.kind === 'forbidden');
  let verdict: Verdict;
  let reason: string;
  let shown = last;
  if (forbidden >= 0) {
    verdict = 'fail';
    shown = attempts[forbidden]!;
    const at = n > 1 ? ` on attempt ${forbidden + 1} of ${n}` : '';
    const later = n > 1 && firstMatch >= 0 ? ' (an observed violation stands whatever the retries show)' : '';
    reason = `${expectedText(exp, accepted)} but${at} ${(judged[forbidden] as { why: string }).why}${later}; ${decided}.`;
  } else if (firstMatch === 0) {
    verdict = 'pass';
    reason = `${matchText(exp, matched)}; ${decided}.`;
  } else if (firstMatch > 0) {
    const first = judged[0]!;
    verdict = 'flaky';
    const differs = matched !== exp.outcome ? ` (${matchText(exp, matched)})` : '';
    reason = `${expectedText(exp, accepted)}: matched${differs} only on attempt ${firstMatch + 1} of ${n}; attempt 1: ${first.kind === 'match' ? 'matched' : first.why}; ${decided}.`;
  } else if (lastJudged.kind === 'error') {
    verdict = 'error';
    // A mismatch seen before the error is still worth a look (it may be a fail-open), but it is not the verdict.
    const mismatch = judged.findLastIndex((j) => j.kind === 'mismatch');
    const earlier = mismatch >= 0 ? `; attempt ${mismatch + 1} had shown: ${(judged[mismatch] as { why: string }).why}` : '';
    reason = `${lastJudged.why}${n > 1 ? ` (attempt ${n} of ${n})` : ''}; ${expectedText(exp, accepted)}, so this cell proves nothing${earlier}.`;
  } else {
    verdict = 'fail';
    reason = `${expectedText(exp, accepted)} but ${'why' in lastJudged ? lastJudged.why : 'no attempt matched'}; ${decided}.`;
  }

  // A fail shows the attempt that proved it; otherwise the last attempt.
  const outcome = observedOutcome(shown);
  const differsFromIstio = verdict !== 'fail' && matched !== undefined && matched !== exp.outcome;
  // Properties added to the base cell, not spread into a new literal: see util/with-props.ts.
  return Object.assign(baseCell(exp, ctx.feature), differsFromIstio ? { differsFromIstio: true as const } : {}, {
    observed: withProps(shown, { attempts: n }),
    ...(verdict === 'flaky' ? { firstAttempt: attempts[0]! } : {}),
    ...(outcome !== undefined ? { observedOutcome: outcome } : {}),
    verdict,
    reason,
  });
}

/** A cell not run because this run lacks a capability it needs. */
export function skippedCell(exp: Expectation, reason: string, feature: string): CellResult {
  return Object.assign(baseCell(exp, feature), { verdict: 'skipped' as const, reason });
}

/** A cell whose scenario could not run at all (environment failed, data plane unhealthy). */
export function errorCell(exp: Expectation, message: string, feature: string): CellResult {
  return Object.assign(baseCell(exp, feature), { verdict: 'error' as const, reason: message });
}
