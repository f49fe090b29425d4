import type { InvariantResult, ScenarioTimeline } from '../model/index.js';

const MAX_VIOLATIONS = 5;

const s3 = (ms: number) => (ms / 1000).toFixed(3);

function invariantText(i: InvariantResult): string {
  const state = i.ok ? 'ok' : 'VIOLATED';
  switch (i.name) {
    case 'no-fail-open':
      return `no-fail-open ${state}${i.ok ? '' : ` (${i.value ?? '?'} probes)`}`;
    case 'availability':
      return `availability ${i.value === undefined ? 'n/a' : `${(i.value * 100).toFixed(2)} %`} ${state} (bound ${((i.bound ?? 1) * 100).toFixed(2)} %)`;
    case 'time-to-enforce':
    case 'recovery':
      return `${i.name} ${state}${i.value !== undefined ? ` (max ${i.value} ms, bound ${i.bound ?? '?'} ms)` : ''}`;
    default: {
      const never: never = i.name;
      return String(never);
    }
  }
}

/**
 * A chaos scenario's timeline in a few lines: what ran, each fault with its canary and recovery, time to enforce per
 * policy change, the invariants and their first violations.
 */
export function timelineLines(tl: ScenarioTimeline): string[] {
  const out: string[] = [];
  const probing = tl.probing;
  const failOpen = tl.probes.filter((p) => p.judged === 'fail-open').length;
  out.push(
    `timeline: ${s3(tl.durationMs)} s${tl.seed !== undefined ? `, seed ${tl.seed}` : ''}, ${probing?.probes ?? tl.probes.length} probes` +
      (probing
        ? ` (${probing.perSecond}/s${tl.probeIntervalMs !== undefined ? `, every ${tl.probeIntervalMs} ms per cell` : ''}${probing.skippedBusy + probing.skippedSaturated > 0 ? `, ${probing.skippedBusy + probing.skippedSaturated} ticks skipped` : ''})`
        : '') +
      `, ${failOpen} fail-open`,
  );
  for (const f of tl.faults) {
    const when = f.endMs !== undefined && f.endMs > f.startMs ? `${s3(f.startMs)}–${s3(f.endMs)} s` : `${s3(f.startMs)} s`;
    const canary = f.canary
      ? f.canary.ok
        ? 'canary ok'
        : `CANARY FAILED: ${f.canary.checks
            .filter((c) => !c.ok)
            .map((c) => `${c.name}: ${c.detail}`)
            .join('; ')}`
      : '';
    const tte = tl.timeToEnforceStats?.perFault.find((x) => x.change === f.name);
    const extra = [
      f.recoveryMs !== undefined ? `recovered in ${f.recoveryMs} ms` : '',
      tte ? `time to enforce p50 ${tte.p50Ms} ms, p95 ${tte.p95Ms} ms over ${tte.count} port(s)` : '',
    ].filter(Boolean);
    out.push(`  ${when.padEnd(17)} ${f.name}  ${[canary, ...extra].filter(Boolean).join('  ')}`);
  }
  for (const x of tl.timeToEnforceStats?.perFault ?? []) {
    if (tl.faults.some((f) => f.name === x.change)) continue;
    out.push(`  ${''.padEnd(17)} ${x.change}  time to enforce p50 ${x.p50Ms} ms, p95 ${x.p95Ms} ms over ${x.count} port(s)`);
  }
  if (tl.invariants) {
    out.push(`  invariants: ${tl.invariants.map(invariantText).join(' · ')}`);
    for (const i of tl.invariants.filter((x) => !x.ok)) {
      for (const v of i.violations.slice(0, MAX_VIOLATIONS)) out.push(`    ${i.name}: ${v}`);
      if (i.violations.length > MAX_VIOLATIONS) out.push(`    ${i.name}: … and ${i.violations.length - MAX_VIOLATIONS} more (report.json)`);
    }
  }
  return out;
}
