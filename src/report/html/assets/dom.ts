// DOM helpers of the page script. Every string reaches the page as a text node or through setAttribute, never
// through HTML parsing.

export type Kid = Node | string | number | boolean | null | undefined | readonly Kid[];
export type Attrs = Readonly<Record<string, unknown>> | null;

/** Builds an element; strings in `kids` become text nodes, attribute values go through setAttribute. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...kids: Kid[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = String(v);
      else if (k === 'onclick') e.addEventListener('click', v as EventListener);
      else if (k === 'onchange') e.addEventListener('change', v as EventListener);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const kid of kids) append(e, kid);
  return e;
}

export function append(e: Element, kid: Kid): void {
  if (kid === undefined || kid === null || kid === false) return;
  if (Array.isArray(kid)) for (const k of kid as readonly Kid[]) append(e, k);
  else e.append(kid instanceof Node ? kid : String(kid));
}

export type KvRow = readonly [string, unknown, string?];

export function kv(rows: readonly (KvRow | null | undefined)[]): HTMLDListElement {
  const dl = h('dl', { class: 'kv' });
  for (const r of rows) {
    if (!r || r[1] === undefined || r[1] === null || r[1] === '') continue;
    dl.append(h('dt', null, r[0]), h('dd', r[2] ? { 'data-field': r[2] } : null, r[1] instanceof Node ? r[1] : String(r[1])));
  }
  return dl;
}

// Control characters, and the bidirectional overrides that can make text read other than it is, shown as \uXXXX.
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text a data plane wrote, as the page shows it: tab and newline kept, every other control character visible. */
export function shown(text: string): string {
  return text.replace(HIDDEN, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
