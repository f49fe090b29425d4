// `npm run bench`, built-in suite parts: the static scenarios in sidecar mode alone, and where a scenario's time goes.
//
// No CLI flag selects a mesh mode on the reference data plane, so the sidecar figure runs a copy of scenarios/ with the
// chaos and ambient-only scenarios removed and each `mode: both` scenario turned into `mode: sidecar` (its expect
// entries scoped to `meshMode: ambient` dropped). The copy keeps the folder tree, so feature names and referenced
// policy files stay as they were. It is sound when the copy's run has exactly the cells (same keys) of the sidecar
// static scenario runs of the whole-suite run; the section prints whether it does.
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isSeq, parseAllDocuments } from 'yaml';
import type { RunResult, ScenarioResult } from '../src/model/index.js';

type Fmt = (n: number, digits?: number) => string;

/** Copies the suite at `from` into `to` keeping only its static scenarios, each in sidecar mode only. */
export function sidecarStaticCopy(from: string, to: string): { kept: number; rewritten: number; removed: number } {
  cpSync(from, to, { recursive: true });
  let kept = 0;
  let rewritten = 0;
  let removed = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const file = join(dir, e.name);
      if (e.isDirectory()) walk(file);
      else if (/\.ya?ml$/.test(e.name)) {
        const outcome = sidecarOnly(file);
        if (outcome === 'removed') removed++;
        else if (outcome === 'rewritten') rewritten++;
        else if (outcome === 'kept') kept++;
      }
    }
  };
  walk(to);
  return { kept, rewritten, removed };
}

function sidecarOnly(file: string): 'kept' | 'rewritten' | 'removed' | 'not a scenario' {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  if (!Array.isArray(docs) || docs.length === 0 || docs[0]!.get('kind') !== 'Scenario') return 'not a scenario';
  if (docs.length !== 1) throw new Error(`${file}: a scenario file of ${docs.length} documents; this copy cannot rewrite it`);
  const doc = docs[0]!;
  const mode = doc.getIn(['spec', 'mode']) ?? 'sidecar';
  if (doc.hasIn(['spec', 'chaos']) || mode === 'ambient') {
    rmSync(file);
    return 'removed';
  }
  if (mode === 'sidecar') return 'kept';
  if (mode !== 'both') throw new Error(`${file}: unknown mode ${String(mode)}`);
  doc.setIn(['spec', 'mode'], 'sidecar');
  const expect = doc.getIn(['spec', 'expect']);
  if (isSeq(expect)) expect.items = expect.items.filter((item) => !(isMap(item) && item.get('meshMode') === 'ambient'));
  writeFileSync(file, doc.toString());
  return 'rewritten';
}

/** The cells of the static (non-chaos) scenario runs of one mesh mode. */
export function staticCellKeys(r: RunResult, mode: string): string[] {
  return r.scenarios.filter((s) => s.meshMode === mode && s.timeline === undefined).flatMap((s) => s.cells.map((c) => c.key));
}

/** Whether two runs hold exactly the same cells. */
export function sameCells(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return a.length === b.length && set.size === new Set(b).size && b.every((k) => set.has(k));
}

/**
 * Where the suite's time goes: each phase of the static scenario runs summed per mesh mode (scenarios overlap, so the
 * sums exceed the wall time), beside the chaos scenarios' own time.
 */
export function printProfile(r: RunResult, fmt: Fmt): void {
  const byMode = new Map<string, ScenarioResult[]>();
  for (const s of r.scenarios) {
    if (s.timeline !== undefined || s.skipped !== undefined) continue;
    byMode.set(s.meshMode, [...(byMode.get(s.meshMode) ?? []), s]);
  }
  const secs = (ms: number) => `${fmt(ms / 1000, 1)} s`.padStart(8);
  console.log('   profile: phases of the static scenario runs, summed per mesh mode (runs overlap: sums exceed wall time)');
  console.log(`   ${'mode'.padEnd(8)} ${'runs'.padStart(4)} ${'deploy'.padStart(8)} ${'probe'.padStart(8)} ${'evidence'.padStart(8)} ${'stop'.padStart(8)} ${'total'.padStart(8)}`);
  for (const [mode, runs] of byMode) {
    const timed = runs.filter((s) => s.phases !== undefined);
    const sum = (k: 'deployMs' | 'probeMs' | 'evidenceMs' | 'stopMs') => timed.reduce((n, s) => n + s.phases![k], 0);
    const total = runs.reduce((n, s) => n + s.durationMs, 0);
    if (timed.length === 0) {
      console.log(`   ${mode.padEnd(8)} ${String(runs.length).padStart(4)} (no phases in report.json) ${secs(total)}`);
      continue;
    }
    const [d, p, e, st] = [sum('deployMs'), sum('probeMs'), sum('evidenceMs'), sum('stopMs')];
    const pct = (ms: number) => `${fmt((100 * ms) / (d + p + e + st))} %`;
    console.log(`   ${mode.padEnd(8)} ${String(runs.length).padStart(4)} ${secs(d)} ${secs(p)} ${secs(e)} ${secs(st)} ${secs(total)}`);
    console.log(`   ${''.padEnd(13)} ${pct(d).padStart(8)} ${pct(p).padStart(8)} ${pct(e).padStart(8)} ${pct(st).padStart(8)}`);
  }
  const chaos = r.scenarios.filter((s) => s.timeline !== undefined);
  if (chaos.length > 0) console.log(`   chaos    ${String(chaos.length).padStart(4)} scenario runs, ${fmt(chaos.reduce((n, s) => n + s.durationMs, 0) / 1000, 1)} s summed`);
  const skipped = r.scenarios.filter((s) => s.skipped !== undefined).length;
  if (skipped > 0) console.log(`   skipped  ${String(skipped).padStart(4)} scenario runs (a capability this run lacks)`);
}
