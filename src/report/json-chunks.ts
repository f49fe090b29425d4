/** Containers of at most this many nested entries are written by one JSON.stringify call (a report's cell is ~60). */
const WHOLE_ENTRIES = 512;

type Container = Record<string, unknown> | unknown[];

const NEWLINES = /\n/g;

/**
 * `JSON.stringify(value, null, gap)` as a sequence of pieces whose concatenation is exactly that text: a report of
 * hundreds of MB is written piece by piece and never held as one string. Large arrays and objects are walked here,
 * small ones (a cell, a policy) are stringified whole. Meant for plain data such as a RunResult: getters may run twice.
 */
export function* jsonChunks(value: unknown, gap: '' | '  ' = '  '): Generator<string, void, undefined> {
  const v = resolve(value, '');
  if (isContainer(v)) yield* containerChunks(v, '', gap, []);
  else {
    const text = JSON.stringify(v);
    if (text !== undefined) yield text;
  }
}

function* containerChunks(v: Container, indent: string, gap: string, stack: Container[]): Generator<string, void, undefined> {
  if (stack.includes(v)) throw new TypeError('Converting circular structure to JSON');
  if (typeof (v as { toJSON?: unknown }).toJSON !== 'function' && fewEntries(v)) {
    const text = JSON.stringify(v, null, gap);
    // JSON text holds no raw line breaks but between tokens, so this only re-indents (a regular expression, which
    // builds one flat string, where replaceAll would leave a rope that is slow to write).
    yield gap !== '' && indent !== '' ? text.replace(NEWLINES, `\n${indent}`) : text;
    return;
  }
  stack.push(v);
  if (Array.isArray(v)) yield* arrayChunks(v, indent, gap, stack);
  else yield* objectChunks(v, indent, gap, stack);
  stack.pop();
}

function* arrayChunks(a: unknown[], indent: string, gap: string, stack: Container[]): Generator<string, void, undefined> {
  const length = a.length;
  if (length === 0) {
    yield '[]';
    return;
  }
  const inner = indent + gap;
  const open = gap === '' ? '[' : `[\n${inner}`;
  const separator = gap === '' ? ',' : `,\n${inner}`;
  for (let i = 0; i < length; i++) {
    const v = resolve(a[i], String(i));
    yield i === 0 ? open : separator;
    if (isContainer(v)) yield* containerChunks(v, inner, gap, stack);
    else yield JSON.stringify(v) ?? 'null';
  }
  yield gap === '' ? ']' : `\n${indent}]`;
}

function* objectChunks(o: Record<string, unknown>, indent: string, gap: string, stack: Container[]): Generator<string, void, undefined> {
  const inner = indent + gap;
  const colon = gap === '' ? ':' : ': ';
  let first = true;
  for (const key of Object.keys(o)) {
    const v = resolve(o[key], key);
    const text = isContainer(v) ? undefined : JSON.stringify(v);
    // What JSON.stringify leaves out of an object: undefined, functions, symbols.
    if (!isContainer(v) && text === undefined) continue;
    yield `${first ? (gap === '' ? '{' : `{\n${inner}`) : gap === '' ? ',' : `,\n${inner}`}${JSON.stringify(key)}${colon}`;
    first = false;
    if (text !== undefined) yield text;
    else yield* containerChunks(v as Container, inner, gap, stack);
  }
  yield first ? '{}' : gap === '' ? '}' : `\n${indent}}`;
}

/** A value's `toJSON(key)`, as JSON.stringify calls it. */
function resolve(v: unknown, key: string): unknown {
  if ((typeof v === 'object' && v !== null) || typeof v === 'bigint') {
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toJSON.call(v, key);
  }
  return v;
}

/** An array or object JSON.stringify walks (boxed primitives it writes as their value). */
function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null && !(v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt);
}

/** Whether `v` holds at most WHOLE_ENTRIES entries in all, nested ones included (stops counting past it, so cycles end). */
function fewEntries(v: Container): boolean {
  let left = WHOLE_ENTRIES;
  const todo: unknown[] = [v];
  while (todo.length > 0) {
    const c = todo.pop() as Container;
    const values = Array.isArray(c) ? c : Object.values(c);
    left -= values.length;
    if (left < 0) return false;
    for (const x of values) if (typeof x === 'object' && x !== null) todo.push(x);
  }
  return true;
}
