import type { ClientKind, Expectation, WorkloadKey } from '../model/index.js';
import type { CertValidity, ChaosCell, PolicySetView } from './types.js';
import { cellId } from './types.js';

/** A policy set in force on one workload from `fromMs` (ms after t = 0). */
export interface Epoch {
  readonly fromMs: number;
  readonly set: string;
  /** The fault that delivered it (absent for the initial set). */
  readonly cause?: string;
}

/** A stretch in which a fault may make a workload's allowed paths unavailable (a restart, a network fault). */
export interface Tolerance {
  readonly workload: WorkloadKey;
  /** Only these ports (network faults on one port); all when absent. */
  readonly ports?: ReadonlySet<number>;
  readonly fromMs: number;
  toMs: number;
  readonly fault: string;
}

/**
 * The data plane of `workload` runs with a clock offset: started at `fromMs`, serving at `settledMs`; restarted with
 * the right clock at `toMs`, serving at `backMs`. While a restart settles, either clock may answer.
 */
export interface Skew {
  readonly workload: WorkloadKey;
  readonly offsetMs: number;
  fromMs: number;
  settledMs: number;
  toMs: number;
  backMs: number;
}

/**
 * The workload's certificate expires at `notAfterMs` (ms after t = 0) until a fresh one is installed. It was installed
 * at `installedMs` and seen served at `servedMs`: in between, the previous certificate may still be served.
 */
export interface Expiry {
  readonly workload: WorkloadKey;
  readonly notAfterMs: number;
  readonly installedMs: number;
  readonly servedMs: number;
  renewedAtMs?: number;
  /** When the fresh certificate was seen served (until then the expired one may still be). */
  renewedServedMs?: number;
  readonly fault: string;
}

/** An expectation the judge may accept, tagged with where it comes from. */
export interface Acceptable {
  readonly exp: Expectation;
  /** `current`: what must hold from now on; `previous`: the policy (or certificate, clock) being replaced, inside its bound. */
  readonly tag: 'current' | 'previous';
  /** The denial comes from the server's expired certificate (the client refuses it), not from enforcement. */
  readonly serverSide: boolean;
}

/** Around a certificate's notAfter (whole seconds, two clocks), either side is accepted. */
const EXPIRY_SLACK_MS = 50;

/** Client kinds that present the probe's mesh certificate (its validity matters under a clock skew). */
const MESH_CERT_CLIENTS: ReadonlySet<ClientKind> = new Set(['mtls-tcp', 'mtls-http', 'tls-no-istio-alpn']);

/**
 * What the policies, and the faults in force, allow at each moment: the runner records epochs, skews and expiries as
 * faults land; the judge asks `acceptable` for every probe afterwards.
 */
export class World {
  readonly epochs = new Map<WorkloadKey, Epoch[]>();
  readonly tolerances: Tolerance[] = [];
  readonly skews: Skew[] = [];
  readonly expiries: Expiry[] = [];
  /** From when probes to a workload present the next root's client certificate (staged CA rotation, stage 2). */
  readonly nextCredentialsFrom = new Map<WorkloadKey, number>();

  constructor(
    workloads: readonly WorkloadKey[],
    private readonly sets: ReadonlyMap<string, PolicySetView>,
    private readonly timeToEnforceMs: number,
    /** Epoch ms of t = 0. */
    private readonly startedAt: number,
    private readonly clientValidity: Readonly<Record<'mesh' | 'expired', CertValidity>>,
  ) {
    for (const w of workloads) this.epochs.set(w, [{ fromMs: Number.NEGATIVE_INFINITY, set: 'initial' }]);
  }

  changePolicy(workload: WorkloadKey, atMs: number, set: string, cause: string): void {
    this.epochs.get(workload)!.push({ fromMs: atMs, set, cause });
  }

  setOf(workload: WorkloadKey, atMs: number): string {
    return this.epochAt(workload, atMs).epoch.set;
  }

  expectation(set: string, cell: { workload: WorkloadKey; port: number; client: ClientKind }): Expectation {
    const e = this.sets.get(set)?.expectations.get(cellId(cell.workload, cell.port, cell.client));
    if (!e) throw new Error(`no expectation for ${cellId(cell.workload, cell.port, cell.client)} under policy set ${set}`);
    return e;
  }

  private epochAt(workload: WorkloadKey, atMs: number): { epoch: Epoch; previous?: Epoch } {
    const list = this.epochs.get(workload)!;
    let i = list.length - 1;
    while (i > 0 && list[i]!.fromMs > atMs) i--;
    return { epoch: list[i]!, ...(i > 0 ? { previous: list[i - 1]! } : {}) };
  }

  /**
   * Expectations a probe of `cell` that ran from `startMs` to `endMs` may match: the policy in force at its end, the
   * one before it while inside the time-to-enforce bound, each adjusted for a clock skew or an expired workload
   * certificate in force.
   */
  acceptable(cell: ChaosCell, startMs: number, endMs: number): Acceptable[] {
    const { epoch, previous } = this.epochAt(cell.workload, endMs);
    const bases: { set: string; current: boolean }[] = [{ set: epoch.set, current: true }];
    if (previous && startMs < epoch.fromMs + this.timeToEnforceMs) bases.push({ set: previous.set, current: false });
    const out: Acceptable[] = [];
    for (const b of bases) {
      for (const v of this.variants(this.expectation(b.set, cell), b.set, cell, startMs)) {
        out.push({ exp: v.exp, tag: b.current && v.final ? 'current' : 'previous', serverSide: v.serverSide });
      }
    }
    return out.sort((a, b) => (a.tag === b.tag ? 0 : a.tag === 'current' ? -1 : 1));
  }

  /** The expectation under the clock skew and certificate expiry in force at `atMs`; both sides while one settles. */
  private variants(exp: Expectation, set: string, cell: ChaosCell, atMs: number): { exp: Expectation; final: boolean; serverSide: boolean }[] {
    let out = [{ exp, final: true, serverSide: false }];
    const skew = this.skews.find((s) => s.workload === cell.workload && atMs >= s.fromMs && atMs < s.backMs);
    if (skew) {
      const skewed = this.skewed(exp, set, cell, this.startedAt + atMs + skew.offsetMs, skew.offsetMs);
      if (atMs < skew.settledMs)
        out = [
          { exp: skewed, final: true, serverSide: false },
          { exp, final: false, serverSide: false },
        ];
      else if (atMs < skew.toMs) out = [{ exp: skewed, final: true, serverSide: false }];
      else
        out = [
          { exp, final: true, serverSide: false },
          { exp: skewed, final: false, serverSide: false },
        ];
    }
    const renewalEnd = (x: Expiry) => Math.max(x.renewedAtMs! + this.timeToEnforceMs, x.renewedServedMs ?? Number.POSITIVE_INFINITY);
    const expiry = this.expiries.find((x) => x.workload === cell.workload && atMs >= x.notAfterMs - EXPIRY_SLACK_MS && (x.renewedAtMs === undefined || atMs < renewalEnd(x)));
    if (!expiry) return out;
    const expired = out.map((v) => ({ ...v, exp: expiredServer(v.exp), serverSide: expiredServer(v.exp) !== v.exp }));
    // Just around the expiry, before the short-lived certificate was seen served, or while the fresh one is being
    // loaded: either certificate may be served.
    const aroundExpiry = atMs < expiry.notAfterMs + EXPIRY_SLACK_MS;
    const loading = atMs < expiry.servedMs;
    const renewing = expiry.renewedAtMs !== undefined && atMs >= expiry.renewedAtMs;
    if (!aroundExpiry && !loading && !renewing) return expired;
    const finalIsExpired = !renewing && atMs >= expiry.notAfterMs;
    return [...out.map((v) => ({ ...v, final: v.final && !finalIsExpired })), ...expired.map((v) => ({ ...v, final: v.final && finalIsExpired }))];
  }

  /** True while a fault may make the cell unavailable. */
  tolerance(cell: ChaosCell, startMs: number, endMs: number): Tolerance | undefined {
    return this.tolerances.find((t) => t.workload === cell.workload && (!t.ports || t.ports.has(cell.port)) && startMs < t.toMs && endMs >= t.fromMs);
  }

  /**
   * R5.3: Envoy checks a client certificate's validity against its own clock. With the data plane's clock at `clock`,
   * a mesh certificate outside its validity is refused wherever mTLS is terminated, and the expired client's
   * certificate, if valid at that clock, is accepted like a valid mesh certificate.
   */
  private skewed(exp: Expectation, set: string, cell: ChaosCell, clock: number, offsetMs: number): Expectation {
    const valid = (v: CertValidity) => clock >= v.notBefore && clock <= v.notAfter;
    if (MESH_CERT_CLIENTS.has(cell.client) && exp.outcome === 'allow' && !valid(this.clientValidity.mesh)) {
      return only(exp, 'deny', `R5.3 the data plane's clock (offset ${offsetMs} ms) is outside the client certificate's validity: the handshake is refused`);
    }
    if (cell.client === 'mtls-expired' && valid(this.clientValidity.expired)) {
      const twin = this.expectation(set, { ...cell, client: cell.protocol === 'http' ? 'mtls-http' : 'mtls-tcp' });
      const rule = (r: string) => `R5.3 at the data plane's clock (offset ${offsetMs} ms) the "expired" client certificate is valid: treated like a valid mesh certificate (${r})`;
      return { ...exp, outcome: twin.outcome, rule: rule(twin.rule), required: twin.required, requiredRule: rule(twin.requiredRule) };
    }
    return exp;
  }

  /** The expectation of `cell` at the right clock and at the data plane's skewed `clock`. */
  skewPair(cell: ChaosCell, set: string, clock: number, offsetMs: number): { plain: Expectation; skewed: Expectation } {
    const plain = this.expectation(set, cell);
    return { plain, skewed: this.skewed(plain, set, cell, clock, offsetMs) };
  }

  /** Whether the probes of `cell` would see any effect of a skew of `offsetMs` at epoch time `clock` (plan checks). */
  skewFlips(cell: ChaosCell, set: string, clockWithOffset: number): boolean {
    const exp = this.expectation(set, cell);
    return this.skewed(exp, set, cell, clockWithOffset, 0).outcome !== exp.outcome;
  }
}

/**
 * R5.2/R5.3: a mesh client checks the server certificate's validity; once the workload's certificate has expired,
 * mTLS to it fails at the client. So every TLS cell that the data plane would terminate (expected allow) expects deny;
 * plaintext and refused cells keep their expectation (an expired certificate never opens a STRICT port).
 */
export function expiredServer(exp: Expectation): Expectation {
  if (exp.outcome !== 'allow' || exp.client.startsWith('plaintext-')) return exp;
  return only(exp, 'deny', "R5.2/R5.3 the workload's certificate has expired: a mesh client refuses it (Envoy checks the peer certificate's validity)");
}

/** `exp` whose reference and required outcome is `outcome` alone, for the reason `rule` (a fault's effect). */
function only(exp: Expectation, outcome: Expectation['outcome'], rule: string): Expectation {
  // The fault explains the outcome: no condition of the cell's usual required set applies.
  const { denyOnlyAfterTermination: _, ...rest } = exp;
  return { ...rest, outcome, rule, required: [outcome], requiredRule: rule };
}
