import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { connectDockerEngine } from '../../../src/backend/docker/index.js';
import type { RunResult } from '../../../src/model/index.js';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const bin = join(root, 'bin/meshconform.js');
export const e2eScenario = (name: string) => join(root, 'test/e2e/fixtures/scenarios', `${name}.yaml`);

const made: string[] = [];
/** A temporary folder removed by `removeTempDirs` (call it from an `after` hook). */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The engine, or undefined when none answers (the tests then skip, or fail under MESHCONFORM_REQUIRE_ALL). */
export async function dockerOrUndefined(): Promise<Dockerode | undefined> {
  try {
    return (await connectDockerEngine()).docker;
  } catch {
    return undefined;
  }
}

export interface Cli {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  out: string;
  tmp: string;
}

/** The real CLI in its own process, with a private TMPDIR and output folder. */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  const out = tempDir('mc-docker-out-');
  const tmp = tempDir('mc-docker-tmp-');
  const r = await execa(process.execPath, [bin, ...args, ...(args[0] === 'run' ? ['--out', out] : [])], {
    cwd: root,
    env: { ...env, TMPDIR: tmp, NO_COLOR: '1' },
    reject: false,
    timeout: 170_000,
  });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, out, tmp };
}

/** The CLI started in the background; resolves the run id from its first line. */
export function cliInBackground(args: string[]): { child: ResultPromise; runId: Promise<string>; tmp: string } {
  const out = tempDir('mc-docker-out-');
  const tmp = tempDir('mc-docker-tmp-');
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

/** Containers and networks carrying `meshconform.run=<runId>`. */
export async function labelled(docker: Dockerode, runId: string): Promise<{ containers: string[]; networks: string[] }> {
  const filters = JSON.stringify({ label: [`meshconform.run=${runId}`] });
  const containers = (await docker.listContainers({ all: true, filters })).map((c) => c.Names[0] ?? c.Id);
  const networks = (await docker.listNetworks({ filters })).map((n) => n.Name);
  return { containers, networks };
}

/** Polls `check` every 50 ms until it holds or `ms` pass. */
export async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** What a run left in its TMPDIR (tsx's own compile cache is not the run's). */
export function leftInTmp(tmp: string): string[] {
  return readdirSync(tmp).filter((n) => !n.startsWith('tsx-'));
}

/** Routes into the test range: a run must not leave a bridge (and its route) behind. */
export async function testRangeRoutes(): Promise<string[]> {
  const r = await execa('ip', ['-4', 'route', 'show'], { reject: false });
  return r.stdout.split('\n').filter((l) => /^198\.(18|19)\./.test(l) && !l.startsWith('198.19.255.'));
}

/**
 * The 198.18/15 routes once they match `before`, waiting a bounded 10 s: the engine deletes a removed network's
 * bridge on its own schedule. On a mismatch the message carries the engine's networks and the host's bridges.
 */
export async function routesAfterCleanup(docker: Dockerode, before: readonly string[]): Promise<{ routes: string[]; diagnosis: string }> {
  const same = (r: string[]) => r.length === before.length && r.every((x, i) => x === before[i]);
  let routes = await testRangeRoutes();
  const end = Date.now() + 10_000;
  while (!same(routes) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    routes = await testRangeRoutes();
  }
  if (same(routes)) return { routes, diagnosis: '' };
  const nets = await docker.listNetworks().catch((e: Error) => [{ Name: `(list failed: ${e.message})` }]);
  const links = await execa('ip', ['-br', 'link', 'show', 'type', 'bridge'], { reject: false });
  return {
    routes,
    diagnosis: `bridge routes left; engine networks: ${JSON.stringify(nets.map((n) => ({ name: n.Name, id: (n as { Id?: string }).Id?.slice(0, 12), labels: (n as { Labels?: unknown }).Labels })))}; bridges: ${links.stdout.replace(/\n/g, ' | ')}`,
  };
}
