// Every rule reference (R5.3, a section R3), every "spec §N" and every link to a docs/ file or one of its anchors —
// in code, tests, scenarios, docs, and the rule strings the oracle puts into reports — resolves to a heading of
// docs/spec.md or of the named document.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CLIENT_KINDS } from '../../src/model/index.js';
import type { MeshMode, MtlsMode, PortProtocol } from '../../src/model/index.js';
import { loadScenarios } from '../../src/scenario/index.js';
import { expectations, outcomeFor, requiredOutcomes } from '../../src/oracle/index.js';
import { citedRuleIds, headingAnchor, headingAnchors, parseSpec, RULE_REF, specFile, specRules } from '../../src/report/spec-rules.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SPEC = readFileSync(join(ROOT, 'docs', 'spec.md'), 'utf8');
const { rules, sections } = parseSpec(SPEC);

/** Where references live: the repository's own files (not node_modules, reports or build output). */
const SCANNED_DIRS = ['src', 'harness', 'test', 'docs', 'scripts', 'scenarios', 'examples', 'bin', '.ci'];
const SCANNED_EXT = /\.(ts|mts|cts|mjs|cjs|js|md|ya?ml|json|sh)$|^run$/;

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(p).isDirectory()) return walk(p);
    return SCANNED_EXT.test(name) ? [p] : [];
  });
}

function scannedFiles(): string[] {
  const top = readdirSync(ROOT).filter((n) => /\.(md|js|mjs|ts)$/.test(n) && statSync(join(ROOT, n)).isFile());
  // Checkers' own tests hold deliberately broken references to prove the checks fail.
  const checkers = new Set([fileURLToPath(import.meta.url), join(ROOT, 'test', 'repo', 'self-contained.test.ts')]);
  return [...top.map((n) => join(ROOT, n)), ...SCANNED_DIRS.flatMap((d) => walk(join(ROOT, d)))].filter((f) => !checkers.has(f));
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** The problems with one text's rule references (`R5.3` must be a rule, `R3` a section). */
function ruleProblems(text: string, where: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(RULE_REF)) {
    const [whole, section, rule] = m;
    const ok = rule === undefined ? sections.has(section!) : rules.has(`R${section}.${rule}`);
    if (!ok) out.push(`${where}:${lineOf(text, m.index)}: ${whole} is not a ${rule === undefined ? 'section' : 'rule'} of docs/spec.md`);
  }
  return out;
}

/** Anchors of a Markdown file, cached. */
const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  const known = anchorCache.get(file);
  if (known) return known;
  const anchors = headingAnchors(readFileSync(file, 'utf8'));
  anchorCache.set(file, anchors);
  return anchors;
}

/** Section numbers of a Markdown file: headings `## 6. …` or `## §6 …`. */
function sectionsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/^#{1,6}\s+§?(\d+(?:\.\d+)*)[.\s]/gm)].map((m) => m[1]!));
}

/**
 * `§N` references. External standards (`RFC 8446 §6`, the SPIFFE ID spec) are not ours to check; `<file>.md §N`
 * must name a repository document that has section N; any other `§N` (`spec §6`, `§2–§4`) is a section of spec.md.
 */
function sectionProblems(text: string, where: string, file: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/((?:\S+\s+){0,2})§\s?(\d+)(?:\.\d+)*/g)) {
    const before = m[1]!.trim();
    const num = m[2]!;
    const at = `${where}:${lineOf(text, m.index)}`;
    if (/\bRFC\s*\d+$/i.test(before) || /\bSPIFFE( ID)? spec$/i.test(before)) continue;
    const doc = /([\w./-]+\.md)$/.exec(before)?.[1];
    if (doc) {
      const target = [resolve(dirname(file), doc), join(ROOT, doc), join(ROOT, 'docs', doc)].find((p) => existsSync(p));
      if (!target) out.push(`${at}: "${doc} §${num}" names a document that is not in the repository`);
      else if (!sectionsOf(target).has(num)) out.push(`${at}: ${relative(ROOT, target)} has no section ${num}`);
      continue;
    }
    if (/\bDESIGN$/.test(before)) {
      out.push(`${at}: "DESIGN §${num}" names a document that is not in the repository (see docs/architecture.md)`);
      continue;
    }
    if (!sections.has(num)) out.push(`${at}: §${num} is not a section of docs/spec.md`);
  }
  return out;
}

function checkAnchor(target: string, anchor: string | undefined, at: string, raw: string): string[] {
  if (!existsSync(target)) return [`${at}: ${raw} does not exist`];
  if (anchor && target.endsWith('.md') && !anchorsOf(target).has(anchor)) return [`${at}: ${raw}: no heading with anchor #${anchor}`];
  return [];
}

/** Markdown links to files of the repository (relative targets), and bare `docs/x.md#anchor` mentions anywhere. */
function linkProblems(text: string, where: string, file: string): string[] {
  const out: string[] = [];
  if (file.endsWith('.md')) {
    for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const raw = m[1]!;
      if (/^[a-z]+:/i.test(raw)) continue; // https:, mailto:
      const [path, anchor] = raw.split('#') as [string, string | undefined];
      const target = path === '' ? file : resolve(dirname(file), path);
      out.push(...checkAnchor(target, anchor, `${where}:${lineOf(text, m.index)}`, raw));
    }
  }
  for (const m of text.matchAll(/(?<![\w./-])docs\/([\w.-]+\.md)(?:#([\w-]+))?/g)) {
    out.push(...checkAnchor(join(ROOT, 'docs', m[1]!), m[2], `${where}:${lineOf(text, m.index)}`, m[0]));
  }
  return out;
}

describe('docs: every rule, section and docs/ reference resolves', function () {
  this.timeout(60_000);

  it('spec.md numbers its rules R<section>.<n> under numbered sections, each heading once', () => {
    const headings = [...SPEC.matchAll(/^### (R\d+\.\d+) /gm)].map((m) => m[1]!);
    expect(headings.length).to.be.at.least(35);
    expect(new Set(headings).size, 'duplicate rule headings').to.equal(headings.length);
    for (const id of headings) expect(sections.has(id.slice(1).split('.')[0]!), `${id} outside its section`).to.equal(true);
    for (const r of rules.values()) {
      expect(r.text.length, `${r.id} has no text`).to.be.greaterThan(40);
      expect(r.text, `${r.id} names no source in Istio`).to.match(/Source: |follows from R\d/);
    }
  });

  it('computes anchors the way GitHub does', () => {
    expect(headingAnchor('R5.3 STRICT')).to.equal('r53-strict');
    expect(headingAnchor('Required outcomes and `--claim`')).to.equal('required-outcomes-and---claim');
    expect(headingAnchor("Istio's metadata exchange")).to.equal('istios-metadata-exchange');
    expect([...headingAnchors('# A\n## A\n```\n# not a heading\n```\n')]).to.deep.equal(['a', 'a-1']);
    expect(rules.get('R5.3')?.anchor).to.equal('r53-strict');
  });

  it('finds the package spec from the module location, not the working directory', () => {
    expect(specFile()).to.equal(join(ROOT, 'docs', 'spec.md'));
    expect(specRules().get('R6.5')?.title).to.match(/PERMISSIVE/);
  });

  it('reads rule ranges and lists as every rule they cite', () => {
    expect(citedRuleIds('R5.3–R5.5 and R6.7; R5.2/R5.3, section R3')).to.deep.equal(['R5.3', 'R5.4', 'R5.5', 'R6.7', 'R5.2']);
  });

  it('the checker itself rejects what does not resolve', () => {
    expect(ruleProblems('see R5.99 and R42', 'x')).to.have.length(2);
    expect(sectionProblems('spec §77, DESIGN §2, NOPE.md §1, RFC 8446 §4', 'x', join(ROOT, 'x.ts'))).to.have.length(3);
    expect(linkProblems('[a](spec.md#no-such-anchor) docs/missing.md', 'x', join(ROOT, 'docs', 'x.md'))).to.have.length(2);
    expect(linkProblems('[a](spec.md#r53-strict) docs/outcomes.md', 'x', join(ROOT, 'docs', 'x.md'))).to.deep.equal([]);
  });

  it('in every file of the repository', () => {
    const files = scannedFiles();
    expect(files.length).to.be.greaterThan(200);
    const problems = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      const where = relative(ROOT, file);
      return [...ruleProblems(text, where), ...sectionProblems(text, where, file), ...linkProblems(text, where, file)];
    });
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('README stays short, keeps the two commands first and links every file in docs/', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length, 'README.md lines').to.be.at.most(150);
    expect(readme).to.match(/^# meshconform\n\n```\nnpm ci && npm start[^\n]*\nnpm test[^\n]*\n```/);
    const linked = new Set([...readme.matchAll(/\]\(docs\/([\w.-]+\.md)\)/g)].map((m) => m[1]!));
    const docs = readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md'));
    expect(
      docs.filter((d) => !linked.has(d)),
      'docs/ files the README does not link',
    ).to.deep.equal([]);
  });

  it('in every rule string the oracle can put into a report', async () => {
    const texts: string[] = [];
    const modes: MtlsMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE'];
    for (const meshMode of ['sidecar', 'ambient'] as MeshMode[])
      for (const mode of modes)
        for (const protocol of ['tcp', 'http'] as PortProtocol[])
          for (const client of CLIENT_KINDS) {
            const ref = outcomeFor(meshMode, mode, protocol, client);
            if (!ref) continue;
            texts.push(ref.rule, requiredOutcomes(meshMode, mode, protocol, client, ref).rule);
          }
    // The built-in suite adds the notes the resolvers attach (ambient DISABLE, R6.10's gap, selector: {}).
    const scenarios = await loadScenarios([join(ROOT, 'scenarios')]);
    for (const s of scenarios) for (const meshMode of ['sidecar', 'ambient'] as MeshMode[]) for (const e of expectations(s, meshMode)) texts.push(e.rule, e.requiredRule);
    expect(texts.length).to.be.greaterThan(100);
    const unresolved = [...new Set(texts)].flatMap((t) => {
      const cited = citedRuleIds(t);
      return cited.length === 0 ? [`cites no rule: ${t}`] : cited.filter((id) => !rules.has(id)).map((id) => `${id} in: ${t}`);
    });
    expect(unresolved, unresolved.join('\n')).to.deep.equal([]);
  });
});
