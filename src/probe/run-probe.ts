import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isHboneClient } from '../model/index.js';
import type { Observation, ProbeJob, ProbeTimings } from '../model/index.js';
import { CLIENT_PROFILES, HBONE_PROFILES } from './client-profiles.js';
import { hboneExchange } from './hbone-exchange.js';
import { httpExchange } from './http-exchange.js';
import { lineExchange } from './line-exchange.js';
import type { ConnectionTrace, TlsOptions } from './open-connection.js';
import type { Outcome } from './outcome.js';
import type { ProbeContext } from './probe-context.js';
import { wireEvidence } from './wire-evidence.js';
import { ProbeError } from '../util/errors.js';
import { withProps } from '../util/with-props.js';

export interface ProbeOptions {
  /** Deadline for the whole probe (connect, handshake, reply); after it the probe is `denied/timeout`. */
  readonly timeoutMs: number;
}

/**
 * Fires one client at one workload port over a new connection and classifies what happened. Never rejects for
 * anything the network did: the result is `allowed` (the echo app answered), `denied` (how), or `error` (the harness
 * could not run the probe). Throws ProbeError only for invalid options.
 */
export async function runProbe(job: ProbeJob, ctx: ProbeContext, options: ProbeOptions): Promise<Observation> {
  assertTimeout(options.timeoutMs);
  const startedAt = Date.now();
  const t0 = performance.now();
  const fail = (message: string): Observation => ({
    status: 'error',
    message,
    timings: { startedAt, totalMs: performance.now() - t0 },
    attempts: 1,
  });

  const problem = jobProblem(job);
  if (problem) return fail(`invalid probe job ${JSON.stringify(job?.key)}: ${problem}`);
  let exchange: (signal: AbortSignal) => Promise<{ outcome: Outcome; trace: ConnectionTrace }>;
  let tlsClient: boolean;
  if (isHboneClient(job.client)) {
    const hbone = HBONE_PROFILES[job.client];
    const secureContext = ctx.secureContext(hbone.credential);
    if (!secureContext) return fail(`no client certificate material for ${job.client} (${hbone.credential})`);
    // For HBONE jobs address:targetPort is the CONNECT authority; the run layer picks the unserved port (hbone.ts).
    if (hbone.authority === 'unserved' && job.targetPort === job.port) {
      return fail(`${job.client}: the job names the served port ${job.port} as its CONNECT target; it must name a port the workload does not declare (hboneUnservedPort)`);
    }
    const payload = job.protocol === 'http' ? 'http' : 'line';
    exchange = (signal) => hboneExchange(job, ctx, { secureContext, payload }, signal);
    tlsClient = true;
  } else {
    const profile = CLIENT_PROFILES[job.client];
    let tlsOptions: TlsOptions | null = null;
    if (profile.tls) {
      const secureContext = ctx.secureContext(profile.tls.credential);
      if (!secureContext) return fail(`no client certificate material for ${job.client} (${profile.tls.credential})`);
      tlsOptions = { secureContext, alpn: profile.tls.alpn(job.protocol) };
    }
    const direct = profile.payload(job.protocol) === 'http' ? httpExchange : lineExchange;
    exchange = (signal) => direct(job, ctx, tlsOptions, signal);
    tlsClient = tlsOptions !== null;
  }

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no reply within ${options.timeoutMs} ms`)), options.timeoutMs);
  try {
    const result = await exchange(controller.signal);
    const tunnelMs = 'tunnelMs' in result && typeof result.tunnelMs === 'number' ? result.tunnelMs : undefined;
    return observation(result.outcome, result.trace, tlsClient, isHboneClient(job.client), {
      startedAt,
      totalMs: performance.now() - t0,
      ...(tunnelMs !== undefined ? { tunnelMs } : {}),
    });
  } catch (err) {
    return fail(`probe failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

function observation(outcome: Outcome, trace: ConnectionTrace, tlsClient: boolean, hbone: boolean, t: { startedAt: number; totalMs: number; tunnelMs?: number }): Observation {
  const timings: ProbeTimings = {
    startedAt: t.startedAt,
    ...(trace.connectMs !== undefined ? { connectMs: trace.connectMs } : {}),
    ...(trace.handshakeMs !== undefined ? { handshakeMs: trace.handshakeMs } : {}),
    ...(t.tunnelMs !== undefined ? { tunnelMs: t.tunnelMs } : {}),
    totalMs: t.totalMs,
  };
  const wire = wireEvidence(trace.received, trace.chain);
  const base = { timings, attempts: 1, ...(trace.tls ? { tls: trace.tls } : {}), ...(trace.mx ? { mx: trace.mx } : {}), ...(wire ? { wire } : {}) };
  switch (outcome.kind) {
    case 'echo': {
      const issuer = trace.tls?.serverIssuer ?? 'unknown';
      // 'mesh': the data plane terminated TLS; 'app': the app answered the ClientHello itself. A terminator from
      // neither CA is judged by what the app says it received (serverIdentityOk stays false either way).
      // Through an HBONE tunnel the node proxy terminated the mTLS, whoever issued its certificate (the diff judges
      // serverIdentityOk).
      const path = hbone ? 'mtls' : !tlsClient ? 'plaintext' : issuer === 'mesh' ? 'mtls' : issuer === 'app' || outcome.echo.received === 'tls' ? 'passthrough' : 'mtls';
      return withProps(base, { status: 'allowed', path, echo: outcome.echo, ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}) } as const);
    }
    case 'denied':
      return withProps(base, {
        status: 'denied' as const,
        how: outcome.how,
        detail: outcome.detail,
        ...(outcome.alert ? { alert: outcome.alert } : {}),
        ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}),
      });
    case 'error':
      return withProps(base, { status: 'error' as const, message: outcome.message });
    default: {
      const never: never = outcome;
      throw new ProbeError(`unknown probe outcome ${JSON.stringify(never)}`);
    }
  }
}

const CONTROL = /[\x00-\x1f\x7f]/;

function jobProblem(job: ProbeJob): string | undefined {
  if (typeof job !== 'object' || job === null) return 'not an object';
  if (typeof job.key !== 'string' || job.key === '' || CONTROL.test(job.key)) return 'key must be a non-empty single-line string';
  if (job.probeId !== undefined && (typeof job.probeId !== 'string' || job.probeId === '' || CONTROL.test(job.probeId))) return 'probeId must be a non-empty single-line string';
  if (typeof job.client !== 'string' || !(Object.hasOwn(CLIENT_PROFILES, job.client) || Object.hasOwn(HBONE_PROFILES, job.client))) {
    return `unknown client kind "${String(job.client)}"`;
  }
  if (job.protocol !== 'tcp' && job.protocol !== 'http') return `unknown port protocol "${String(job.protocol)}"`;
  // A name would make the observation depend on DNS: every backend hands out addresses.
  if (typeof job.address !== 'string' || isIP(job.address) === 0) return 'target address must be an IP address';
  if (!Number.isInteger(job.targetPort) || job.targetPort < 1 || job.targetPort > 65535) return `bad target port ${String(job.targetPort)}`;
  if (typeof job.expectedServerIdentity !== 'string') return 'no expected server identity';
  return undefined;
}

export function assertTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ProbeError(`probe timeout must be a positive number of milliseconds, got ${timeoutMs}`);
}
