import type { SourcePos } from '../model/index.js';
import { ScenarioError, formatPos } from '../util/errors.js';
import { escapeControls } from '../util/terminal-text.js';

/** A step into a parsed value: a mapping key or a sequence index. */
export type PathSeg = string | number;

/** A problem found in one parsed value, located by path; `at: 'key'` points at the mapping key of the last segment. */
export interface Issue {
  readonly path: readonly PathSeg[];
  readonly at: 'key' | 'value';
  readonly message: string;
}

/** A problem located in a file; `pos` is absent only when the file itself could not be read. */
export interface Diagnostic {
  readonly file: string;
  readonly pos?: SourcePos;
  readonly message: string;
}

/** `spec.workloads[0].labels["app.kubernetes.io/name"]`: how messages name a place inside a document. */
export function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[\w-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Problems listed in one error; the rest are counted. */
export const MAX_LISTED = 50;

/** Collects every problem of every file, so the user sees them all at once in one ScenarioError. */
export class Diagnostics {
  readonly #items: Diagnostic[] = [];

  add(d: Diagnostic): void {
    this.#items.push(d);
  }

  get count(): number {
    return this.#items.length;
  }

  /** Lines sorted by file (in order of first report), then line and column; identical lines once. */
  lines(): string[] {
    const fileOrder = new Map<string, number>();
    for (const d of this.#items) if (!fileOrder.has(d.file)) fileOrder.set(d.file, fileOrder.size);
    const sorted = [...this.#items].sort(
      (a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.column ?? 0) - (b.pos?.column ?? 0),
    );
    return [...new Set(sorted.map(formatDiagnostic))];
  }

  /** One ScenarioError listing the problems one per line (at most MAX_LISTED, then a count); its `pos` is the first problem's. */
  toError(): ScenarioError {
    const all = this.lines();
    // Hostile input (a 100 000-item list of wrong types, nesting errors on every level) must not flood the terminal.
    const sorted = all.length > MAX_LISTED ? [...all.slice(0, MAX_LISTED), `… and ${all.length - MAX_LISTED} more problem(s)`] : all;
    const first = this.#items.find((d) => formatDiagnostic(d) === sorted[0]);
    if (first?.pos) {
      // ScenarioError prefixes the first line with its pos itself.
      const rest = sorted.slice(1);
      return new ScenarioError([escapeControls(first.message), ...rest].join('\n'), { ...first.pos, file: escapeControls(first.pos.file) });
    }
    return new ScenarioError(sorted.join('\n'));
  }
}

/** Issue text prefixed with where it is: the path, or for a key issue the mapping that holds the key. */
export function issueText(issue: Issue, base: readonly PathSeg[] = []): string {
  const full = [...base, ...issue.path];
  const where = formatPath(issue.at === 'key' ? full.slice(0, -1) : full);
  return where ? `${where}: ${issue.message}` : issue.message;
}

/**
 * One line per problem, safe on a terminal: control characters from the input (the YAML parser quotes source text,
 * a file name may hold an escape sequence) are shown as \uXXXX, never sent raw.
 */
export function formatDiagnostic(d: Diagnostic): string {
  return escapeControls(d.pos ? `${formatPos(d.pos)}: ${d.message}` : `${d.file}: ${d.message}`);
}
