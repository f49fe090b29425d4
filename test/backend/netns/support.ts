import { execa, type ResultPromise } from 'execa';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsHostProblem } from '../../../src/backend/netns/index.js';
import type { RunResult } from '../../../src/model/index.js';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const bin = join(root, 'bin/meshconform.js');
export const e2eScenario = (name: string) => join(root, 'test/e2e/fixtures/scenarios', `${name}.yaml`);
export const NETNS = 'root and the ip command (iproute2)';

/** True when this process can run the netns backend (root, `ip` on PATH). */
export async function netnsAvailable(): Promise<boolean> {
  return (await netnsHostProblem()) === undefined;
}

const made: string[] = [];
/** A temporary folder removed by `removeTempDirs` (call it from an `after` hook). */
export function tempDir(prefix: string, mode?: number): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  if (mode !== undefined) chmodSync(d, mode);
  made.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface Cli {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  out: string;
  tmp: string;
}

/** The real CLI in its own process, with a private TMPDIR and output folder; `prefix` runs it through another command, `nodeArgs` go to node. */
export async function cli(args: string[], o: { env?: Record<string, string>; prefix?: string[]; nodeArgs?: string[] } = {}): Promise<Cli> {
  const out = tempDir('mc-netns-out-', 0o777);
  const tmp = tempDir('mc-netns-tmp-', 0o777);
  const argv = [process.execPath, ...(o.nodeArgs ?? []), bin, ...args, ...(args[0] === 'run' ? ['--out', out] : [])];
  const [file, ...rest] = [...(o.prefix ?? []), ...argv];
  const r = await execa(file!, rest, { cwd: root, env: { TMPDIR: tmp, NO_COLOR: '1', ...o.env }, reject: false, timeout: 170_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, out, tmp };
}

/** The CLI started in the background; resolves the run id from its first line. */
export function cliInBackground(args: string[]): { child: ResultPromise; runId: Promise<string>; tmp: string } {
  const out = tempDir('mc-netns-out-');
  const tmp = tempDir('mc-netns-tmp-');
  const child = execa(process.execPath, [bin, ...args, '--out', out], {
    cwd: root,
    env: { TMPDIR: tmp, NO_COLOR: '1' },
    reject: false,
    buffer: { stdout: false },
    forceKillAfterDelay: false,
  });
  const runId = new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (b: Buffer) => {
      text += String(b);
      const m = /meshconform: run (\S+):/.exec(text);
      if (m) resolve(m[1]!);
    });
    child.stdout!.once('end', () => reject(new Error(`no run id in: ${text}`)));
  });
  return { child, runId, tmp };
}

export function report(c: Cli): RunResult {
  return JSON.parse(readFileSync(join(c.out, 'latest', 'report.json'), 'utf8')) as RunResult;
}

/** Network namespaces whose name carries the run id. */
export async function namespacesOf(runId: string): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`meshconform-${runId}-`));
}

/** Host interfaces of meshconform environments (name mcn-*), with their alias (the hub namespace's name). */
export async function hostInterfaces(runId?: string): Promise<string[]> {
  const r = await execa('ip', ['-j', 'link', 'show'], { reject: false });
  const links = JSON.parse(r.stdout || '[]') as { ifname: string; ifalias?: string }[];
  return links.filter((l) => l.ifname.startsWith('mcn-') && (runId === undefined || (l.ifalias ?? '').startsWith(`meshconform-${runId}-`))).map((l) => l.ifname);
}

/** Routes into the test range (the Docker engine's own bridge aside). */
export async function testRangeRoutes(): Promise<string[]> {
  const r = await execa('ip', ['-4', 'route', 'show', 'table', 'all'], { reject: false });
  return r.stdout
    .split('\n')
    .filter((l) => /(^|\s)198\.(18|19)\./.test(l) && !/198\.19\.255\./.test(l))
    .sort();
}

/** Processes still alive that were started with this TMPDIR (every child of a run inherits it). */
export function processesWith(tmp: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`TMPDIR=${tmp}`)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

/** What a run left in its TMPDIR (tsx's own compile cache is not the run's). */
export function leftInTmp(tmp: string): string[] {
  return readdirSync(tmp).filter((n) => !n.startsWith('tsx-'));
}

/** Polls `check` every 50 ms until it holds or `ms` pass. */
export async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** Everything of a run that must be gone after it: namespaces, host interfaces, processes, temp files. */
export async function leftovers(runId: string, tmp: string): Promise<{ namespaces: string[]; interfaces: string[]; processes: number[]; files: string[] }> {
  // Children can take a moment to be reaped after their parent went; wait (bounded) before judging.
  await until(() => processesWith(tmp).length === 0, 5000);
  return { namespaces: await namespacesOf(runId), interfaces: await hostInterfaces(runId), processes: processesWith(tmp), files: leftInTmp(tmp) };
}

export const NOTHING = { namespaces: [], interfaces: [], processes: [], files: [] };
