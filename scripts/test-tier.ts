// `npm run test:unit | test:integration | test:live`, or several tiers in one schedule (`.ci/run`): runs mocha on the
// test files of each tier (test/tiers.ts). A tier's files run in groups, each group in its own mocha process; groups
// whose holds do not conflict run side by side. Mocha's output ends with "N passed, N failed"
// (test/support/counting-reporter.cjs); with more than one group, each group's output is printed whole when it ends,
// then one "tier <name>: N passed, N failed in N s" line per tier and the summed "N passed, N failed" last.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { availableParallelism, setPriority, tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compatible, type Group, INTEGRATION_GROUPS, LIVE_GROUP, listed, PARALLEL, TIERS, type Tier, tierOf, UNIT_GROUP } from '../test/tiers.js';
import { buildDist, walk } from './build.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const mochaBin = join(root, 'node_modules/mocha/bin/mocha.js');

export function tierFiles(tier: Tier): string[] {
  return walk(join(root, 'test'))
    .map((f) => relative(root, f).split(sep).join('/'))
    .filter((f) => f.endsWith('.test.ts') && !f.includes('/fixtures/') && tierOf(f) === tier)
    .sort();
}

/** Mocha workers are processes, each running whole files; 2 even on one core, as most tests wait on child processes. */
const workers = Math.max(2, Math.min(4, availableParallelism()));

/** One mocha process of the schedule. */
export interface Job {
  readonly tier: Tier;
  readonly group: Group;
  readonly files: readonly string[];
  /** Mocha's parallel workers for the tier's files, or none. */
  readonly parallel: boolean;
  /** Slots of the schedule it takes: its mocha workers, or one. */
  readonly weight: number;
}

/** The groups of the given tiers with their files, in the order they should start. */
export function jobsOf(tiers: readonly Tier[]): Job[] {
  const jobs: Job[] = [];
  const job = (tier: Tier, group: Group, files: readonly string[], parallel = false): Job => ({ tier, group, files, parallel, weight: parallel ? workers : 1 });
  for (const tier of tiers) {
    const files = tierFiles(tier);
    if (tier !== 'integration') {
      jobs.push(job(tier, tier === 'unit' ? UNIT_GROUP : LIVE_GROUP, files, PARALLEL.includes(tier)));
      continue;
    }
    // In the group's own order: a folder's files sorted, where the folder is named.
    for (const group of INTEGRATION_GROUPS) jobs.push(job(tier, group, [...new Set(group.files.flatMap((p) => files.filter((f) => listed([p], f))))]));
    // A file no group names runs with everything to itself.
    for (const f of files.filter((f) => !INTEGRATION_GROUPS.some((g) => listed(g.files, f)))) jobs.push(job(tier, { name: f, files: [f], holds: ['cpu'] }, [f]));
  }
  return jobs.filter((j) => j.files.length > 0);
}

interface Outcome {
  readonly passed: number;
  readonly failed: number;
  /** Seconds since the schedule began. */
  readonly start: number;
  readonly end: number;
}

/** Mocha's last "N passed, N failed" line; a non-zero exit without a failed test (a file that did not load) is one failure. */
function counts(output: string, status: number | null): { passed: number; failed: number } {
  const last = [...output.matchAll(/^(\d+) passed, (\d+) failed$/gm)].at(-1);
  const passed = last ? Number(last[1]) : 0;
  let failed = last ? Number(last[2]) : 1;
  if (status !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

function mochaArgs(job: Job, extra: readonly string[]): string[] {
  return [mochaBin, ...(job.parallel ? ['--parallel', '--jobs', String(workers)] : []), ...extra, ...job.files];
}

const env = { ...process.env, MESHCONFORM_TEST_DIST_BUILT: '1' };
/** Nice value of a `timing` group: its processes get about three times the CPU share of the others when both wait. */
const TIMING_PRIORITY = -5;

/** Runs one job with its output in a file under `dir`; resolves with that output once the job exited. */
function runJob(job: Job, extra: readonly string[], dir: string, running: Map<number, string>): Promise<{ output: string; status: number | null }> {
  const file = join(dir, `${job.tier}-${job.group.name.replace(/\W+/g, '-')}.log`);
  const fd = openSync(file, 'w');
  const child = spawn(process.execPath, mochaArgs(job, extra), { cwd: root, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid !== undefined) running.set(child.pid, file);
  // Before mocha starts its first CLI, so every process of the group inherits it; only root may raise a priority.
  if (job.group.timing && child.pid !== undefined) {
    try {
      setPriority(child.pid, TIMING_PRIORITY);
    } catch {
      // not permitted: the group runs at the common priority
    }
  }
  return new Promise((resolve) => {
    child.on('exit', (status) => {
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ output: readFileSync(file, 'utf8'), status });
    });
  });
}

/**
 * Runs the jobs, their weights within `slots` (a job heavier than that runs once nothing else does), each as soon as
 * nothing running conflicts with it (the earliest such in list order). A job of a `system` group waits until the file
 * `gate` exists, when a gate is given.
 */
async function schedule(jobs: readonly Job[], extra: readonly string[], slots: number, gate: string | undefined): Promise<Map<Job, Outcome>> {
  const dir = mkdtempSync(join(tmpdir(), 'mc-test-tier-'));
  const pids = new Map<number, string>();
  // Stopped from outside: the mocha processes get the signal, and what they printed so far is shown.
  const stop = (signal: NodeJS.Signals) => {
    for (const [pid, file] of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
      process.stdout.write(`\n${signal}: output so far of ${file}\n${readFileSync(file, 'utf8').trimEnd()}\n`);
    }
    rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
  const pending = [...jobs];
  const running = new Set<Job>();
  const outcomes = new Map<Job, Outcome>();
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  let polling = false;
  await new Promise<void>((done) => {
    const next = (): void => {
      const open = gate === undefined || existsSync(gate);
      const used = () => [...running].reduce((n, r) => n + r.weight, 0);
      const startable = (job: Job) =>
        (open || !job.group.system) && (running.size === 0 || used() + job.weight <= slots) && [...running].every((r) => compatible(r.group, job.group));
      for (let job = pending.find(startable); job !== undefined; job = pending.find(startable)) {
        pending.splice(pending.indexOf(job), 1);
        running.add(job);
        const start = now();
        const name = `${job.tier}: ${job.group.name}`;
        console.log(`[${start.toFixed(0)} s] start ${name} (${job.files.length} file(s))`);
        void runJob(job, extra, dir, pids).then(({ output, status }) => {
          running.delete(job);
          const o = { ...counts(output, status), start, end: now() };
          outcomes.set(job, o);
          const head = `[${o.end.toFixed(0)} s] end ${name}: ${o.passed} passed, ${o.failed} failed in ${(o.end - start).toFixed(0)} s`;
          process.stdout.write(`\n${head}\n${output.trimEnd()}\n${'─'.repeat(Math.min(head.length, 100))}\n\n`);
          next();
        });
      }
      if (pending.length === 0 && running.size === 0) done();
      else if (!open && !polling && pending.some((j) => j.group.system)) {
        // Only the gate can let a waiting job start between two job ends: look again shortly.
        polling = true;
        setTimeout(() => ((polling = false), next()), 500);
      }
    };
    next();
  });
  rmSync(dir, { recursive: true, force: true });
  return outcomes;
}

/** Prints each group's count and time, one line per tier, then the summed count; true when nothing failed. */
function summarize(jobs: readonly Job[], outcomes: ReadonlyMap<Job, Outcome>): boolean {
  console.log('groups (seconds since the start):');
  for (const j of jobs) {
    const o = outcomes.get(j)!;
    const when = `${o.start.toFixed(0).padStart(4)}–${o.end.toFixed(0).padEnd(4)} s`;
    console.log(`  ${`${j.tier}: ${j.group.name}`.padEnd(42)} ${when} ${String(o.passed).padStart(5)} passed, ${o.failed} failed`);
  }
  let passed = 0;
  let failed = 0;
  for (const tier of new Set(jobs.map((j) => j.tier))) {
    const mine = jobs.filter((j) => j.tier === tier).map((j) => outcomes.get(j)!);
    const p = mine.reduce((n, o) => n + o.passed, 0);
    const f = mine.reduce((n, o) => n + o.failed, 0);
    const seconds = Math.max(...mine.map((o) => o.end)) - Math.min(...mine.map((o) => o.start));
    console.log(`tier ${tier}: ${p} passed, ${f} failed in ${seconds.toFixed(0)} s`);
    passed += p;
    failed += f;
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const tiers = args.filter((a): a is Tier => (TIERS as readonly string[]).includes(a));
  const extra = args.filter((a) => !(TIERS as readonly string[]).includes(a));
  if (tiers.length === 0) {
    console.error(`usage: test-tier.ts ${TIERS.join('|')} [${TIERS.join('|')} …] [mocha options]`);
    process.exit(2);
  }
  // Built once here, so parallel workers and groups do not each rebuild dist/ (test/support/build-dist.ts checks the variable).
  await buildDist().catch((err: Error) => console.error(`warning: dist/ not rebuilt (${err.message.split('\n')[0]}); the CLI runs from src/ through tsx`));
  const jobs = jobsOf(tiers);
  if (jobs.length === 1) {
    const [job] = jobs as [Job];
    console.log(`${job.tier} tier: ${job.files.length} test files${job.parallel ? `, ${workers} in parallel` : ''}`);
    const r = spawnSync(process.execPath, mochaArgs(job, extra), { cwd: root, stdio: 'inherit', env });
    process.exit(r.status ?? 1);
  }
  // Mocha processes at a time (a parallel tier's workers each count): one more than the cores, as they partly wait on
  // the CLIs, data planes and containers they start; more would only add contention.
  const slots = Number(process.env['MESHCONFORM_TEST_SLOTS']) || availableParallelism() + 1;
  console.log(`${tiers.join(' + ')}: ${jobs.length} groups, ${slots} slots`);
  const outcomes = await schedule(jobs, extra, slots, process.env['MESHCONFORM_TEST_GATE']);
  process.exit(summarize(jobs, outcomes) ? 0 : 1);
}
