// @ts-check
/**
 * meshconform probe agent: a long-lived process that takes batches of probe jobs as JSON lines on stdin and answers
 * with one observation per job as JSON lines on stdout (the Observation shape of src/model/probe.ts). One session
 * (one `kubectl exec -i` stream, or one local pipe) carries every batch of a run: never one process per probe.
 *
 *   node harness/probe-agent/probe-agent.mjs          # a session on stdin/stdout
 *   node harness/probe-agent/probe-agent.mjs --hold   # idle until SIGTERM (the probe pod's main process)
 *
 * stdin, in order:
 *   {"type":"hello","protocol":1,"timeoutMs":3000,"concurrency":32,
 *    "material":{"meshCaPem":"…","appCaPem":"…","clients":{"mesh":{"certPem":"…","keyPem":"…"},"foreignCa":{…},…}},
 *    "istioOutputCerts":"/etc/istio-output-certs", "waitForCertsMs":60000}      (istioOutputCerts optional)
 *   {"type":"batch","id":"r1","jobs":[<ProbeJob>,…]}                             (any number, run one at a time)
 *   {"type":"end"}                                                                (or EOF)
 * stdout:
 *   {"type":"ready","protocol":1,"agent":"meshconform-probe-agent","node":"v20…","credentials":["mesh",…],"meshIdentity":"spiffe://…"}
 *   {"type":"observation","batch":"r1","key":"…","observation":{…}}             (one per job, in completion order)
 *   {"type":"done","batch":"r1","count":N}
 *   {"type":"error","message":"…"}                                              (then exit 2: the session is unusable)
 *
 * `istioOutputCerts` names the folder where an Istio sidecar exports its own certificates (proxy metadata
 * OUTPUT_CERTS: key.pem, cert-chain.pem, root-cert.pem): they become the `mesh` client credential and are added to
 * the mesh trust bundle, re-read before every batch (Istio rotates them).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createProbeContext, runProbe, uriSan } from './clients.mjs';
import { isHboneClient, runHboneProbe } from './hbone.mjs';

const PROTOCOL = 1;
const MAX_LINE_BYTES = 64 * 1024 * 1024;
const MAX_JOBS = 200_000;
const STARVED_SHARE = 0.25;

/** @typedef {import('./clients.mjs').ProbeJob} ProbeJob */
/** @typedef {import('./clients.mjs').CredentialName} CredentialName */
/** @typedef {{ meshCaPem?: string, appCaPem: string, clients: Partial<Record<CredentialName, { certPem: string, keyPem: string }>> }} Material */

class ProtocolError extends Error {}

if (process.argv.includes('--hold')) {
  hold();
} else {
  session().then(
    () => process.stdout.write('', () => process.exit(0)),
    (err) => {
      const message = err instanceof ProtocolError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
      process.stdout.write(`${JSON.stringify({ type: 'error', message })}\n`, () => process.exit(2));
    },
  );
}

/** The pod's main process: nothing to do but stay alive and stop at once when asked. */
function hold() {
  const t = setInterval(() => {}, 1 << 30);
  for (const s of /** @type {const} */ (['SIGTERM', 'SIGINT'])) process.once(s, () => (clearInterval(t), process.exit(0)));
  process.stderr.write('meshconform-probe-agent: holding; sessions run with `node probe-agent.mjs` on stdin/stdout\n');
}

async function session() {
  process.stdout.on('error', () => process.exit(2)); // the reader went away
  const lines = readLines(process.stdin);
  const first = await lines.next();
  if (first.done) return; // nobody said anything
  const hello = parse(first.value);
  if (hello.type !== 'hello') throw new ProtocolError(`the first message must be "hello", got ${JSON.stringify(hello.type)}`);
  if (hello.protocol !== PROTOCOL) throw new ProtocolError(`unsupported protocol ${JSON.stringify(hello.protocol)}: this agent speaks protocol ${PROTOCOL}`);
  const timeoutMs = positiveInt(hello.timeoutMs, 'hello.timeoutMs', 120_000);
  const concurrency = positiveInt(hello.concurrency, 'hello.concurrency', 1024);
  const material = checkMaterial(hello.material);
  const outputCerts = hello.istioOutputCerts === undefined ? undefined : String(hello.istioOutputCerts);
  const waitForCertsMs = hello.waitForCertsMs === undefined ? 0 : positiveInt(hello.waitForCertsMs, 'hello.waitForCertsMs', 600_000);

  let exported = outputCerts ? await readOutputCerts(outputCerts, waitForCertsMs) : undefined;
  let ctx = contextFor(material, exported);
  await emit({
    type: 'ready',
    protocol: PROTOCOL,
    agent: 'meshconform-probe-agent',
    node: process.version,
    credentials: Object.keys(mergedClients(material, exported)).sort(),
    ...(exported ? { meshIdentity: exported.identity } : {}),
  });

  for (;;) {
    const next = await lines.next();
    if (next.done) return;
    const msg = parse(next.value);
    if (msg.type === 'end') return;
    if (msg.type !== 'batch') throw new ProtocolError(`unknown message type ${JSON.stringify(msg.type)} (expected "batch" or "end")`);
    const id = typeof msg.id === 'string' && msg.id !== '' ? msg.id : undefined;
    if (!id) throw new ProtocolError('a batch needs a non-empty string "id"');
    if (!Array.isArray(msg.jobs)) throw new ProtocolError(`batch ${id}: "jobs" must be an array`);
    if (msg.jobs.length > MAX_JOBS) throw new ProtocolError(`batch ${id}: ${msg.jobs.length} jobs; at most ${MAX_JOBS} per batch`);
    const seen = new Set();
    for (const j of msg.jobs) {
      const key = j?.key;
      if (seen.has(key)) throw new ProtocolError(`batch ${id}: duplicate job key ${JSON.stringify(key)}`);
      seen.add(key);
    }
    if (outputCerts) {
      // Istio rotates the exported certificate: pick up a new one between batches.
      const now = await readOutputCerts(outputCerts, 0).catch(() => exported);
      if (now && exported && now.certPem !== exported.certPem) {
        exported = now;
        ctx = contextFor(material, exported);
      }
    }
    const batchTimeout = msg.timeoutMs === undefined ? timeoutMs : positiveInt(msg.timeoutMs, `batch ${id}: timeoutMs`, 120_000);
    await runBatch(id, /** @type {ProbeJob[]} */ (msg.jobs), ctx, batchTimeout, concurrency);
  }
}

/**
 * @param {string} id
 * @param {ProbeJob[]} jobs
 * @param {import('./clients.mjs').ProbeContext} ctx
 * @param {number} timeoutMs
 * @param {number} concurrency
 */
async function runBatch(id, jobs, ctx, timeoutMs, concurrency) {
  const lag = startLagMonitor();
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = /** @type {ProbeJob} */ (jobs[next++]);
      const t0 = performance.now();
      let obs = isHboneClient(job?.client) ? await runHboneProbe(job, ctx, timeoutMs) : await runProbe(job, ctx, timeoutMs);
      if (obs.status === 'denied' && obs.how === 'timeout') {
        const stalled = lag.maxStallBetween(t0, performance.now());
        if (stalled >= timeoutMs * STARVED_SHARE) {
          obs = {
            status: 'error',
            message: `timed out while the probe agent itself was starved (its event loop stalled ${Math.round(stalled)} ms of a ${timeoutMs} ms deadline): not evidence of a denial`,
            timings: obs.timings,
            attempts: 1,
            ...(obs.tls ? { tls: obs.tls } : {}),
          };
        }
      }
      await emit({ type: 'observation', batch: id, key: String(job?.key), observation: obs });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  } finally {
    lag.stop();
  }
  await emit({ type: 'done', batch: id, count: jobs.length });
}

/**
 * @param {Material} material
 * @param {{ certPem: string, keyPem: string, rootPem: string } | undefined} exported
 */
function contextFor(material, exported) {
  const meshCaPem = [material.meshCaPem ?? '', exported?.rootPem ?? ''].filter(Boolean).join('\n');
  if (!meshCaPem) throw new ProtocolError('no mesh trust bundle: give material.meshCaPem or istioOutputCerts');
  try {
    return createProbeContext({ meshCaPem, appCaPem: material.appCaPem, clients: mergedClients(material, exported) });
  } catch (err) {
    throw new ProtocolError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * @param {Material} material
 * @param {{ certPem: string, keyPem: string } | undefined} exported
 */
function mergedClients(material, exported) {
  return { ...material.clients, ...(exported ? { mesh: { certPem: exported.certPem, keyPem: exported.keyPem } } : {}) };
}

/**
 * The sidecar's exported certificate (OUTPUT_CERTS), waiting up to `waitMs` for the sidecar to write it.
 * @param {string} dir
 * @param {number} waitMs
 * @returns {Promise<{ certPem: string, keyPem: string, rootPem: string, identity: string }>}
 */
async function readOutputCerts(dir, waitMs) {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const certPem = readFileSync(`${dir}/cert-chain.pem`, 'utf8');
      const keyPem = readFileSync(`${dir}/key.pem`, 'utf8');
      const rootPem = readFileSync(`${dir}/root-cert.pem`, 'utf8');
      const identity = uriSan(new X509Certificate(certPem)) ?? '(no URI SAN)';
      return { certPem, keyPem, rootPem, identity };
    } catch (err) {
      if (Date.now() >= until) {
        throw new ProtocolError(
          `no usable Istio output certificates in ${dir} (cert-chain.pem, key.pem, root-cert.pem): ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; is the sidecar running with proxyMetadata OUTPUT_CERTS=${dir} and the volume mounted in both containers?`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * @param {unknown} value
 * @returns {Material}
 */
function checkMaterial(value) {
  if (typeof value !== 'object' || value === null) throw new ProtocolError('hello.material must be an object');
  const m = /** @type {Record<string, unknown>} */ (value);
  if (typeof m.appCaPem !== 'string') throw new ProtocolError('hello.material.appCaPem must be a PEM string');
  if (m.meshCaPem !== undefined && typeof m.meshCaPem !== 'string') throw new ProtocolError('hello.material.meshCaPem must be a PEM string');
  const clients = m.clients ?? {};
  if (typeof clients !== 'object' || clients === null) throw new ProtocolError('hello.material.clients must be an object');
  /** @type {Material['clients']} */
  const out = {};
  for (const [name, c] of Object.entries(clients)) {
    if (!['mesh', 'foreignCa', 'expired', 'otherTrustDomain'].includes(name)) throw new ProtocolError(`hello.material.clients: unknown credential "${name}"`);
    if (typeof c !== 'object' || c === null || typeof c.certPem !== 'string' || typeof c.keyPem !== 'string') {
      throw new ProtocolError(`hello.material.clients.${name} must be { certPem, keyPem }`);
    }
    out[/** @type {CredentialName} */ (name)] = { certPem: c.certPem, keyPem: c.keyPem };
  }
  return { ...(typeof m.meshCaPem === 'string' ? { meshCaPem: m.meshCaPem } : {}), appCaPem: m.appCaPem, clients: out };
}

/**
 * @param {unknown} v
 * @param {string} what
 * @param {number} max
 */
function positiveInt(v, what, max) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new ProtocolError(`${what} must be a whole number between 1 and ${max}, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * @param {string} line
 * @returns {Record<string, any>}
 */
function parse(line) {
  /** @type {unknown} */
  let v;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new ProtocolError(`not a JSON line (${err instanceof Error ? err.message : String(err)}): ${line.slice(0, 80)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError('every message must be a JSON object');
  return /** @type {Record<string, any>} */ (v);
}

/**
 * Newline-separated lines of a stream, bounded in length.
 * @param {NodeJS.ReadableStream} stream
 * @returns {AsyncGenerator<string, void, void>}
 */
async function* readLines(stream) {
  /** @type {Buffer[]} */
  let parts = [];
  let size = 0;
  for await (const chunk of stream) {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    let nl;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      parts.push(buf.subarray(0, nl));
      const line = Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
      parts = [];
      size = 0;
      buf = buf.subarray(nl + 1);
      if (line.trim() !== '') yield line;
    }
    parts.push(buf);
    size += buf.length;
    if (size > MAX_LINE_BYTES) throw new ProtocolError(`a message longer than ${MAX_LINE_BYTES} bytes without a newline`);
  }
  const rest = Buffer.concat(parts).toString('utf8').trim();
  if (rest !== '') yield rest;
}

/** @type {Promise<void>} */
let writing = Promise.resolve();
/**
 * One JSON line on stdout, in order, respecting back-pressure.
 * @param {unknown} msg
 */
function emit(msg) {
  const line = `${JSON.stringify(msg)}\n`;
  writing = writing.then(() => new Promise((resolve) => (process.stdout.write(line) ? resolve() : process.stdout.once('drain', () => resolve()))));
  return writing;
}

/** Stalls of this process's event loop: a timeout while starved says nothing about the target. */
function startLagMonitor() {
  const TICK = 10;
  /** @type {{ end: number, stall: number }[]} */
  const stalls = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const lag = now - last - TICK;
    last = now;
    if (lag > TICK) {
      stalls.push({ end: now, stall: lag });
      if (stalls.length > 4096) stalls.shift();
    }
  }, TICK);
  timer.unref();
  return {
    /**
     * @param {number} from
     * @param {number} to
     */
    maxStallBetween(from, to) {
      const current = performance.now() - last - TICK;
      let max = current > TICK && last < to ? current : 0;
      for (let i = stalls.length - 1; i >= 0; i--) {
        const s = /** @type {{ end: number, stall: number }} */ (stalls[i]);
        if (s.end < from) break;
        if (s.end - s.stall <= to + TICK) max = Math.max(max, s.stall);
      }
      return max;
    },
    stop: () => clearInterval(timer),
  };
}
