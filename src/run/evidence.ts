import type { Attachment, CellResult, Environment, EnvironmentEvidence, EvidenceRequest, Observation } from '../model/index.js';
import { EVIDENCE_BOUNDS } from '../util/evidence-text.js';
import { withProps } from '../util/with-props.js';

/** How long the pipeline waits for a backend's evidence before it stops the environment without it. */
const EVIDENCE_DEADLINE_MS = 60_000;
/** Log lines kept from just before the probe started: what the proxy did as the connection came in. */
const BEFORE_MS = 250;
/** After the probe: a log line is stamped when the harness (or Docker) reads it, which lags under load. */
const AFTER_MS = 1000;

/** What every unit of a run draws on: evidence bytes left for the run (attachments are bounded per run too). */
export interface EvidenceBudget {
  bytesLeft: number;
}

export const evidenceBudget = (): EvidenceBudget => ({ bytesLeft: EVIDENCE_BOUNDS.runBytes });

const wanted = (c: CellResult) => c.verdict === 'fail' || c.verdict === 'flaky' || c.verdict === 'error';

/** The probe window of a cell: its last observation's, or the unit's whole span when it has none. */
function requestOf(c: CellResult, unitStart: number): EvidenceRequest {
  const t = c.observed?.timings;
  const fromMs = (t?.startedAt ?? unitStart) - BEFORE_MS;
  const toMs = t ? t.startedAt + t.totalMs + AFTER_MS : Date.now();
  return { key: c.key, workload: c.workload, port: c.port, fromMs, toMs };
}

/**
 * The data plane's side of every failing, flaky and error cell, and every data plane's whole log, asked of the
 * environment before it stops. Evidence is optional: a backend without the channel, one that fails or takes too long,
 * or an interrupted run leaves it out.
 */
export async function gatherEvidence(
  env: Environment,
  cells: readonly CellResult[],
  o: { readonly unitStart: number; readonly budget: EvidenceBudget; readonly interrupt?: AbortSignal },
): Promise<{ cells: CellResult[]; attachments?: Attachment[] }> {
  // Wire evidence is kept where it explains something: a scale run's passing cells would carry megabytes of it.
  cells = cells.map((c) => (wanted(c) || !c.observed?.wire ? c : withProps(c, { observed: withoutWire(c.observed) })));
  const requests = cells.filter(wanted).map((c) => requestOf(c, o.unitStart));
  if (!env.evidence || o.interrupt?.aborted) return { cells: [...cells] };
  let timer: NodeJS.Timeout | undefined;
  try {
    // Every data plane's whole log goes beside the report, failing cells or not (bounded per run).
    const asked = env.evidence(requests, { everyLog: true });
    const got = await Promise.race([asked, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), EVIDENCE_DEADLINE_MS)))]);
    if (!got || o.interrupt?.aborted) return { cells: [...cells] };
    const { cells: out, attachments } = keepWithinBudget(cells, got, o.budget);
    return { cells: out, ...(attachments.length > 0 ? { attachments } : {}) };
  } catch {
    return { cells: [...cells] };
  } finally {
    clearTimeout(timer);
  }
}

/** Attachments a scenario keeps at most (the report schema's bound): those its cells cite first. */
const ATTACHMENTS_PER_SCENARIO = 500;

/**
 * What of the evidence fits the run's budget: first what failing cells carry (their own lines and config, then the
 * attachments they cite), then the whole logs of data planes nothing failed on, only while half the budget is left.
 */
function keepWithinBudget(cells: readonly CellResult[], got: EnvironmentEvidence, budget: EvidenceBudget): { cells: CellResult[]; attachments: Attachment[] } {
  const take = (bytes: number, reserve = 0) => {
    if (bytes > budget.bytesLeft - reserve) return false;
    budget.bytesLeft -= bytes;
    return true;
  };
  const withEvidence = cells.map((c) => {
    const e = got.cells.get(c.key);
    return e && wanted(c) && take(Buffer.byteLength(JSON.stringify(e))) ? { c, e } : { c, e: undefined };
  });
  const cited = new Set(withEvidence.flatMap(({ e }) => e?.attachments ?? []));
  const ordered = [...got.attachments.filter((a) => cited.has(a.id)), ...got.attachments.filter((a) => !cited.has(a.id))];
  const attachments: Attachment[] = [];
  for (const a of ordered) {
    if (attachments.length >= ATTACHMENTS_PER_SCENARIO) break;
    if (take(Buffer.byteLength(a.text), cited.has(a.id) ? 0 : EVIDENCE_BOUNDS.runBytes / 2)) attachments.push(a);
  }
  const kept = new Set(attachments.map((a) => a.id));
  const out = withEvidence.map(({ c, e }) => {
    if (!e) return c;
    const ids = e.attachments?.filter((id) => kept.has(id));
    return withProps(c, { evidence: withProps(e, ids ? { attachments: ids } : {}) });
  });
  return { cells: out, attachments };
}

function withoutWire(o: Observation): Observation {
  const { wire: _wire, ...rest } = o;
  return rest as Observation;
}
