// `npm run bench`: the targets of the performance issue, collected as the sections measure them and printed at the end
// as one table (target, figure, ratio, OK/MISSED). A target a run did not measure (--quick, no Docker) says why.

interface Row {
  readonly target: string;
  readonly figure: string;
  /** figure ÷ target for a limit; measured ÷ bare for a throughput ratio; caught ÷ trials for a count. */
  readonly ratio?: number;
  readonly verdict: 'OK' | 'MISSED' | 'NOT RUN';
}

export interface Targets {
  /** A figure that must stay at or under `limit` (a time, a size); returns the verdict for the section's own line. */
  atMost(target: string, figure: number, limit: number, show: (n: number) => string): string;
  /** A rate that must reach `min` times the bare rate; the figure shows both rates. */
  atLeast(target: string, measured: number, bare: number, min: number, unit: string): string;
  /** `got` of `of` (trials caught, defects caught) where every one must count. */
  all(target: string, got: number, of: number, what: string): string;
  notRun(target: string, why: string): void;
  print(): void;
}

export function createTargets(fmt: (n: number, digits?: number) => string): Targets {
  const rows: Row[] = [];
  const add = (row: Row): string => (rows.push(row), row.verdict);
  return {
    atMost: (target, figure, limit, show) => add({ target, figure: show(figure), ratio: figure / limit, verdict: figure <= limit ? 'OK' : 'MISSED' }),
    atLeast: (target, measured, bare, min, unit) =>
      add({ target, figure: `${fmt(measured)} ÷ ${fmt(bare)} ${unit}`, ratio: measured / bare, verdict: measured / bare >= min ? 'OK' : 'MISSED' }),
    all: (target, got, of, what) => add({ target, figure: `${got}/${of} ${what}`, ratio: of > 0 ? got / of : 0, verdict: of > 0 && got === of ? 'OK' : 'MISSED' }),
    notRun: (target, why) => void rows.push({ target, figure: why, verdict: 'NOT RUN' }),
    print: () => {
      if (rows.length === 0) return;
      const width = Math.max(...rows.map((r) => r.target.length), 6);
      const figWidth = Math.max(...rows.map((r) => r.figure.length), 6);
      console.log('summary of the targets (ratio: figure ÷ target, or measured ÷ bare for throughput ratios)');
      console.log(`   ${'target'.padEnd(width)}  ${'figure'.padEnd(figWidth)}  ratio  verdict`);
      for (const r of rows) {
        console.log(`   ${r.target.padEnd(width)}  ${r.figure.padEnd(figWidth)}  ${(r.ratio === undefined ? '—' : fmt(r.ratio, 2)).padStart(5)}  ${r.verdict}`);
      }
      const missed = rows.filter((r) => r.verdict === 'MISSED').length;
      const notRun = rows.filter((r) => r.verdict === 'NOT RUN').length;
      console.log(`   ${rows.length - missed - notRun} OK, ${missed} MISSED${notRun ? `, ${notRun} not run` : ''}`);
    },
  };
}
