import type { SourcePos } from '../model/index.js';
import { ScenarioError, formatPos } from '../util/errors.js';

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
      (a, b) =>
        (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) ||
        (a.pos?.line ?? 0) - (b.pos?.line ?? 0) ||
        (a.pos?.column ?? 0) - (b.pos?.column ?? 0),
    );
    return [...new Set(sorted.map(formatDiagnostic))];
  }

  /** One ScenarioError listing every problem on its own line; its `pos` is the first problem's. */
  toError(): ScenarioError {
    const sorted = this.lines();
    const first = this.#items.find((d) => formatDiagnostic(d) === sorted[0]);
    if (first?.pos) {
      // ScenarioError prefixes the first line with its pos itself.
      const rest = sorted.slice(1);
      return new ScenarioError([first.message, ...rest].join('\n'), first.pos);
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

export function formatDiagnostic(d: Diagnostic): string {
  return d.pos ? `${formatPos(d.pos)}: ${d.message}` : `${d.file}: ${d.message}`;
}
