// Browser-safe (the HTML page script imports it): no Node built-ins here.
import type { CellResult, RunResult } from '../model/index.js';
import { shellQuote } from './shell-quote.js';

type FlagValue = string | number | boolean | readonly string[];

/** Backends on which the harness starts the data plane (the ones `--data-plane` is for). */
const HOST_BACKENDS: readonly string[] = ['local', 'docker', 'netns'];

/**
 * The `run` flags that change what one cell observes or how it is judged, in the order the command spells them, with
 * the default a flag is left out at. Everything else (reporters, --out, --grep, --parallel, --concurrency, the random
 * --local-subnet, --kind-cluster, --keep, report inputs) shapes the run, not the cell, and stays out of the command.
 */
const CELL_FLAGS: readonly { readonly name: string; readonly default?: FlagValue }[] = [
  { name: 'defect' },
  { name: 'capabilities' },
  { name: 'mesh-modes' },
  { name: 'workloads-per-process', default: 1 },
  { name: 'image' },
  { name: 'seed' },
  { name: 'retries', default: 1 },
  { name: 'timeout', default: 3000 },
  { name: 'ready-timeout', default: 15000 },
  { name: 'allow-files-outside', default: false },
  { name: 'istio-profile' },
  { name: 'istio-version' },
  { name: 'kind-node-image' },
  { name: 'context' },
  { name: 'mesh-ca' },
  { name: 'injection-label', default: 'istio-injection=enabled' },
  { name: 'root-namespace', default: 'istio-system' },
  { name: 'allow-mesh-policies', default: false },
  { name: 'converge-successes' },
  { name: 'converge-timeout' },
  { name: 'converge-interval' },
  { name: 'pod-ready-timeout' },
  { name: 'install-timeout' },
];

function flagArgs(name: string, value: FlagValue | undefined): string[] {
  if (value === undefined || value === false) return [];
  if (value === true) return [`--${name}`];
  if (Array.isArray(value)) return (value as readonly string[]).flatMap((v) => [`--${name}`, String(v)]);
  return [`--${name}`, String(value)];
}

const sameValue = (a: FlagValue, b: FlagValue): boolean => (Array.isArray(a) || Array.isArray(b) ? false : String(a) === String(b));

/** The flags a report written before `options.flags` existed still implies. */
function flagsOf(result: RunResult): Readonly<Record<string, FlagValue>> {
  if (result.options.flags) return result.options.flags;
  const o = result.options;
  return {
    backend: result.environment.backend,
    'data-plane': result.environment.dataPlane,
    ...(o.retries !== undefined ? { retries: o.retries } : {}),
    timeout: o.timeoutMs,
  };
}

/**
 * The one-line shell command that reruns exactly this cell the way the run ran it:
 * `npx meshconform run <scenario file> --only-cell '<key>' --backend … --data-plane … --claim … [the flags that matter]`.
 * Backend, data plane (on backends that start one) and claim are always spelled out; other flags only when they differ
 * from their default. A chaos cell carries its schedule's seed even when the run picked it at random.
 */
export function cellReproduceCommand(result: RunResult, cell: CellResult): string {
  const scenario = result.scenarios.find((s) => s.name === cell.scenario && s.meshMode === cell.meshMode && s.cells.some((c) => c.key === cell.key));
  const flags = flagsOf(result);
  const backend = String(flags['backend'] ?? result.environment.backend);
  const args = ['npx', 'meshconform', 'run', ...(scenario ? [scenario.file] : result.options.paths), '--only-cell', cell.key, '--backend', backend];
  if (HOST_BACKENDS.includes(backend)) args.push(...flagArgs('data-plane', flags['data-plane'] ?? result.environment.dataPlane));
  args.push('--claim', String(flags['claim'] ?? result.claim ?? 'istio'));
  for (const f of CELL_FLAGS) {
    const value = f.name === 'seed' ? (flags['seed'] ?? scenario?.timeline?.seed) : flags[f.name];
    if (value === undefined || (f.default !== undefined && sameValue(value, f.default))) continue;
    args.push(...flagArgs(f.name, value));
  }
  return args.map(shellQuote).join(' ');
}
