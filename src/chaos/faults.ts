import net from 'node:net';
import type { CanaryCheck, ClientKind, EnvironmentChaos, Observation, TimelineEvent, Workload, WorkloadKey } from '../model/index.js';
import type { FaultProxy, Toxic } from './fault-proxy.js';
import type { ChangeToMeasure, JudgedProbe, RecoveryToMeasure } from './judge.js';
import { outcomeOf, secs } from './judge.js';
import type { ScheduledFault } from './schedule.js';
import type { ChaosCell, ChaosRunInput, ChaosTlsEvidence, Credentials, IssuedTls, ProbeRecord, SpecialExpectation } from './types.js';
import type { Expiry, Skew, World } from './world.js';

/** Shared state of one chaos run, as the faults change it. */
export interface FaultContext {
  readonly input: ChaosRunInput;
  readonly chaos: EnvironmentChaos;
  readonly world: World;
  now(): number;
  /** Resolves at `ms` after t = 0 (at once when the run is being stopped). */
  sleepUntil(ms: number): Promise<void>;
  readonly proxies: ReadonlyMap<string, FaultProxy>;
  /** The TLS material each workload's data plane has now. */
  readonly tls: Map<WorkloadKey, { material: IssuedTls; bundle: string }>;
  /** Serial numbers installed on each workload, oldest first (the initial certificate included). */
  readonly installed: Map<WorkloadKey, string[]>;
  /** The policy set last delivered (to every workload not paused). */
  currentSet: string;
  readonly paused: Set<WorkloadKey>;
  readonly specials: ProbeRecord[];
  readonly events: TimelineEvent[];
  readonly changes: Omit<ChangeToMeasure, 'untilMs'>[];
  readonly recoveries: Omit<RecoveryToMeasure, 'untilMs'>[];
  readonly workloads: readonly WorkloadKey[];
}

/** What a fault did: its band on the timeline and its canary; `later` finishes the canary from the judged probes. */
export interface FaultRecord {
  readonly fault: ScheduledFault;
  startMs: number;
  endMs?: number;
  readonly checks: CanaryCheck[];
  later?: (judged: readonly JudgedProbe[]) => CanaryCheck[];
  /** Takes the fault's effect on the expectations back out: a fault whose canary failed never landed. */
  undo?: () => void;
}

const POLL_MS = 25;
/**
 * How long a canary waits for a reload to show (a new certificate served, a trust bundle in force). Generous: on a
 * starved machine a reload can take seconds, and a canary that gives up early reports a fault that did land as one
 * that did not.
 */
const CANARY_DEADLINE_MS = 10_000;

/**
 * Positive evidence (docs/chaos-canaries.md): an observation load cannot produce. The application's answer (allowed,
 * passed through) or a TLS alert is; a timeout, a reset, a close, a refusal or an HTTP error status alone is not, since
 * a starved harness or data plane produces those too. A canary counts only such observations as its fault's effect.
 */
export function positiveEvidence(obs: Observation): boolean {
  return obs.status === 'allowed' || (obs.status === 'denied' && obs.how === 'tls-alert');
}

export function proxyKey(workload: WorkloadKey, port: number): string {
  return `${workload}|${port}`;
}

/** Carries out one fault at its time and records its canary checks. Never throws: a failure is a failed check. */
export async function runFault(f: ScheduledFault, c: FaultContext): Promise<FaultRecord> {
  await c.sleepUntil(f.atMs);
  const rec: FaultRecord = { fault: f, startMs: c.now(), checks: [] };
  try {
    await FAULTS[f.fault](f, c, rec);
  } catch (err) {
    rec.checks.push({ name: 'fault carried out', ok: false, detail: `${f.name}: ${(err as Error).message}`, atMs: round(c.now()) });
  }
  return rec;
}

type FaultFn = (f: ScheduledFault, c: FaultContext, rec: FaultRecord) => Promise<void>;

const check = (rec: FaultRecord, c: FaultContext, name: string, ok: boolean, detail: string) => {
  rec.checks.push({ name, ok, detail, atMs: round(c.now()) });
  return ok;
};

const FAULTS: Readonly<Record<ScheduledFault['fault'], FaultFn>> = {
  kill: async (f, c, rec) => void (await stopAndStart(f, c, rec, 'SIGKILL', f.durationMs ?? 0)),
  restart: async (f, c, rec) => void (await stopAndStart(f, c, rec, 'SIGTERM', f.durationMs ?? 0)),
  'clock-skew': clockSkew,
  'policy-change': policyChange,
  'distribution-pause': distributionPause,
  'cert-rotation': certRotation,
  'cert-expiry': certExpiry,
  'ca-rotation': caRotation,
  latency: proxyFault,
  bandwidth: proxyFault,
  reset: proxyFault,
  blackhole: proxyFault,
  partition: proxyFault,
  'packet-loss': packetLoss,
};

// ---- data-plane process -------------------------------------------------------------------------------------

/** Stops the workload's data plane with `signal`, proves it is down, restarts it after `downMs`, proves it is back. */
async function stopAndStart(
  f: ScheduledFault,
  c: FaultContext,
  rec: FaultRecord,
  signal: 'SIGKILL' | 'SIGTERM',
  downMs: number,
  clockOffsetMs?: number,
): Promise<{ restartFromMs: number; startedMs: number }> {
  const w = f.workload!;
  const before = c.chaos.dataPlane(w);
  const tolerance = { workload: w, fromMs: c.now(), toMs: Number.POSITIVE_INFINITY, fault: f.name };
  c.world.tolerances.push(tolerance);
  await c.chaos.killDataPlane(w, signal);
  const after = c.chaos.dataPlane(w);
  check(
    rec,
    c,
    `data plane stopped (${signal})`,
    !after.running && !alive(before.pid),
    `pid ${before.pid ?? '?'} ${alive(before.pid) ? 'still alive' : 'gone'}; running=${after.running}`,
  );
  const target = c.input.env.targets.get(w)!;
  const port = [...target.ports.values()][0]!;
  const refused = await connectResult(target.address, port);
  check(rec, c, 'probe refused while down', refused === 'refused', `TCP connect to ${target.address}:${port}: ${refused}`);
  const restartAt = c.now() + downMs;
  rec.endMs = restartAt;
  await c.sleepUntil(restartAt);
  const restartFrom = c.now();
  await c.chaos.startDataPlane(w, clockOffsetMs !== undefined ? { clockOffsetMs } : {});
  const startedMs = c.now();
  tolerance.toMs = startedMs + c.input.spec.invariants.recoveryMs;
  const now = c.chaos.dataPlane(w);
  check(
    rec,
    c,
    'data plane started again',
    now.running && now.generation === before.generation + 1 && now.pid !== before.pid,
    `generation ${before.generation} → ${now.generation}, pid ${before.pid ?? '?'} → ${now.pid ?? '?'}, running=${now.running}`,
  );
  c.recoveries.push({ fault: f.name, workload: w, fromMs: restartFrom });
  return { restartFromMs: restartFrom, startedMs };
}

async function clockSkew(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const w = f.workload!;
  const offset = f.offsetMs!;
  // Recorded before the restart: the new process may serve before its readiness is seen.
  const skew: Skew = {
    workload: w,
    offsetMs: offset,
    fromMs: Number.POSITIVE_INFINITY,
    settledMs: Number.POSITIVE_INFINITY,
    toMs: Number.POSITIVE_INFINITY,
    backMs: Number.POSITIVE_INFINITY,
  };
  c.world.skews.push(skew);
  skew.fromMs = c.now();
  const { startedMs } = await stopAndStart(f, c, rec, 'SIGTERM', 0, offset);
  skew.settledMs = startedMs;
  rec.endMs = undefined;
  rec.later = (judged) => {
    // Proof: a probe, from the skewed start on, whose observation matches the outcome at the skewed clock and not the
    // one at the right clock (while the restart settles both are accepted, so a match alone proves nothing), and is
    // positive evidence: an allow only the offset explains (the "expired" certificate accepted) or a TLS alert. A
    // timeout or reset "matches" a skewed deny too, and a starved harness produces those.
    const epochOf = (ms: number) => Date.now() - c.now() + ms;
    const flipped = judged
      .filter((j) => !j.record.special && j.record.cell.workload === w && j.record.startMs >= skew.fromMs && j.record.endMs < skew.toMs)
      .map((j) => ({ j, ...c.world.skewPair(j.record.cell, c.world.setOf(w, j.record.startMs), epochOf(j.record.startMs) + offset, offset) }))
      .filter((x) => x.skewed.outcome !== x.plain.outcome);
    const seen = flipped.filter((x) => positiveEvidence(x.j.obs) && c.input.matches(x.skewed, x.j.obs).kind === 'match' && c.input.matches(x.plain, x.j.obs).kind !== 'match');
    const contrary = flipped.filter((x) => x.j.record.startMs >= skew.settledMs && c.input.matches(x.plain, x.j.obs).kind === 'match');
    const ignored = seen.length === 0 && contrary.length > 0;
    const first = seen[0]?.j;
    return [
      {
        name: 'certificate validity judged at the skewed clock',
        ok: seen.length > 0,
        detail: first
          ? `${seen.length} of ${flipped.length} probes whose outcome the offset changes showed it (first ${first.record.cell.client} at ${secs(first.record.startMs)})`
          : flipped.length === 0
            ? 'no probe ran while the skewed data plane served (it took the whole window to start)'
            : `none of ${flipped.length} probes whose outcome the offset changes showed it with positive evidence (an answer or a TLS alert only the offset explains)${ignored ? ': the data plane ignores MESHCONFORM_CLOCK_OFFSET_MS' : ''}`,
      },
    ];
  };
  // An unproven skew is judged as if it never happened (the scenario is an error either way).
  rec.undo = () => {
    const i = c.world.skews.indexOf(skew);
    if (i >= 0) c.world.skews.splice(i, 1);
  };
  if (f.durationMs === undefined) return;
  await c.sleepUntil(f.atMs + f.durationMs);
  skew.toMs = c.now();
  rec.endMs = c.now();
  const back: FaultRecord = { fault: f, startMs: c.now(), checks: [] };
  const restored = await stopAndStart({ ...f, name: `${f.name} (back to the right clock)` }, c, back, 'SIGTERM', 0);
  skew.backMs = restored.startedMs;
  rec.checks.push(...back.checks.map((x) => ({ ...x, name: `clock restored: ${x.name}` })));
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function connectResult(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const done = (r: string) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(1000, () => done('no answer within 1000 ms'));
    s.once('connect', () => done('accepted'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : (e.code ?? e.message)));
  });
}

// ---- policy distribution ------------------------------------------------------------------------------------

async function delivered(c: FaultContext, w: WorkloadKey, set: string): Promise<{ ok: boolean; detail: string } | undefined> {
  if (!c.chaos.deliveredPolicies) return undefined;
  const got = JSON.stringify(await c.chaos.deliveredPolicies(w));
  const want = JSON.stringify(c.input.sets.get(set)!.manifests);
  return { ok: got === want, detail: got === want ? `config of ${w} holds policy set ${set}` : `config of ${w} does not hold policy set ${set}` };
}

async function policyChange(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const to = f.policySet!;
  const at = c.now();
  rec.startMs = at;
  const from = new Map(c.workloads.map((w) => [w, c.world.setOf(w, at)]));
  await c.input.env.applyPolicies(c.input.sets.get(to)!.manifests);
  c.currentSet = to;
  c.events.push({ atMs: round(at), label: f.name });
  const reached = c.workloads.filter((w) => !c.paused.has(w));
  for (const w of reached) {
    c.world.changePolicy(w, at, to, f.name);
    c.changes.push({ change: f.name, workload: w, atMs: at, from: from.get(w)!, to });
  }
  rec.endMs = at;
  let proven = false;
  for (const w of reached) {
    const d = await delivered(c, w, to);
    if (d) {
      proven = true;
      check(rec, c, `update delivered to ${w}`, d.ok, d.detail);
    }
  }
  if (!proven) {
    // Without a way to read the config back, only the data plane enforcing the new set proves the update landed, and
    // only with positive evidence: a cell the change flipped, answered as the new set says (a new deny seen as a
    // timeout or reset proves nothing).
    rec.later = (judged) => {
      const changed = judged.filter(
        (j) =>
          !j.record.special &&
          reached.includes(j.record.cell.workload) &&
          j.record.startMs >= at &&
          c.world.expectation(from.get(j.record.cell.workload)!, j.record.cell).outcome !== c.world.expectation(to, j.record.cell).outcome,
      );
      const ok = changed.some((j) => j.judged === 'match' && positiveEvidence(j.obs));
      return [
        {
          name: 'new policy enforced somewhere',
          ok,
          detail: ok
            ? `probes matched policy set ${to} with an answer or TLS alert only it explains`
            : `no probe matched policy set ${to} with positive evidence (an answer or TLS alert only the new set explains)`,
        },
      ];
    };
  }
}

async function distributionPause(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const w = f.workload!;
  const to = f.policySet!;
  const at = c.now();
  rec.startMs = at;
  const held = c.world.setOf(w, at);
  const from = new Map(c.workloads.map((x) => [x, c.world.setOf(x, at)]));
  c.chaos.pauseDistribution(w, true);
  c.paused.add(w);
  await c.input.env.applyPolicies(c.input.sets.get(to)!.manifests);
  c.currentSet = to;
  c.events.push({ atMs: round(at), label: `policy set ${to} (withheld from ${w})` });
  for (const x of c.workloads.filter((x) => !c.paused.has(x))) {
    c.world.changePolicy(x, at, to, f.name);
    c.changes.push({ change: `policy set ${to} during ${f.name}`, workload: x, atMs: at, from: from.get(x)!, to });
  }
  const withheld = await delivered(c, w, held);
  if (withheld) check(rec, c, `update withheld from ${w}`, withheld.ok, withheld.ok ? `config of ${w} still holds policy set ${held}` : withheld.detail);
  else check(rec, c, `update withheld from ${w}`, false, 'the backend cannot read a data-plane config back, so the pause cannot be proven');
  for (const x of c.workloads.filter((x) => !c.paused.has(x))) {
    const d = await delivered(c, x, to);
    if (d) check(rec, c, `update delivered to ${x}`, d.ok, d.detail);
  }
  await c.sleepUntil(f.atMs + (f.durationMs ?? 0));
  const resumeAt = c.now();
  rec.endMs = resumeAt;
  c.chaos.pauseDistribution(w, false);
  c.paused.delete(w);
  const current = c.currentSet;
  await c.input.env.applyPolicies(c.input.sets.get(current)!.manifests);
  c.events.push({ atMs: round(resumeAt), label: `distribution resumed on ${w}` });
  if (current !== held) {
    c.world.changePolicy(w, resumeAt, current, `distribution resumed on ${w}`);
    c.changes.push({ change: `distribution resumed on ${w}`, workload: w, atMs: resumeAt, from: held, to: current });
  }
  const after = await delivered(c, w, current);
  if (after) check(rec, c, `update delivered to ${w} after the pause`, after.ok, after.detail);
}

// ---- certificates ---------------------------------------------------------------------------------------------

/** The mTLS client of a port's protocol, at the first port of `w` where the data plane terminates it under `set`. */
export function terminatingCell(world: World, workloads: readonly Workload[], w: WorkloadKey, set: string): ChaosCell | undefined {
  const wl = workloads.find((x) => `${x.namespace}/${x.name}` === w);
  for (const p of wl?.ports ?? []) {
    const client: ClientKind = p.protocol === 'http' ? 'mtls-http' : 'mtls-tcp';
    const cell = { key: `${w}|${p.port}|${client}|canary`, workload: w, port: p.port, protocol: p.protocol, client };
    if (world.expectation(set, cell).outcome === 'allow') return cell;
  }
  return undefined;
}

/** Probes the workload's terminating port directly until the server certificate satisfies `want` or the bound passes. */
async function pollServerCert(c: FaultContext, w: WorkloadKey, credentials: Credentials, want: (tls: ChaosTlsEvidence) => boolean): Promise<{ ok: boolean; detail: string }> {
  const cell = terminatingCell(c.world, c.input.scenario.workloads, w, c.world.setOf(w, c.now()));
  if (!cell) return { ok: false, detail: `no port of ${w} terminates mTLS under the policy in force` };
  const until = c.now() + CANARY_DEADLINE_MS;
  let last = 'no probe ran';
  for (;;) {
    const obs = await c.input.probe(c.input.job(cell), { timeoutMs: c.input.timeoutMs, credentials });
    const tls = obs.tls as ChaosTlsEvidence | undefined;
    if (tls && want(tls))
      return {
        ok: true,
        detail: `${w}:${cell.port} presents serial ${tls.serverSerial ?? '?'} (issued by the ${tls.serverRoot ?? '?'} root, not after ${tls.serverNotAfter !== undefined ? new Date(tls.serverNotAfter).toISOString() : '?'})`,
      };
    last = tls ? `serial ${tls.serverSerial ?? '?'} from the ${tls.serverRoot ?? '?'} root` : describeObs(obs);
    if (c.now() >= until) return { ok: false, detail: `${w}:${cell.port} still shows ${last} ${CANARY_DEADLINE_MS} ms after the new certificate was installed` };
    await sleep(POLL_MS);
  }
}

function describeObs(obs: Observation): string {
  return obs.status === 'allowed' ? `allowed (${obs.path})` : obs.status === 'denied' ? `denied (${obs.how})` : `error: ${obs.message}`;
}

async function install(c: FaultContext, w: WorkloadKey, material: IssuedTls, bundle: string): Promise<void> {
  const serials = c.installed.get(w) ?? [];
  if (serials.at(-1) !== material.serial) serials.push(material.serial);
  c.installed.set(w, serials);
  await c.chaos.installTls(w, { ...material, caPem: bundle });
  c.tls.set(w, { material, bundle });
}

/**
 * The server presents `serial` or a certificate installed after it: on a busy machine a later rotation of the same
 * workload can land before this one's canary looked, and it proves the reload just as well.
 */
function servesAtLeast(c: FaultContext, w: WorkloadKey, serial: string): (t: ChaosTlsEvidence) => boolean {
  return (t) => {
    const serials = c.installed.get(w) ?? [];
    return t.serverSerial !== undefined && serials.indexOf(t.serverSerial) >= serials.indexOf(serial) && serials.includes(serial);
  };
}

async function certRotation(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const w = f.workload!;
  const state = c.tls.get(w)!;
  const fresh = c.input.issue(w, { root: rootOf(c, w), bundle: state.bundle });
  await install(c, w, fresh, state.bundle);
  const seen = await pollServerCert(c, w, credentialsAt(c, w), servesAtLeast(c, w, fresh.serial));
  rec.endMs = c.now();
  check(rec, c, 'server presents the new certificate', seen.ok, seen.detail);
}

function rootOf(c: FaultContext, w: WorkloadKey): Credentials {
  return c.world.nextCredentialsFrom.has(w) ? 'next' : 'current';
}

function credentialsAt(c: FaultContext, w: WorkloadKey): Credentials {
  const from = c.world.nextCredentialsFrom.get(w);
  return from !== undefined && c.now() >= from ? 'next' : 'current';
}

async function certExpiry(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const w = f.workload!;
  const state = c.tls.get(w)!;
  const notAfter = Date.now() + f.validForMs!;
  const short = c.input.issue(w, { root: rootOf(c, w), notAfter, bundle: state.bundle });
  const installedMs = c.now();
  await install(c, w, short, state.bundle);
  const seen = await pollServerCert(c, w, credentialsAt(c, w), servesAtLeast(c, w, short.serial));
  check(rec, c, 'server presents the short-lived certificate', seen.ok, seen.detail);
  // The certificate's own notAfter (whole seconds), on the run's clock.
  const expiry: Expiry = { workload: w, notAfterMs: short.notAfter - (Date.now() - c.now()), installedMs, servedMs: c.now(), fault: f.name };
  c.world.expiries.push(expiry);
  rec.undo = () => c.world.expiries.splice(c.world.expiries.indexOf(expiry), 1);
  c.events.push({ atMs: round(expiry.notAfterMs), label: `certificate of ${w} expires` });
  rec.later = (judged) => {
    const after = judged.filter(
      (j) =>
        !j.record.special && j.record.cell.workload === w && j.record.startMs >= expiry.notAfterMs && (expiry.renewedAtMs === undefined || j.record.startMs < expiry.renewedAtMs),
    );
    // Positive evidence only: a session in which the server presented the certificate after its notAfter (what a mesh
    // client refuses). A denied mTLS probe after the expiry proves nothing on its own: load times probes out too.
    const shown = after.filter((j) => j.obs.status === 'denied' && j.obs.how === 'tls-alert' && j.obs.alert?.name === 'certificate_expired' && j.record.obs.status === 'allowed');
    const ok = shown.length > 0;
    return [
      {
        name: 'probes saw the certificate expired',
        ok,
        detail: ok
          ? `${shown.length} mTLS probe(s) after ${secs(expiry.notAfterMs)} were shown the expired certificate`
          : `no mTLS probe after ${secs(expiry.notAfterMs)} saw the expired certificate`,
      },
    ];
  };
  if (f.durationMs === undefined) return;
  await c.sleepUntil(f.atMs + f.durationMs);
  const fresh = c.input.issue(w, { root: rootOf(c, w), bundle: state.bundle });
  expiry.renewedAtMs = c.now();
  rec.endMs = c.now();
  await install(c, w, fresh, state.bundle);
  const renewed = await pollServerCert(c, w, credentialsAt(c, w), servesAtLeast(c, w, fresh.serial));
  expiry.renewedServedMs = c.now();
  check(rec, c, 'server presents the fresh certificate', renewed.ok, renewed.detail);
}

/**
 * Staged CA rotation (each stage on every target workload): 1. add the next root to the trust bundle; 2. issue the
 * workload certificates from the next root (the probe clients rotate too); 3. remove the old root. Expected at each
 * stage (R5.1, the client chain is validated against the bundle): mTLS keeps working throughout; after stage 1 a
 * client certificate from the next root is accepted; after stage 3 one from the old root is refused.
 */
async function caRotation(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const targets = f.workload !== undefined ? [f.workload] : c.workloads;
  const next = c.input.nextCaPem;
  if (next === undefined) throw new Error('no next root was prepared for the CA rotation');
  const stage = (k: number) => f.atMs + Math.round(((f.durationMs ?? 0) * k) / 3);
  const old = c.input.meshCaPem;

  for (const w of targets) {
    const s = c.tls.get(w)!;
    await install(c, w, s.material, `${old.trim()}\n${next.trim()}\n`);
  }
  c.events.push({ atMs: round(c.now()), label: 'CA rotation stage 1: next root trusted' });
  for (const w of targets)
    await expectClient(c, rec, w, 'next', {
      outcome: 'allow',
      rule: 'R5.1 stage 1 of the CA rotation: the trust bundle holds the next root, so its client certificates are accepted',
      failOpenIfAllowed: false,
    });

  await c.sleepUntil(stage(1));
  c.events.push({ atMs: round(c.now()), label: 'CA rotation stage 2: certificates from the next root' });
  for (const w of targets) {
    const s = c.tls.get(w)!;
    const fresh = c.input.issue(w, { root: 'next', bundle: s.bundle });
    c.world.nextCredentialsFrom.set(w, c.now());
    await install(c, w, fresh, s.bundle);
    const seen = await pollServerCert(c, w, 'next', (t) => servesAtLeast(c, w, fresh.serial)(t) && t.serverRoot === 'next');
    check(rec, c, `${w} presents a certificate from the next root`, seen.ok, seen.detail);
  }

  await c.sleepUntil(stage(2));
  c.events.push({ atMs: round(c.now()), label: 'CA rotation stage 3: old root removed' });
  for (const w of targets) {
    const s = c.tls.get(w)!;
    await install(c, w, s.material, `${next.trim()}\n`);
  }
  for (const w of targets)
    await expectClient(c, rec, w, 'current', {
      outcome: 'deny',
      rule: 'R5.1 stage 3 of the CA rotation: the old root left the trust bundle, so a client certificate from it must be refused',
      failOpenIfAllowed: true,
    });
  await c.sleepUntil(stage(3));
  rec.endMs = c.now();
}

/**
 * A check probe with its own expectation: fired until it matches or the canary deadline passes (the data plane
 * reloads asynchronously); the last one is recorded and judged like every probe.
 */
async function expectClient(c: FaultContext, rec: FaultRecord, w: WorkloadKey, credentials: Credentials, special: SpecialExpectation): Promise<void> {
  const cell = terminatingCell(c.world, c.input.scenario.workloads, w, c.world.setOf(w, c.now()));
  if (!cell) {
    check(rec, c, `check of ${w}`, false, `no port of ${w} terminates mTLS under the policy in force`);
    return;
  }
  // The check lands on a probed cell of that port (its verdict carries the result), else on any of the workload.
  const probed =
    c.input.cells.find((x) => x.workload === w && x.port === cell.port && x.client === cell.client) ??
    c.input.cells.find((x) => x.workload === w && x.port === cell.port) ??
    c.input.cells.find((x) => x.workload === w);
  const until = c.now() + CANARY_DEADLINE_MS;
  for (;;) {
    const startMs = c.now();
    const obs = await c.input.probe(c.input.job(cell), { timeoutMs: c.input.timeoutMs, credentials });
    const outcome = outcomeOf(obs);
    if (outcome === special.outcome || c.now() >= until) {
      c.specials.push({ cell: probed ? { ...probed } : cell, startMs, endMs: c.now(), obs, credentials, special });
      return;
    }
    await sleep(POLL_MS);
  }
}

// ---- network -----------------------------------------------------------------------------------------------------

function toxicOf(f: ScheduledFault): Toxic {
  switch (f.fault) {
    case 'latency':
      return { kind: 'latency', ms: f.latencyMs! };
    case 'bandwidth':
      return { kind: 'bandwidth', bytesPerSecond: f.bytesPerSecond! };
    case 'reset':
      return { kind: 'reset' };
    case 'blackhole':
      return { kind: 'blackhole' };
    case 'partition':
      return { kind: 'partition' };
    default:
      throw new Error(`${f.fault} is not a proxy fault`);
  }
}

async function proxyFault(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const w = f.workload!;
  const ports = f.port !== undefined ? [f.port] : [...c.input.env.targets.get(w)!.ports.keys()];
  const toxic = toxicOf(f);
  const tolerance = { workload: w, ports: new Set(ports), fromMs: c.now(), toMs: Number.POSITIVE_INFINITY, fault: f.name };
  c.world.tolerances.push(tolerance);
  for (const p of ports) c.proxies.get(proxyKey(w, p))!.setToxic(toxic);
  // Canary: one probe through the proxy's canary listener, measured.
  const p = ports[0]!;
  const proxy = c.proxies.get(proxyKey(w, p))!;
  const onPort = c.input.cells.filter((x) => x.workload === w && x.port === p);
  const cell = onPort.find((x) => x.client === 'mtls-tcp' || x.client === 'mtls-http') ?? onPort[0]!;
  const window = f.durationMs ?? 0;
  const canaryJob = c.input.job(cell, { address: proxy.address, port: proxy.canaryPort });
  if (toxic.kind === 'blackhole' || toxic.kind === 'partition') {
    // Held until the fault is lifted: the canary connection must get no byte back and reach nothing upstream for as
    // long as the fault lasts (judged by what the proxy saw, not by a deadline a busy harness could miss).
    const t0 = c.now();
    const pending = c.input.probe(canaryJob, { timeoutMs: c.input.timeoutMs + window, credentials: credentialsAt(c, w) });
    await c.sleepUntil(f.atMs + window);
    const s = proxy.lastCanary();
    lift(c, ports, w, toxic);
    const obs = await pending;
    check(
      rec,
      c,
      'probe through the proxy unanswered',
      s !== undefined && s.acceptedAt >= startEpoch(c, t0) && s.fate === 'held' && s.bytesDown === 0 && obs.status !== 'allowed',
      `${cell.client}: ${s ? `connection ${s.fate}, ${s.bytesDown} bytes back while the fault lasted` : 'no connection reached the proxy'}; then ${describeObs(obs)}`,
    );
  } else {
    // A probe that could not run (the harness starved) is no evidence: try again while the fault lasts.
    let t0 = c.now();
    let obs = await c.input.probe(canaryJob, { timeoutMs: c.input.timeoutMs, credentials: credentialsAt(c, w) });
    for (let attempt = 1; obs.status === 'error' && attempt < 3 && c.now() < f.atMs + window; attempt++) {
      t0 = c.now();
      obs = await c.input.probe(canaryJob, { timeoutMs: c.input.timeoutMs, credentials: credentialsAt(c, w) });
    }
    const took = c.now() - t0;
    switch (toxic.kind) {
      case 'latency': {
        // The proxy's own record that it held the request and the answer back, each at least the delay: that is the
        // proof (a slow probe alone could be load, and a probe the starved harness lost does not undo the record).
        const s = proxy.lastCanary();
        const held = s !== undefined && s.acceptedAt >= startEpoch(c, t0) && s.toxicHeld.up > 0 && s.toxicHeld.down > 0;
        check(
          rec,
          c,
          'probe through the proxy delayed',
          held,
          `${cell.client} took ${Math.round(took)} ms (a request and its answer cross ${toxic.ms} ms twice); the proxy held ${s ? `${s.toxicHeld.up} chunk(s) up, ${s.toxicHeld.down} down` : 'no canary connection'}: ${describeObs(obs)}`,
        );
        break;
      }
      case 'bandwidth': {
        const s = proxy.lastCanary();
        const bytes = Math.max(s?.bytesUp ?? 0, s?.bytesDown ?? 0);
        const least = (bytes / toxic.bytesPerSecond) * 1000 * 0.7;
        const paced = s !== undefined && s.acceptedAt >= startEpoch(c, t0) && s.toxicHeld.up + s.toxicHeld.down > 0;
        check(
          rec,
          c,
          'probe through the proxy throttled',
          paced && bytes > 0 && took >= least,
          `${cell.client} moved ${bytes} bytes in ${Math.round(took)} ms (at ${toxic.bytesPerSecond} B/s that takes at least ${Math.round(least / 0.7)} ms)`,
        );
        break;
      }
      case 'reset':
        check(
          rec,
          c,
          'probe through the proxy reset',
          obs.status === 'denied' && (obs.how === 'reset' || obs.how === 'closed') && proxy.lastCanary()?.fate === 'reset',
          `${cell.client}: ${describeObs(obs)}`,
        );
        break;
    }
    await c.sleepUntil(f.atMs + window);
    lift(c, ports, w, toxic);
  }
  rec.endMs = c.now();
  tolerance.toMs = rec.endMs + c.input.spec.invariants.recoveryMs;
  c.recoveries.push({ fault: f.name, workload: w, ports: new Set(ports), fromMs: rec.endMs });
}

/** Lifts this fault's toxic; one a later fault on the same port set meanwhile (a late, busy harness) stays. */
function lift(c: FaultContext, ports: readonly number[], w: WorkloadKey, toxic: Toxic): void {
  for (const port of ports) {
    const proxy = c.proxies.get(proxyKey(w, port))!;
    if (proxy.toxic === toxic) proxy.setToxic(undefined);
  }
}

/** Epoch ms of a run time (the proxy stamps connections with Date.now()). */
function startEpoch(c: FaultContext, atMs: number): number {
  return Date.now() - c.now() + atMs - 5;
}

async function packetLoss(f: ScheduledFault, c: FaultContext, rec: FaultRecord): Promise<void> {
  const w = f.workload!;
  if (!c.chaos.packetLoss) throw new Error('the backend cannot drop packets');
  const tolerance = { workload: w, fromMs: c.now(), toMs: Number.POSITIVE_INFINITY, fault: f.name };
  c.world.tolerances.push(tolerance);
  const lift = await c.chaos.packetLoss(w, f.percent!);
  const unregister = c.input.registerCleanup(`packet loss on ${w}`, lift);
  try {
    // Canary: enough short connects that at least one meets a dropped packet (p(no drop) < 1e-4).
    const p = f.percent! / 100;
    const n = Math.min(400, Math.ceil(Math.log(1e-4) / Math.log(1 - p)));
    const target = c.input.env.targets.get(w)!;
    const port = [...target.ports.values()][0]!;
    let slow = 0;
    for (let i = 0; i < n && slow === 0 && c.now() < f.atMs + (f.durationMs ?? 0); i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => timedConnect(target.address, port, 150)));
      slow += batch.filter((ms) => ms === undefined).length;
    }
    // The evidence is the kernel's count of dropped packets; slow connects alone could be load.
    const dropped = c.chaos.droppedPackets ? await c.chaos.droppedPackets(w) : undefined;
    check(
      rec,
      c,
      'packets dropped',
      dropped !== undefined && dropped > 0,
      `${dropped === undefined ? 'the backend cannot count dropped packets' : `the DROP rule matched ${dropped} packet(s)`}; ${slow > 0 ? `${slow} connect(s) to ${target.address}:${port} got no answer within 150 ms` : `every connect to ${target.address}:${port} answered at once`}`,
    );
    await c.sleepUntil(f.atMs + (f.durationMs ?? 0));
  } finally {
    unregister();
    await lift();
  }
  rec.endMs = c.now();
  tolerance.toMs = rec.endMs + c.input.spec.invariants.recoveryMs;
  c.recoveries.push({ fault: f.name, workload: w, fromMs: rec.endMs });
}

function timedConnect(address: string, port: number, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect({ host: address, port });
    const done = (r: number | undefined) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done(undefined));
    s.once('connect', () => done(Date.now() - t0));
    s.once('error', () => done(Date.now() - t0));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (ms: number) => Math.round(ms * 10) / 10;
