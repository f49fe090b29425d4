import type { EnvironmentOptions, WorkloadKey } from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import { sleep, tcpAccepts } from '../../util/net.js';

/** A declared workload port, where the host's probes reach it. */
export interface Endpoint {
  readonly workload: WorkloadKey;
  readonly address: string;
  readonly port: number;
}

/** What a start waits for: a data plane (a process or a container) serving `endpoints`. */
export interface ReadyWait {
  readonly label: string;
  readonly endpoints: readonly Endpoint[];
  /** Undefined while it runs; once it has exited, the start failure to report (its last words read first). */
  exited(): Promise<Error> | undefined;
  /** The end of its output, for the not-ready message (`: …`, or empty). */
  tail(): string;
}

export interface ReadyOptions {
  readonly timeoutMs: number;
  /** Prefixes error messages (`scenario <name>`). */
  readonly where: string;
  /** Aborted on SIGINT/SIGTERM: the wait stops with "start interrupted". */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Resolves once every endpoint of every wait accepts TCP from the host; rejects when one of them exits (the first in
 * order, however many did), when the deadline passes, or when the signal aborts.
 */
export async function waitReady(waits: readonly ReadyWait[], o: ReadyOptions): Promise<void> {
  const until = Date.now() + o.timeoutMs;
  const pending = waits.flatMap((wait) => wait.endpoints.map((e) => ({ wait, ...e })));
  let delay = 5;
  while (pending.length > 0) {
    await failIfExited(waits);
    if (o.signal?.aborted) throw interrupted(o.where);
    const checks = await Promise.all(pending.map((p) => tcpAccepts(p.address, p.port, 250)));
    for (let i = checks.length - 1; i >= 0; i--) if (checks[i]) pending.splice(i, 1);
    if (pending.length === 0) break;
    if (Date.now() > until) {
      const first = pending[0]!.wait;
      const missing = pending.map((p) => `${p.workload} port ${p.port} (${p.address}:${p.port})`).join(', ');
      throw new BackendError(`${o.where}: ${first.label} not ready after ${o.timeoutMs} ms: nothing accepts TCP from the host on ${missing}${first.tail()}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  // A process that exits right after binding is not a data plane we can probe.
  await sleep(0);
  await failIfExited(waits);
}

async function failIfExited(waits: readonly ReadyWait[]): Promise<void> {
  for (const wait of waits) {
    const failure = wait.exited();
    if (failure) throw await failure;
  }
}

/** Rejects after `ms` (not keeping the process alive) with the message `message()` gives then. */
export function deadline(ms: number, message: () => string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new BackendError(message())), ms).unref());
}

export function interrupted(where: string): BackendError {
  return new BackendError(`${where}: start interrupted`);
}

/** A start's interruption: the abort signal, and on backends with a run-wide sweep, the run being cleaned up. */
export interface StartGuard {
  /** Rejects once the signal aborts (never resolves); handled, so it may be left unawaited. */
  readonly aborted: Promise<never>;
  /** Throws when the start must not go on; called between steps that are never abandoned half-way. */
  check(): void;
}

export function startGuard(o: EnvironmentOptions, closed: () => boolean = () => false): StartGuard {
  const where = whereOf(o);
  const aborted = new Promise<never>((_, reject) => {
    if (o.signal?.aborted) reject(interrupted(where));
    o.signal?.addEventListener('abort', () => reject(interrupted(where)), { once: true });
  });
  aborted.catch(() => {});
  return {
    aborted,
    check() {
      if (o.signal?.aborted) throw interrupted(where);
      if (closed()) throw new BackendError(`${where}: run ${o.runId} is being cleaned up`);
    },
  };
}

/** What every start's messages begin with. */
export function whereOf(o: EnvironmentOptions): string {
  return `scenario ${o.scenario.name}`;
}
