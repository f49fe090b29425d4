import {
  AGENT_PROTOCOL,
  CREDENTIAL_NAMES,
  type AgentBatchMessage,
  type AgentEndMessage,
  type AgentHello,
  type AgentHelloMessage,
  type CellKey,
  type CredentialName,
  type Observation,
  type ProbeJob,
} from '../../model/index.js';
import { BackendError } from '../../util/errors.js';
import type { LineStream } from './command-runner.js';

export { AGENT_PROTOCOL };
export type { AgentHello, AgentMaterial } from '../../model/index.js';
/** Client certificates the agent can present, by the probe stage's credential names. */
export type AgentCredential = CredentialName;

export interface AgentSession {
  /** Credentials the agent holds (a client kind whose credential is missing cannot be fired). */
  readonly credentials: readonly AgentCredential[];
  /** The SPIFFE ID of the exported sidecar certificate, when the agent uses one. */
  readonly meshIdentity?: string;
  /** One batch: every job once, over the session's one stream. */
  probe(jobs: readonly ProbeJob[], options?: { readonly timeoutMs?: number }): Promise<Map<CellKey, Observation>>;
  /** Ends the session (`end`, then stdin closed) and waits for the agent to exit. */
  close(): Promise<void>;
}

/** Time for `kubectl exec` to connect and the agent to answer hello, on top of reading exported certificates. */
const HELLO_SLACK_MS = 60_000;
/** Per batch, beyond the agent's own deadlines (exec stream latency, a slow API server). */
const BATCH_SLACK_MS = 30_000;

/**
 * Speaks the probe agent's line protocol (src/model/agent-protocol.ts; the agent is src/agent) over one stream: hello
 * once, then any number of batches. A stream that ends, an agent error, or a batch that outlives its deadline is a
 * BackendError: the harness cannot probe any more, which is never a denial.
 */
export async function openAgentSession(stream: LineStream, hello: AgentHello, label: string): Promise<AgentSession> {
  const replies = new AgentReplies(stream, label);
  let closed = false;
  replies.read(() => closed);
  const send = (msg: AgentHelloMessage | AgentBatchMessage | AgentEndMessage) => stream.send(JSON.stringify(msg));

  send({ type: 'hello', protocol: AGENT_PROTOCOL, ...hello });
  const ready = await replies.next(HELLO_SLACK_MS + (hello.waitForCertsMs ?? 0), 'its ready line');
  if (ready['type'] !== 'ready' || ready['protocol'] !== AGENT_PROTOCOL) {
    throw new BackendError(`${label}: the probe agent answered hello with ${JSON.stringify(ready).slice(0, 200)}; is the pod running this harness's agent?`);
  }
  const credentials = (Array.isArray(ready['credentials']) ? ready['credentials'] : []).filter((c): c is AgentCredential => (CREDENTIAL_NAMES as readonly unknown[]).includes(c));
  let batches = 0;
  let busy: Promise<unknown> = Promise.resolve();

  const runBatch = async (jobs: readonly ProbeJob[], timeoutMs: number): Promise<Map<CellKey, Observation>> => {
    const id = `b${++batches}`;
    const out = new Map<CellKey, Observation>();
    const wanted = new Set(jobs.map((j) => j.key));
    send({ type: 'batch', id, jobs, timeoutMs });
    const deadline = Date.now() + Math.ceil(jobs.length / Math.max(1, hello.concurrency)) * timeoutMs + BATCH_SLACK_MS;
    for (;;) {
      const m = await replies.next(deadline - Date.now(), `batch ${id} (${jobs.length} probes)`);
      if (m['batch'] !== id) continue;
      if (m['type'] === 'done') break;
      if (m['type'] !== 'observation') continue;
      const key = String(m['key']);
      if (!wanted.has(key)) continue;
      out.set(key, checkObservation(m['observation']));
    }
    return out;
  };

  return {
    credentials,
    ...(typeof ready['meshIdentity'] === 'string' ? { meshIdentity: ready['meshIdentity'] } : {}),
    probe(jobs, options = {}) {
      // Batches are serial on the one stream.
      const p = busy.then(() => runBatch(jobs, options.timeoutMs ?? hello.timeoutMs));
      busy = p.catch(() => undefined);
      return p;
    },
    async close() {
      if (closed) return;
      closed = true;
      send({ type: 'end' });
      const closing = stream.close();
      const timer = setTimeout(() => stream.kill(), 10_000);
      try {
        await closing;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The agent's lines as they arrive, parsed, for consumers to take one at a time; the first failure ends them all. */
class AgentReplies {
  private failure: BackendError | undefined;
  private readonly waiters = new Set<(err: BackendError) => void>();
  private readonly queue: Record<string, unknown>[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly stream: LineStream,
    private readonly label: string,
  ) {}

  private fail(err: BackendError): void {
    this.failure ??= err;
    for (const w of this.waiters) w(this.failure);
    this.waiters.clear();
  }

  /** Reads the stream to its end in the background; its end is a failure unless `closed()` says the host ended it. */
  read(closed: () => boolean): void {
    const { stream, label } = this;
    void (async () => {
      try {
        for (;;) {
          const next = await stream.lines.next();
          if (next.done) break;
          if (!this.take(next.value)) return;
        }
        if (!closed()) {
          const r = await stream.close().catch(() => undefined);
          this.fail(
            new BackendError(`${label}: the probe agent session ended unexpectedly${r ? ` (exit code ${r.exitCode})${r.stderr.trim() ? `: ${lastLines(r.stderr)}` : ''}` : ''}`),
          );
        }
      } catch (err) {
        this.fail(new BackendError(`${label}: the probe agent stream failed: ${(err as Error).message}`, { cause: err }));
      }
    })();
  }

  /** Queues one line; false once the session failed (a line that is not the protocol, or the agent's error). */
  private take(line: string): boolean {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.fail(new BackendError(`${this.label}: the probe agent wrote something that is not a protocol line: ${line.slice(0, 200)}`));
      return false;
    }
    if (typeof msg !== 'object' || msg === null) return true;
    const m = msg as Record<string, unknown>;
    if (m['type'] === 'error') {
      this.fail(new BackendError(`${this.label}: the probe agent stopped: ${String(m['message'])}`));
      return false;
    }
    this.queue.push(m);
    this.wake?.();
    return true;
  }

  /** The next message, within `deadlineMs`; past it the session fails (and the agent is killed). */
  next(deadlineMs: number, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const take = () => {
        const m = this.queue.shift();
        if (!m) return false;
        cleanup();
        resolve(m);
        return true;
      };
      const onFail = (err: BackendError) => {
        cleanup();
        reject(err);
      };
      const timer = setTimeout(
        () => {
          cleanup();
          const err = new BackendError(`${this.label}: no answer from the probe agent within ${Math.round(deadlineMs / 1000)} s while waiting for ${what}`);
          this.fail(err);
          this.stream.kill();
          reject(err);
        },
        Math.max(0, deadlineMs),
      );
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(onFail);
        if (this.wake === tryTake) this.wake = undefined;
      };
      const tryTake = () => void take();
      if (take()) return;
      this.waiters.add(onFail);
      this.wake = tryTake;
    });
  }
}

const STATUSES = new Set(['allowed', 'denied', 'error']);

/** An observation as the agent sent it, checked for the fields the diff stage reads; anything else becomes an error observation. */
function checkObservation(value: unknown): Observation {
  const v = value as Record<string, unknown> | null;
  const timings = v?.['timings'] as { startedAt?: unknown; totalMs?: unknown } | undefined;
  const okTimings = typeof timings?.startedAt === 'number' && typeof timings.totalMs === 'number';
  const bad = (why: string): Observation => ({
    status: 'error',
    message: `the probe agent sent an invalid observation (${why})`,
    timings: okTimings ? (timings as Observation['timings']) : { startedAt: Date.now(), totalMs: 0 },
    attempts: 1,
  });
  if (typeof v !== 'object' || v === null) return bad('not an object');
  if (!STATUSES.has(String(v['status']))) return bad(`status ${JSON.stringify(v['status'])}`);
  if (!okTimings) return bad('no timings');
  if (v['status'] === 'allowed') {
    const echo = v['echo'] as Record<string, unknown> | undefined;
    if (!['plaintext', 'mtls', 'passthrough'].includes(String(v['path']))) return bad(`path ${JSON.stringify(v['path'])}`);
    if (typeof echo?.['workload'] !== 'string' || typeof echo['port'] !== 'number') return bad('no echo reply');
  }
  if (v['status'] === 'denied' && typeof v['how'] !== 'string') return bad('a denial without how');
  if (v['status'] === 'error' && typeof v['message'] !== 'string') return bad('an error without message');
  return { ...(v as unknown as Observation), attempts: 1 };
}

function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}
