import type { CellResult, MeshMode, RunResult, ScenarioResult } from '../model/index.js';
import type { ImplementationInfo } from './implementation-info.js';
import type { ConformanceProfile } from './profiles.js';

export interface RunStartEvent {
  readonly runId: string;
  /** Scenario × mesh-mode units about to run. */
  readonly scenarios: number;
  readonly cells: number;
}

export interface ScenarioStartEvent {
  readonly scenario: string;
  readonly meshMode: MeshMode;
  readonly cells: number;
}

/**
 * A reporter: a function of the final RunResult (`onRunEnd`) plus optional live hooks.
 * Hooks may be sync or async; a multiplexer contains whatever they throw.
 */
export interface Reporter {
  readonly name: string;
  onRunStart?(event: RunStartEvent): void | Promise<void>;
  onScenarioStart?(event: ScenarioStartEvent): void | Promise<void>;
  onCellResult?(cell: CellResult): void | Promise<void>;
  onScenarioEnd?(result: ScenarioResult): void | Promise<void>;
  /** Writes the final report; file reporters write into `outDir` (created if missing). */
  onRunEnd(result: RunResult, outDir: string): void | Promise<void>;
}

export interface ReporterOptions {
  /** Where console output goes; default process.stdout. */
  readonly stream?: NodeJS.WritableStream & { readonly isTTY?: boolean };
  /** Force colour and Unicode on or off; default: on only for a TTY without NO_COLOR. */
  readonly color?: boolean;
  /** Environment consulted for NO_COLOR; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Console prints one line per finished scenario; default false (the CLI has its own progress bar). */
  readonly progress?: boolean;
  /** Which truth tables the console prints at the end; default 'all'. */
  readonly tables?: 'all' | 'failing' | 'none';
  /** `--baseline`: an earlier run the HTML report compares this one with. */
  readonly baseline?: { readonly file: string; readonly result: RunResult };
  /** Conformance profiles for the conformance and HTML reports; default: the built-in scenarios/profiles.yaml. */
  readonly profiles?: readonly ConformanceProfile[];
  /** The implementation under test, named in the conformance report. */
  readonly implementation?: ImplementationInfo;
  /** A shell command that reproduces this run; default: one rebuilt from the RunResult's options. */
  readonly reproduce?: string;
}

export type ReporterFactory = (options?: ReporterOptions) => Reporter;
