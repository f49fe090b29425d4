// `npm run bench`: measures the performance targets of docs/architecture.md and prints figures and ratios (never asserted
// in tests), then a summary table of every target: figure, ratio, OK/MISSED (scripts/bench-targets.ts).
//   0. start-up of the compiled CLI: `meshconform --help` and `validate` of one scenario;
//   1. probes/s of a full `meshconform run` on the local backend vs a bare Node mTLS handshake loop, same machine;
//   2. wall time of the built-in suite (`meshconform run scenarios/` as a user runs it), a profile of where its
//      scenarios' time goes (phases per mesh mode), and its static scenarios in sidecar mode alone (scripts/bench-suite.ts);
//   3. peak memory (harness + data planes + echo app) of that run;
//   4. scale: 500 workloads × 4 ports × every client kind on the local backend (memory, file descriptors, time);
//      `npm run bench -- --scale`: only this;
//   5–6. docker backend and HAProxy (scripts/bench-containers.ts), where a Docker engine / haproxy is available;
//   7. HBONE probes per second against the reference ambient proxy (scripts/bench-hbone.ts);
//   8. chaos: probes/s sustained during a chaos run, and the smallest planted fail-open window always caught (scripts/bench-chaos.ts);
//   9. the HTML report of 10 008 cells with 1 000 failing cells carrying evidence: file size, load time in Chromium (scripts/bench-html.ts).
//      `npm run bench -- --html` prints only this figure;
//  10. `meshconform mutate` over every static defect (scripts/bench-mutate.ts); `npm run bench -- --mutate`: only this.
// `--suite` runs only sections 0 and 2 (with the profile and the sidecar figure); `--throughput` only 0 and 1; `--quick` shortens 1, 8 and skips 4 and 10.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { createMeshPki } from '../src/pki/index.js';
import type { RunResult } from '../src/model/index.js';
import { benchContainers } from './bench-containers.js';
import { benchChaos } from './bench-chaos.js';
import { benchHbone } from './bench-hbone.js';
import { benchHtmlReport } from './bench-html.js';
import { benchMutate } from './bench-mutate.js';
import { printProfile, sameCells, sidecarStaticCopy, staticCellKeys } from './bench-suite.js';
import { createTargets } from './bench-targets.js';
import { buildDist } from './build.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const work = mkdtempSync(join(tmpdir(), 'meshconform-bench-'));

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
const targets = createTargets(fmt);
const seconds = (digits: number) => (s: number) => `${fmt(s, digits)} s`;

/** Sums RSS and open fds over a process and its descendants, sampled from /proc. */
function treeUsage(pid: number): { rssBytes: number; fds: number; procs: number } {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  let rssBytes = 0;
  let fds = 0;
  let procs = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rssBytes += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      fds += readdirSync(`/proc/${p}/fd`).length;
      procs++;
    } catch {
      // ended
    }
    stack.push(...(children.get(p) ?? []));
  }
  return { rssBytes, fds, procs };
}

/** Runs the CLI as a user would and samples its process tree every 50 ms. */
async function timedRun(
  cliArgs: string[],
  allowMismatch = false,
): Promise<{ wallMs: number; peakRss: number; peakFds: number; peakProcs: number; result: RunResult; exitCode: number | undefined }> {
  const out = mkdtempSync(join(work, 'out-'));
  const t0 = performance.now();
  const child = execa(process.execPath, [bin, ...cliArgs, '--out', out, '--reporter', 'json'], { cwd: root, reject: false, env: { NO_COLOR: '1', CI: 'true' } });
  let peakRss = 0;
  let peakFds = 0;
  let peakProcs = 0;
  const timer = setInterval(() => {
    if (!child.pid) return;
    const u = treeUsage(child.pid);
    peakRss = Math.max(peakRss, u.rssBytes);
    peakFds = Math.max(peakFds, u.fds);
    peakProcs = Math.max(peakProcs, u.procs);
  }, 50);
  const r = await child;
  clearInterval(timer);
  const wallMs = performance.now() - t0;
  if (r.exitCode !== 0 && !(allowMismatch && r.exitCode === 1))
    throw new Error(`meshconform ${cliArgs.join(' ')} exited ${r.exitCode}: ${r.stderr.slice(-2000)}\n${r.stdout.slice(-2000)}`);
  const result = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
  return { wallMs, peakRss, peakFds, peakProcs, result, exitCode: r.exitCode };
}

/** A synthetic scenario: `workloads` workloads × `ports` TCP ports, a mix of STRICT, PERMISSIVE and DISABLE. */
function writeScenario(name: string, workloads: number, ports: number): string {
  const dir = mkdtempSync(join(work, 'scn-'));
  const ws: string[] = [];
  for (let i = 0; i < workloads; i++) {
    const ps = Array.from({ length: ports }, (_, j) => 8000 + j).join(', ');
    ws.push(`    - { name: w${i}, namespace: ns${i % 10}, labels: { app: w${i}, tier: t${i % 3} }, ports: [${ps}] }`);
  }
  const policies = [
    `    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: mesh, namespace: istio-system }, spec: { mtls: { mode: STRICT } } }`,
    `    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: ns1, namespace: ns1 }, spec: { mtls: { mode: PERMISSIVE } } }`,
    `    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: t2, namespace: ns2 }, spec: { selector: { matchLabels: { tier: t2 } }, mtls: { mode: DISABLE }, portLevelMtls: { 8001: { mode: STRICT } } } }`,
  ];
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nmetadata: { name: ${name}, labels: { feature: bench } }\nspec:\n  workloads:\n${ws.join('\n')}\n  policies:\n${policies.join('\n')}\n`,
  );
  return file;
}

/** The baseline: a bare Node mTLS handshake loop (server in its own process, client reusing one SecureContext). */
async function bareHandshakeLoop(durationMs: number, concurrency: number): Promise<number> {
  const pki = createMeshPki({ trustDomain: 'cluster.local' });
  const server = pki.issueWorkload({ namespace: 'bench', serviceAccount: 'server' });
  const client = pki.clients.mesh;
  const dir = mkdtempSync(join(work, 'bare-'));
  const write = (n: string, s: string) => (writeFileSync(join(dir, n), s, { mode: 0o600 }), join(dir, n));
  const files = { cert: write('cert.pem', server.certPem), key: write('key.pem', server.keyPem), ca: write('ca.pem', server.caPem) };
  const serverCode = `
    const tls = require('node:tls'); const fs = require('node:fs');
    const s = tls.createServer({ cert: fs.readFileSync(${JSON.stringify(files.cert)}), key: fs.readFileSync(${JSON.stringify(files.key)}),
      ca: fs.readFileSync(${JSON.stringify(files.ca)}), requestCert: true, rejectUnauthorized: true }, (c) => {
      c.once('data', () => c.end('ok\\n')); c.on('error', () => {}); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const srv = execa(process.execPath, ['-e', serverCode], { reject: false });
  const port = await new Promise<number>((resolve) => srv.stdout!.once('data', (b: Buffer) => resolve(Number(String(b).trim()))));
  const ctx = tls.createSecureContext({ cert: client.certPem, key: client.keyPem, ca: server.caPem });
  let done = 0;
  const until = performance.now() + durationMs;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, secureContext: ctx, servername: 'bench', rejectUnauthorized: false });
      s.once('secureConnect', () => s.write('hi\n'));
      s.once('data', () => {
        done++;
        s.destroy();
        resolve();
      });
      s.once('error', () => resolve());
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  const rate = done / ((performance.now() - t0) / 1000);
  srv.kill('SIGTERM');
  await srv;
  return rate;
}

/** 0. start-up: the compiled CLI as a user starts it (median of 7 runs each). */
async function startupSection(): Promise<void> {
  /** Median of 7 timed runs of `run`, in seconds. */
  const median7 = async (run: () => Promise<void>): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await run();
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[3]! / 1000;
  };
  const startup = (cliArgs: string[]): Promise<number> =>
    median7(async () => {
      const r = await execa(process.execPath, [bin, ...cliArgs], { cwd: root, reject: false, env: { NO_COLOR: '1' } });
      if (r.exitCode !== 0) throw new Error(`meshconform ${cliArgs.join(' ')} exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
    });
  const bareNode = await median7(async () => {
    await execa(process.execPath, ['-e', '0']);
  });
  const help = await startup(['--help']);
  const validate = await startup(['validate', join(root, 'scenarios/core/no-policy-permissive.yaml')]);
  console.log('0. start-up (median of 7, compiled CLI)');
  console.log(`   node -e 0                               ${fmt(bareNode, 2)} s`);
  console.log(`   meshconform --help                      ${fmt(help, 2)} s   target ≤ 0.30 s  ${targets.atMost('start-up: --help ≤ 0.30 s', help, 0.3, seconds(2))}`);
  console.log(`   meshconform validate <one scenario>     ${fmt(validate, 2)} s   target ≤ 0.50 s  ${targets.atMost('start-up: validate ≤ 0.50 s', validate, 0.5, seconds(2))}\n`);
}

/** 1. probe throughput against the bare handshake loop; returns the bare loop's rate (HBONE's figure divides by it). */
async function throughputSection(): Promise<number> {
  const bare = await bareHandshakeLoop(quick ? 2000 : 5000, 8);
  const tpFile = writeScenario('bench-throughput', 16, 4);
  const tp = await timedRun(['run', tpFile, '--retries', '0', '--parallel', '1']);
  const cells = tp.result.summary.cells;
  const probeRate = cells / (tp.result.scenarios[0]!.durationMs / 1000);
  const fullRate = cells / (tp.wallMs / 1000);
  // The probing phase alone: from the first probe's start to the last probe's end (environment start/stop excluded).
  const obs = tp.result.scenarios[0]!.cells.flatMap((c) => (c.observed ? [c.observed.timings] : []));
  const phaseMs = Math.max(...obs.map((t) => t.startedAt + t.totalMs)) - Math.min(...obs.map((t) => t.startedAt));
  const phaseRate = cells / (phaseMs / 1000);
  const phaseOk = targets.atLeast('probing phase ÷ bare handshake loop ≥ 0.80', phaseRate, bare, 0.8, '/s');
  const wholeOk = targets.atLeast('whole scenario (start, probe, stop) ÷ bare ≥ 0.60', probeRate, bare, 0.6, '/s');
  console.log('1. probe throughput (local backend, reference data plane)');
  console.log(`   bare Node mTLS handshake loop          ${fmt(bare)} handshakes/s`);
  console.log(`   meshconform run, ${cells} probes         ${fmt(probeRate)} probes/s inside the scenario (start, probe, stop)`);
  console.log(`   same, whole command wall time ${fmt(tp.wallMs)} ms → ${fmt(fullRate)} probes/s`);
  console.log(`   probing phase only (${fmt(phaseMs)} ms)       ${fmt(phaseRate)} probes/s`);
  console.log(`   ratio (probing phase ÷ bare)            ${fmt(phaseRate / bare, 2)}   target ≥ 0.80  ${phaseOk}`);
  console.log(`   ratio (whole scenario ÷ bare)           ${fmt(probeRate / bare, 2)}   target ≥ 0.60  ${wholeOk}  (includes starting and stopping 16 data planes)`);
  console.log(`   verdicts: ${tp.result.summary.passed}/${cells} passed\n`);
  return bare;
}

/** 2 + 3. the built-in suite as a user runs it, its profile, and its static scenarios in sidecar mode alone. */
async function suiteSection(): Promise<void> {
  const suite = await timedRun(['run', join(root, 'scenarios')]);
  console.log('2. built-in suite (meshconform run scenarios/)');
  console.log(`   ${suite.result.scenarios.length} scenario runs, ${suite.result.summary.cells} cells, ${suite.result.summary.passed} passed`);
  // Chaos scenarios probe for a fixed time by design (their `chaos.duration`), a few at a time: shown apart.
  const chaosRuns = suite.result.scenarios.filter((x) => x.timeline !== undefined);
  const chaosProbingS = chaosRuns.reduce((sum, x) => sum + (x.timeline?.durationMs ?? 0), 0) / 1000;
  const suiteOk = targets.atMost('whole built-in suite ≤ 20 s', suite.wallMs / 1000, 20, seconds(1));
  console.log(`   wall time ${fmt(suite.wallMs / 1000, 2)} s   target ≤ 20 s  ${suiteOk}`);
  console.log(`   of which ${chaosRuns.length} chaos scenarios probe for ${fmt(chaosProbingS, 1)} s in total by design`);
  printProfile(suite.result, fmt);

  // The static scenarios in sidecar mode only: a copy of the suite reduced to them (scripts/bench-suite.ts says how).
  const copy = join(mkdtempSync(join(work, 'sidecar-')), 'scenarios');
  const made = sidecarStaticCopy(join(root, 'scenarios'), copy);
  const sidecar = await timedRun(['run', copy]);
  const same = sameCells(staticCellKeys(sidecar.result, 'sidecar'), staticCellKeys(suite.result, 'sidecar')) && sidecar.result.scenarios.every((x) => x.meshMode === 'sidecar');
  console.log(
    `   static scenarios in sidecar mode alone: ${sidecar.result.scenarios.length} scenario runs (${made.kept} files as they are, ${made.rewritten} \`mode: both\` reduced to sidecar), ` +
      `${sidecar.result.summary.cells} cells, ${sidecar.result.summary.passed} passed; ${same ? 'the same cells as' : 'NOT the same cells as (figure unsound)'} the suite's sidecar static runs`,
  );
  const name = 'static sidecar scenarios ≤ 5 s';
  const sidecarOk = same ? targets.atMost(name, sidecar.wallMs / 1000, 5, seconds(2)) : (targets.notRun(name, 'the copy ran other cells'), 'not judged');
  console.log(`   wall time ${fmt(sidecar.wallMs / 1000, 2)} s   target ≤ 5 s  ${sidecarOk}`);
  console.log('3. peak memory of that run (harness + data planes + echo app)');
  console.log(`   ${fmt(suite.peakRss / 2 ** 20)} MiB over at most ${suite.peakProcs} processes, peak ${suite.peakFds} open fds\n`);
}

/** 4. scale: 500 workloads × 4 ports × every client kind. */
async function scaleSection(): Promise<void> {
  if (quick) {
    targets.notRun('scale run ≤ 30 s', '--quick');
    targets.notRun('scale run ≤ 1 GiB', '--quick');
    return;
  }
  const scaleFile = writeScenario('bench-scale', 500, 4);
  const scale = await timedRun(['run', scaleFile, '--retries', '0', '--workloads-per-process', '100', '--concurrency', '64', '--ready-timeout', '120000', '--timeout', '10000']);
  const s = scale.result.summary;
  const timeOk = targets.atMost('scale run (500 × 4 × 9) ≤ 30 s', scale.wallMs / 1000, 30, seconds(1));
  const memOk = targets.atMost('scale run (500 × 4 × 9) ≤ 1 GiB', scale.peakRss / 2 ** 30, 1, (g) => `${fmt(g * 1024)} MiB`);
  console.log('4. scale: 500 workloads × 4 ports × 9 clients (--workloads-per-process 100)');
  console.log(`   ${s.cells} cells: ${s.passed} passed, ${s.failed} failed, ${s.errors} errors in ${fmt(scale.wallMs / 1000, 1)} s   target ≤ 30 s  ${timeOk}`);
  console.log(
    `   peak ${fmt(scale.peakRss / 2 ** 20)} MiB RSS over ${scale.peakProcs} processes, peak ${scale.peakFds} open fds (limit ${(await execa('sh', ['-c', 'ulimit -n'])).stdout})   target ≤ 1 GiB  ${memOk}\n`,
  );
}

async function main(): Promise<void> {
  console.log(`meshconform bench — node ${process.version}, ${(await import('node:os')).cpus().length} cores${quick ? ' (quick)' : ''}\n`);
  if (args.has('--html')) return benchHtmlReport({ work, fmt });
  await buildDist();
  if (args.has('--mutate')) return await benchMutate({ root, fmt, targets });
  if (args.has('--scale')) return await scaleSection();
  await startupSection();
  if (args.has('--startup')) return; // `npm run bench -- --startup`: only these figures
  if (args.has('--suite')) return await suiteSection();
  if (args.has('--throughput')) return void (await throughputSection());
  const bare = await throughputSection();
  await suiteSection();
  await scaleSection();
  await benchContainers({ timedRun, writeScenario, fmt, targets });
  await benchHbone({ work, quick, bareRate: bare, fmt });
  console.log();
  await benchChaos({ work, quick, timedRun, fmt, targets });
  await benchHtmlReport({ work, fmt });
  if (quick) targets.notRun('mutate, every static defect ≤ 120 s', '--quick');
  else await benchMutate({ root, fmt, targets });
}

try {
  await main();
  targets.print();
} finally {
  rmSync(work, { recursive: true, force: true });
}
