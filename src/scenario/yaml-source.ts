import { open, stat } from 'node:fs/promises';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, visit } from 'yaml';
import type { Document, Node, YAMLError } from 'yaml';
import type { SourcePos } from '../model/index.js';
import { issueText } from './diagnostics.js';
import type { Diagnostic, Issue, PathSeg } from './diagnostics.js';

/**
 * Files above this are refused before parsing: no scenario or policy file is legitimately that big (500 workloads are
 * ~40 KB; a cluster's `kubectl get peerauthentication -A -o yaml` with managedFields ~2 KB per policy). The YAML
 * parser's document model costs ~140 bytes of memory per byte of input, so this also bounds memory (~600 MB).
 */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_FILE_TEXT = `${MAX_FILE_BYTES / (1024 * 1024)} MiB`;
/** Alias expansions allowed per document: enough for real anchors, far too few for a "billion laughs" bomb. */
export const MAX_ALIAS_COUNT = 100;

/** One YAML document of a file, able to name the file:line:column of any path inside it. */
export class YamlDoc {
  constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  /** Position of the node at `path` (its mapping key with `at: 'key'`); the deepest existing ancestor if absent. */
  pos(path: readonly PathSeg[], at: 'key' | 'value' = 'value'): SourcePos {
    let node: unknown = this.doc.contents;
    let found: unknown = node;
    for (const [i, seg] of path.entries()) {
      node = this.#deref(node);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => keyString(p.key) === String(seg));
        if (pair && at === 'key' && i === path.length - 1) return this.#posOf(pair.key);
        next = pair?.value ?? (pair ? pair.key : undefined);
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
      }
      if (next === undefined || next === null) break;
      node = found = next;
    }
    return this.#posOf(found);
  }

  /** The issue as a diagnostic of this file, its message prefixed with where in the document it is. */
  diagnostic(issue: Issue, base: readonly PathSeg[] = []): Diagnostic {
    const path = [...base, ...issue.path];
    return { file: this.file, pos: this.pos(path, issue.at), message: issueText(issue, base) };
  }

  /** Plain JS of the document, or a diagnostic when it expands too many aliases. */
  toJS(): { ok: true; value: unknown } | { ok: false; diagnostic: Diagnostic } {
    try {
      return { ok: true, value: this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
    } catch (err) {
      return {
        ok: false,
        diagnostic: {
          file: this.file,
          pos: this.#firstAliasPos(),
          message: `refusing to expand YAML aliases: ${(err as Error).message}; at most ${MAX_ALIAS_COUNT} alias expansions are allowed per document`,
        },
      };
    }
  }

  /** Top-level `kind` as a string, read even if the document has errors elsewhere. */
  get kind(): string | undefined {
    const contents = this.doc.contents;
    if (!isMap(contents)) return undefined;
    const kind = contents.get('kind');
    return typeof kind === 'string' ? kind : undefined;
  }

  /** No content at all (an empty file, a trailing `---`, a document holding only comments). */
  get empty(): boolean {
    const c = this.doc.contents;
    return c === null || (isScalar(c) && c.value === null && c.source === '');
  }

  #firstAliasPos(): SourcePos {
    let first: Node | undefined;
    visit(this.doc, {
      Alias(_key, node) {
        first = node;
        return visit.BREAK;
      },
    });
    return this.#posOf(first);
  }

  #deref(node: unknown): unknown {
    return isAlias(node) ? (node.resolve(this.doc) ?? node) : node;
  }

  #posOf(node: unknown): SourcePos {
    const offset = (node as Node | null)?.range?.[0] ?? this.doc.range[0];
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, column: col };
  }
}

function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/** A YAML file read and parsed, every document with positions; or why it could not be. */
export type YamlSource = { ok: true; file: string; docs: YamlDoc[]; diagnostics: Diagnostic[] } | { ok: false; file: string; diagnostics: Diagnostic[] };

/**
 * Read and parse a YAML file. `file` is kept exactly as given so messages show the user's own path.
 * `diagnostics` holds syntax errors (duplicate keys included); the documents are still returned so callers can
 * peek at `kind`.
 */
export async function readYamlSource(file: string, refPos?: SourcePos): Promise<YamlSource> {
  const fail = (message: string): YamlSource => ({
    ok: false,
    file,
    diagnostics: [refPos ? { file: refPos.file, pos: refPos, message: `referenced file ${file}: ${message}` } : { file, message }],
  });
  let text: string;
  try {
    // stat before open: opening a FIFO or device could block forever.
    const st = await stat(file);
    if (st.isDirectory()) return fail('is a directory, expected a YAML file');
    if (!st.isFile()) return fail('is not a regular file');
    const handle = await open(file, 'r');
    try {
      if (st.size > MAX_FILE_BYTES) {
        return fail(`file is too large (${st.size} bytes); files larger than ${MAX_FILE_TEXT} (${MAX_FILE_BYTES} bytes) are refused`);
      }
      const buf = await handle.readFile();
      if (buf.length > MAX_FILE_BYTES) return fail(`file is too large; files larger than ${MAX_FILE_TEXT} are refused`);
      text = buf.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail('no such file');
    if (code === 'EISDIR') return fail('is a directory, expected a YAML file');
    if (code === 'EACCES') return fail('permission denied');
    return fail(`cannot read file: ${(err as Error).message}`);
  }
  return parseYamlText(file, text);
}

/** Parse YAML text that came from `file`: every error and warning becomes a diagnostic with its position. */
function parseYamlText(file: string, text: string): YamlSource & { ok: true } {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const docs = Array.from(parsed, (d) => new YamlDoc(file, d, lineCounter));
  const diagnostics: Diagnostic[] = [];
  for (const d of parsed) {
    let tooDeep = false;
    for (const e of [...d.errors, ...d.warnings]) {
      // Nesting too deep is reported once per enclosing level: one message per document is enough.
      if (e.code === 'RESOURCE_EXHAUSTION' && /call stack/i.test(e.message)) {
        if (tooDeep) continue;
        tooDeep = true;
      }
      const { line, col } = lineCounter.linePos(e.pos[0]);
      diagnostics.push({ file, pos: { file, line, column: col }, message: yamlMessage(e, text) });
    }
  }
  return { ok: true, file, docs, diagnostics };
}

function yamlMessage(e: YAMLError, text: string): string {
  switch (e.code) {
    case 'DUPLICATE_KEY': {
      // The error spans only the key's first character; read the whole key token.
      const token = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s:,{}[\]]+)/.exec(text.slice(e.pos[0], e.pos[0] + 200));
      const key = token?.[1] ?? '';
      return `duplicate key${key ? ` ${JSON.stringify(key)}` : ''}: a key may appear only once in a mapping`;
    }
    case 'TAG_RESOLVE_FAILED':
      return `${e.message}; YAML tags are not allowed in scenario and policy files`;
    case 'RESOURCE_EXHAUSTION':
      // The parser reports both an alias bomb and nesting too deep for its recursion under this code.
      if (/call stack/i.test(e.message)) return 'nesting is too deep: YAML collections may not be nested this deeply in scenario and policy files';
      return `${e.message}; at most ${MAX_ALIAS_COUNT} alias expansions are allowed per document`;
    default:
      return `invalid YAML: ${e.message}`;
  }
}
