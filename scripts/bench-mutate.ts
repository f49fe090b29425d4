// `npm run bench`, mutation part: `meshconform mutate scenarios/` (every static defect of the default claim against the
// whole built-in suite, defaults as a user gets them) through the compiled CLI, on loopback /16s nothing listens on.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Targets } from './bench-targets.js';

interface MutationJson {
  score: { caught: number; planted: number };
  durationMs: number;
  baseline: { summary: { cells: number; passed: number }; problem?: string };
  defects: { name: string; status: string; complete: boolean; durationMs: number }[];
}

/** Second octets of 127.0.0.0/8 with a TCP socket bound in them (/proc/net/tcp: little-endian hex addresses). */
function busySubnets(): Set<number> {
  const busy = new Set<number>();
  const table = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  for (const line of table) {
    const hex = line.trim().split(/\s+/)[1]?.split(':')[0];
    if (hex?.length === 8 && hex.slice(6, 8) === '7F') busy.add(Number.parseInt(hex.slice(4, 6), 16));
  }
  return busy;
}

/** The lowest 127.<n> from 64 up (where the local backend picks at random) with `count` consecutive idle /16s. */
export function freeSubnets(count: number): number {
  const busy = busySubnets();
  for (let n = 64; n + count - 1 <= 254; n++) {
    if (Array.from({ length: count }, (_, i) => n + i).every((x) => !busy.has(x))) return n;
  }
  throw new Error(`no ${count} consecutive idle loopback /16s`);
}

export async function benchMutate(o: { root: string; fmt: (n: number, digits?: number) => string; targets: Targets }): Promise<void> {
  const { fmt } = o;
  console.log('10. mutate (every static defect of --claim spec against the whole built-in suite, default flags)');
  const bin = join(o.root, 'bin/meshconform.js');
  const list = await execa(process.execPath, [bin, 'mutate', '--list', '--json'], { cwd: o.root });
  const defects = (JSON.parse(list.stdout) as { kind: string; claims: string[] }[]).filter((d) => d.kind === 'static' && d.claims.includes('spec')).length;
  const subnet = freeSubnets(defects + 1);
  const t0 = performance.now();
  const r = await execa(process.execPath, [bin, 'mutate', join(o.root, 'scenarios'), '--json', '--local-subnet', `127.${subnet}`], {
    cwd: o.root,
    reject: false,
    env: { NO_COLOR: '1', CI: 'true' },
  });
  const wallMs = performance.now() - t0;
  let m: MutationJson;
  try {
    m = JSON.parse(r.stdout) as MutationJson;
  } catch {
    throw new Error(`meshconform mutate exited ${r.exitCode} without a result: ${r.stderr.slice(-2000)}`);
  }
  const slowest = [...m.defects].sort((a, b) => b.durationMs - a.durationMs)[0];
  console.log(
    `   127.${subnet}–127.${subnet + defects}: baseline ${m.baseline.summary.passed}/${m.baseline.summary.cells} cells passed${m.baseline.problem ? ` (${m.baseline.problem})` : ''}; ` +
      `${m.score.caught}/${m.score.planted} defects caught, exit ${r.exitCode}`,
  );
  console.log(
    `   ${m.defects.filter((d) => !d.complete).length} defect runs stopped at their first failing cell; slowest defect run ${slowest ? `${slowest.name} ${fmt(slowest.durationMs / 1000, 1)} s` : '—'}`,
  );
  const verdict = o.targets.atMost('mutate, every static defect ≤ 120 s', wallMs / 1000, 120, (s) => `${fmt(s, 1)} s`);
  console.log(`   wall time ${fmt(wallMs / 1000, 1)} s   target ≤ 120 s  ${verdict}`);
  const caught = o.targets.all('mutate catches every static defect', m.score.caught, m.score.planted, 'caught');
  console.log(`   defects caught ${m.score.caught}/${m.score.planted}   target: all  ${caught}\n`);
}
