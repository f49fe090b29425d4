// Rule references of docs/spec.md: pure text functions, shared by the reporters, the HTML page script (bundled for
// the browser, so nothing here may import Node modules) and the docs test.

/** One rule of docs/spec.md: a `### R5.3 STRICT` heading and the text up to the next heading. */
export interface SpecRule {
  /** `R5.3` */
  readonly id: string;
  /** `STRICT` */
  readonly title: string;
  /** The rule's text as written (Markdown), without its heading. */
  readonly text: string;
  /** The heading's anchor as GitHub renders it: `r53-strict`. */
  readonly anchor: string;
}

/** A cited rule id (`R5.3`), or a section (`R3`) when written without a dot. */
export const RULE_REF = /\bR(\d+)(?:\.(\d+))?\b/g;
const RANGE = /\bR(\d+)\.(\d+)\s*[–-]\s*R?(\d+)\.(\d+)\b/g;

/** GitHub's heading slug: lower case, punctuation dropped, spaces to hyphens (duplicates get -1, -2, …). */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every heading anchor of a Markdown text, with GitHub's suffixes for repeated headings; fenced code is skipped. */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = headingAnchor(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The rules (`### R<n>.<m> Title`) and section numbers (`## <n>. Title`) of docs/spec.md. */
export function parseSpec(markdown: string): { rules: Map<string, SpecRule>; sections: Set<string> } {
  const rules = new Map<string, SpecRule>();
  const sections = new Set<string>();
  const lines = markdown.split('\n');
  let current: { id: string; title: string; anchor: string; body: string[] } | undefined;
  const close = () => {
    if (current) rules.set(current.id, { id: current.id, title: current.title, anchor: current.anchor, text: current.body.join('\n').trim() });
    current = undefined;
  };
  for (const line of lines) {
    const section = /^## (\d+)\. /.exec(line);
    const rule = /^### (R\d+\.\d+) (.+)$/.exec(line);
    if (section || rule || /^#{1,3} /.test(line)) close();
    if (section) sections.add(section[1]!);
    if (rule) current = { id: rule[1]!, title: rule[2]!.trim(), anchor: headingAnchor(`${rule[1]} ${rule[2]}`), body: [] };
    else if (current) current.body.push(line);
  }
  close();
  return { rules, sections };
}

/**
 * The rule ids a text cites, in order, each once. A range `R5.3–R5.7` cites every rule between (inside one section);
 * a bare section `R3` is not a rule and is left out.
 */
export function citedRuleIds(text: string): string[] {
  const ids: string[] = [];
  const add = (id: string) => {
    if (!ids.includes(id)) ids.push(id);
  };
  const expanded = text.replace(RANGE, (whole, s1: string, a: string, s2: string, b: string) => {
    if (s1 !== s2 || Number(b) < Number(a) || Number(b) - Number(a) > 20) return whole;
    return Array.from({ length: Number(b) - Number(a) + 1 }, (_, i) => `R${s1}.${Number(a) + i}`).join(' ');
  });
  for (const m of expanded.matchAll(RULE_REF)) if (m[2] !== undefined) add(`R${m[1]}.${m[2]}`);
  return ids;
}

/** A rule's Markdown as plain text for the report: no code ticks, emphasis or link targets; lines kept. */
export function plainRuleText(markdown: string): string {
  return markdown
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/(^|[\s(])\*([^*\s][^*]*)\*(?=[\s).,;:]|$)/gm, '$1$2')
    .trim();
}
