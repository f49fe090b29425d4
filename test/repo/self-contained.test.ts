// The repository stands alone: no file names a path on the machine it was written on, and every repository path a
// file mentions (in code, tests, comments or docs) exists.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Tracked and new (not ignored) files: what a fresh clone would hold once committed. */
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((f) => f !== '' && f !== 'package-lock.json' && existsSync(join(root, f)) && /\.(ts|mts|cts|js|mjs|cjs|md|ya?ml|json|sh|txt|css)$|^\.ci\/|^\.[a-z]+rc/.test(f));
}

// Built from pieces so that this file does not match itself.
const SLASH = '/';
const MACHINE_PATHS: readonly [RegExp, string][] = [
  [new RegExp(`${SLASH}work${SLASH}`), 'a path of the machine this was developed on'],
  [new RegExp(`(^|[\\s'"\`(=])${SLASH}root${SLASH}`), "root's home folder"],
  [new RegExp(`(^|[\\s'"\`(=])${SLASH}home${SLASH}[a-z]`), 'a home folder'],
  [new RegExp(`\\.\\.${SLASH}shared\\b`), 'a folder beside the repository'],
  [new RegExp(`${SLASH}tmp${SLASH}[\\w.-]+\\.md\\b`), 'a document in a temporary folder'],
];

/** The machine-path problems of one text. */
function machinePathProblems(text: string, where: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const [re, what] of MACHINE_PATHS) if (re.test(line)) out.push(`${where}:${i + 1}: ${what}: ${line.trim().slice(0, 160)}`);
  });
  return out;
}

// A repository path: a top-level folder of this repository, then a file name with an extension.
const REPO_PATH = /(?<![\w./-])((?:src|test|harness|scripts|docs|schemas|scenarios|examples|bin|\.ci)\/[\w./-]*\w\.(?:ts|mjs|cjs|js|md|json|ya?ml|sh|css))(?![\w/-])/g;

/** Repository paths mentioned in `text` that do not exist. */
function missingPathProblems(text: string, where: string, exists: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(REPO_PATH)) {
    const p = m[1]!;
    if (p.includes('*') || exists(p)) continue;
    out.push(`${where}:${text.slice(0, m.index).split('\n').length}: ${p} does not exist in the repository`);
  }
  return out;
}

// Names that are not meant as files of this repository: the reference checker's own broken examples, scenario file
// names inside sample report data, and a fixture path joined onto test/fixtures/.
const NOT_REPO_FILES = new Set<string>([
  'docs/x.md',
  'docs/missing.md',
  'scenarios/core/strict-basic.yaml',
  'scenarios/ambient/ambient-basic.yaml',
  'scenarios/strict-one-port.yaml',
]);

describe('the repository is self-contained', () => {
  const files = repoFiles();
  const self = 'test/repo/self-contained.test.ts';

  it('names no path on a developer machine (/work, /root, /home, ../shared, a document in /tmp)', () => {
    const problems = files.filter((f) => f !== self).flatMap((f) => machinePathProblems(readFileSync(join(root, f), 'utf8'), f));
    expect(problems).to.deep.equal([]);
  });

  it('every repository path a file mentions exists', () => {
    const exists = (p: string) => NOT_REPO_FILES.has(p) || existsSync(join(root, p)) || existsSync(join(root, p.replace(/\.js$/, '.ts')));
    const problems = files.filter((f) => f !== self).flatMap((f) => missingPathProblems(readFileSync(join(root, f), 'utf8'), f, exists));
    expect(problems).to.deep.equal([]);
  });

  it('the checks find what they look for', () => {
    expect(machinePathProblems(`see ${SLASH}work${SLASH}shared/spec.md`, 'x')).to.have.length(1);
    expect(machinePathProblems(`read ..${SLASH}shared/ENVIRONMENT.md`, 'x')).to.have.length(1);
    expect(machinePathProblems(`the ${SLASH}tmp${SLASH}outcomes.md table`, 'x')).to.have.length(1);
    expect(machinePathProblems("mkdtempSync(join(tmpdir(), 'mc-'))", 'x')).to.deep.equal([]);
    const none = () => false;
    expect(missingPathProblems('see docs/nowhere.md and src/cli/main.ts', 'x', (p) => p === 'src/cli/main.ts')).to.have.length(1);
    expect(missingPathProblems('a URL https://example.org/docs/a.md is not ours', 'x', none)).to.deep.equal([]);
  });
});
