// Hostile and malformed input: the scenario loader and the CLI flags are fuzzed (fast-check, bounded). Whatever the
// input, the result is a loaded scenario or a ScenarioError/UsageError (exit 2): never another exception, a hang or
// runaway memory, and no raw control character reaches the terminal.
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadScenarios, MAX_FILE_BYTES } from '../../src/scenario/index.js';
import { ScenarioError, UsageError } from '../../src/util/errors.js';
import { MAX_SEED } from '../../src/util/seeded-random.js';
import { cli, inProcess } from './support/cli.js';
import { documentFromSeed, scratchDir } from './support/generated.js';
import '../support/fuzz-seed.js';

/** Per-case deadline: a case that takes longer is a hang. */
const CASE_MS = 15_000;
const RUNS = 150;
/** What may reach a terminal: no C0 control besides tab and newline, no DEL, no C1 (escape sequences, NUL, bell). */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

async function withDeadline<T>(what: string, p: Promise<T>, ms = CASE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Loads `file`: a scenario, or a ScenarioError/UsageError whose text is safe to print. Anything else fails the test. */
async function loadOutcome(file: string): Promise<'loaded' | 'rejected'> {
  try {
    await withDeadline(`loading ${file}`, loadScenarios([file]));
    return 'loaded';
  } catch (err) {
    if (!(err instanceof ScenarioError || err instanceof UsageError)) throw err;
    expect(err.message).not.to.match(RAW_CONTROL);
    expect(err.message.split('\n').length, 'a flood of messages').to.be.at.most(52);
    return 'rejected';
  }
}

/** Values to put where the schema wants something else: wrong types, ports as strings, unicode, controls, path tricks. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '8080',
    ' 8080',
    '0x1F90',
    '8080.0',
    '-1',
    '0',
    '65536',
    '1e3',
    'NaN',
    'Infinity',
    '',
    ' ',
    '*',
    'STRICT ',
    'strict',
    '../../etc/passwd',
    '/dev/zero',
    'a/b',
    '\u0000',
    '\u001b[2J\u001b[31mred',
    '\u0007bell',
    'line\nbreak',
    'cr\rreturn',
    'ñame',
    '名前',
    'emoji-🙂',
    '\u202eevil',
    '\ud800',
    'x'.repeat(300),
    'UNSET',
    'PERMISSIVE',
    'DISABLE',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.string({ maxLength: 8 })), { maxLength: 4 }),
  fc.dictionary(fc.string({ unit: 'binary', maxLength: 10 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 3 }),
);

/** Every path (list of keys/indices) inside a JSON value. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function setAt(root: unknown, path: readonly (string | number)[], value: unknown, renameKey: boolean): unknown {
  if (path.length === 0) return value;
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], root) as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (renameKey && !Array.isArray(parent) && typeof value === 'string') {
    parent[value] = parent[last];
    if (value !== last) delete parent[last];
  } else {
    parent[last] = value;
  }
  return root;
}

describe('trust: hostile input to the scenario loader', function () {
  this.timeout(300_000);
  const scratch = scratchDir('mc-trust-hostile-');
  after(() => scratch.remove());
  let n = 0;
  const write = (content: string | Uint8Array, name = `case-${n++}.yaml`): string => {
    const dir = join(scratch.dir, String(n++));
    mkdirSync(dir);
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };
  const seeds = fc.integer({ min: 0, max: MAX_SEED });

  it('truncated YAML (any prefix of a valid scenario)', async function () {
    await fc.assert(
      fc.asyncProperty(seeds, fc.double({ min: 0, max: 1, noNaN: true }), async (seed, cut) => {
        const text = Buffer.from(stringify(documentFromSeed(seed)));
        await loadOutcome(write(text.subarray(0, Math.floor(text.length * cut)), 'prop.yaml'));
      }),
      { numRuns: RUNS },
    );
  });

  it('wrong types, strings for ports, unicode and control characters anywhere (values and keys)', async function () {
    await fc.assert(
      fc.asyncProperty(seeds, fc.nat(), hostileValue, fc.boolean(), async (seed, pick, value, renameKey) => {
        const doc = structuredClone(documentFromSeed(seed)) as unknown;
        const all = paths(doc);
        const path = all[pick % all.length]!;
        const file = write(stringify(setAt(doc, path, value, renameKey)), 'prop.yaml');
        await loadOutcome(file);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('hostile names: workload, namespace, label and policy names full of unicode and control characters are refused', async function () {
    await fc.assert(
      fc.asyncProperty(
        seeds,
        fc
          .tuple(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('\u0000', '\u001b[2J', '\u0007', '\u202e', 'é', '名', '🙂', ' ', '*', '/', '\n'))
          .map(([s, bad]) => ({ name: `${s}${bad}x`, bad })),
        fc.nat(4),
        async (seed, { name, bad }, where) => {
          // A "/" is legal in a label key (prefix/name, as in app.kubernetes.io/name): not hostile there.
          if (where === 2 && bad === '/') return;
          const doc = structuredClone(documentFromSeed(seed));
          const w = doc.spec.workloads[0]!;
          if (where === 0) w.name = name;
          else if (where === 1) w.namespace = name;
          else if (where === 2) w.labels = { [name]: 'x' };
          else if (where === 3) (doc.metadata.labels as Record<string, string>)['feature'] = `${name}-`;
          else doc.spec.policies.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace: 'foo' }, spec: {} });
          expect(await loadOutcome(write(stringify(doc), 'prop.yaml'))).to.equal('rejected');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('duplicate keys anywhere are refused', async function () {
    await fc.assert(
      fc.asyncProperty(seeds, fc.nat(), async (seed, pick) => {
        const lines = stringify(documentFromSeed(seed)).split('\n');
        const keyLines = lines.map((l, i) => ({ l, i })).filter(({ l }) => /^\s*[A-Za-z"][^:]*:\s*\S/.test(l) && !/^\s*- /.test(l));
        fc.pre(keyLines.length > 0);
        const { l, i } = keyLines[pick % keyLines.length]!;
        lines.splice(i + 1, 0, l.replace(/:\s.*$/, ': 1'));
        expect(await loadOutcome(write(lines.join('\n'), 'prop.yaml'))).to.equal('rejected');
      }),
      { numRuns: RUNS },
    );
  });

  it('random bytes', async function () {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), async (bytes) => {
        await loadOutcome(write(bytes, 'prop.yaml'));
      }),
      { numRuns: RUNS },
    );
  });

  it('alias bombs of any shape are refused without expanding them', async function () {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), fc.constantFrom('description', 'workloads', 'policies'), async (depth, fan, where) => {
        const rows = ['a0: &a0 ["lol"]'];
        for (let d = 1; d <= depth; d++) rows.push(`a${d}: &a${d} [${Array.from({ length: fan }, () => `*a${d - 1}`).join(', ')}]`);
        const text = `apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nx-anchors:\n${rows.map((r) => `  ${r}`).join('\n')}\nspec:\n  ${where}: *a${depth}\n  workloads: [{ name: a, ports: [8080] }]\n`;
        const before = process.memoryUsage().heapUsed;
        expect(await loadOutcome(write(text, 'prop.yaml'))).to.equal('rejected');
        expect(process.memoryUsage().heapUsed - before, 'heap growth').to.be.below(256 * 1024 * 1024);
      }),
      { numRuns: 60 },
    );
  });

  it('deep nesting (flow and block, up to 50 000 levels) is refused, never a stack overflow', async function () {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 50, max: 50_000 }), fc.constantFrom('seq', 'map', 'block'), async (depth, shape) => {
        const head = 'apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nspec:\n  workloads: [{ name: a, ports: [8080] }]\n';
        const body =
          shape === 'seq'
            ? `  description: ${'['.repeat(depth)}${']'.repeat(depth)}\n`
            : shape === 'map'
              ? `  description: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n`
              : `  description:\n${Array.from({ length: Math.min(depth, 3000) }, (_, i) => `${' '.repeat(4 + i)}a:`).join('\n')}\n`;
        expect(await loadOutcome(write(head + body, 'prop.yaml'))).to.equal('rejected');
      }),
      { numRuns: 12 },
    );
  });

  it('a file over the size limit is refused before it is read; one just under it loads in bounded time', async function () {
    const over = write(`# ${'x'.repeat(MAX_FILE_BYTES)}\n`, 'over.yaml');
    const t0 = Date.now();
    expect(await loadOutcome(over)).to.equal('rejected');
    expect(Date.now() - t0).to.be.below(CASE_MS);
    const rows = ['apiVersion: meshconform.dev/v1alpha1', 'kind: Scenario', 'spec:', '  workloads:'];
    let size = 0;
    for (let i = 0; size < MAX_FILE_BYTES - 200; i++) {
      const row = `    - { name: w${i}, namespace: foo, labels: { app: a }, ports: [8080] }`;
      rows.push(row);
      size += row.length + 1 + (i === 0 ? 60 : 0);
    }
    const under = write(`${rows.join('\n')}\n`.slice(0, MAX_FILE_BYTES), 'under.yaml');
    await withDeadline('loading a file just under the limit', loadOutcome(under), 60_000);
    expect(process.memoryUsage().rss, 'resident memory').to.be.below(1.5 * 1024 ** 3);
    // The next test validates this folder as a whole: it need not parse the big files again.
    rmSync(over);
    rmSync(under);
  });

  it('a FIFO, a directory or a device named as a scenario is refused without blocking', async function () {
    const { execFileSync } = await import('node:child_process');
    const fifo = join(scratch.dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    for (const file of [fifo, scratch.dir + '/', '/dev/zero', '/dev/null']) {
      // A hang detector, not a timing check: the folder holds every earlier test's files, slow on a loaded machine.
      const r = await inProcess(['validate', file], 4 * CASE_MS);
      expect(r.code, file).to.equal(2);
      expect(r.err, file).not.to.match(/internal error/);
    }
  });

  it('through main(): hostile files are exit 2 with a clean one-paragraph message, never an internal error', async function () {
    await fc.assert(
      fc.asyncProperty(seeds, fc.nat(), hostileValue, async (seed, pick, value) => {
        const doc = structuredClone(documentFromSeed(seed)) as unknown;
        const all = paths(doc);
        const file = write(stringify(setAt(doc, all[pick % all.length]!, value, false)), 'prop.yaml');
        const r = await inProcess(['validate', file], CASE_MS);
        expect(r.code).to.be.oneOf([0, 2]);
        expect(r.err).not.to.match(/internal error|\n\s+at /);
        expect(r.err.replace(/\n/g, '')).not.to.match(RAW_CONTROL);
      }),
      { numRuns: 80 },
    );
  });
});

describe('trust: names from input never become paths', function () {
  const scratch = scratchDir('mc-trust-paths-');
  after(() => scratch.remove());

  it('scenario, workload, namespace and policy names with path syntax are refused at load time', async function () {
    const doc = (mutate: (d: ReturnType<typeof documentFromSeed>) => void) => {
      const d = structuredClone(documentFromSeed(3));
      mutate(d);
      return d;
    };
    const cases = [
      doc((d) => (d.metadata.name = '../../evil')),
      doc((d) => (d.spec.workloads[0]!.name = '../x')),
      doc((d) => (d.spec.workloads[0]!.namespace = 'a/b')),
      doc((d) => d.spec.policies.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: '../../etc/passwd', namespace: 'foo' }, spec: {} })),
    ];
    for (const [i, d] of cases.entries()) {
      const dir = join(scratch.dir, String(i));
      mkdirSync(dir);
      writeFileSync(join(dir, 'evil.yaml'), stringify(d));
      const err = await loadScenarios([join(dir, 'evil.yaml')]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `case ${i}`).to.be.instanceOf(ScenarioError);
    }
  });

  it('the private folder for keys and configs refuses any name that is not a plain file name', async function () {
    const { createPrivateDir } = await import('../../src/util/private-dir.js');
    const dir = await createPrivateDir('mc-trust-private-');
    try {
      for (const name of ['../x', 'a/b', '.hidden', '/etc/passwd']) {
        const err = await dir.write(name, 'x').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, name).to.be.instanceOf(Error);
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('trust: hostile command lines', function () {
  this.timeout(300_000);
  const scratch = scratchDir('mc-trust-flags-');
  let cwd = '';
  // Relative names then resolve inside an empty folder: no fuzzed argv can reach a real suite and start a run.
  before(() => {
    cwd = process.cwd();
    process.chdir(scratch.dir);
  });
  after(() => {
    process.chdir(cwd);
    scratch.remove();
  });

  const MISSING = 'no-such-suite-dir';
  const token = fc
    .oneof(
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom(
        '',
        '-',
        '--',
        '-1',
        '0',
        '1',
        '3',
        '1e9',
        '99999999999999999999',
        'NaN',
        '0x10',
        ' 5',
        '5 ',
        'reference',
        'haproxy',
        'exec:',
        'exec: ',
        'local',
        'docker',
        'console,json',
        'nope',
        '127.300',
        '127.100',
        '10.0',
        '\u0000',
        '\u001b[2J',
        '🙂',
      ),
    )
    .filter((s) => !s.includes('/') && s !== '.' && s !== '..' && !s.startsWith('~'));
  const FLAGS: Record<string, string[]> = {
    run: [
      '--backend',
      '--data-plane',
      '--workloads-per-process',
      '--reporter',
      '--out',
      '--grep',
      '--retries',
      '--concurrency',
      '--timeout',
      '--ready-timeout',
      '--parallel',
      '--image',
      '--local-subnet',
      '--defect',
      '--baseline',
      '--profiles',
      '--impl-options',
      '--impl-name',
      '--impl-version',
      '--impl-contact',
    ],
    mutate: [
      '--defect',
      '--json',
      '--out',
      '--grep',
      '--parallel-defects',
      '--parallel',
      '--workloads-per-process',
      '--retries',
      '--concurrency',
      '--timeout',
      '--ready-timeout',
      '--local-subnet',
      '--fail-fast',
    ],
    validate: [],
    explain: ['--json'],
    compare: ['--json'],
    generate: ['--seed', '--count'],
  };
  const argvFor = (command: string) =>
    fc
      .array(
        fc.oneof(
          fc.tuple(fc.constantFrom(...FLAGS[command]!, '--bogus-flag', '-x'), token).map(([f, v]) => [f, v]),
          token.map((t) => [t]),
        ),
        { maxLength: 6 },
      )
      .map((parts) => {
        const argv = [command, ...parts.flat()];
        // Never a valid suite: a missing path for the commands that load scenarios, a count no generator accepts.
        if (command === 'generate') return [...argv, '--count', '0'];
        if (command === 'compare') return [...argv, MISSING, MISSING];
        return [...argv, MISSING];
      });

  for (const command of Object.keys(FLAGS)) {
    it(`meshconform ${command} with random flags and values: exit 0 (help/list) or 2, never an internal error or a hang`, async function () {
      await fc.assert(
        fc.asyncProperty(argvFor(command), async (argv) => {
          const r = await inProcess(argv, CASE_MS);
          expect(r.code, JSON.stringify(argv)).to.be.oneOf([0, 2]);
          expect(r.err, JSON.stringify(argv)).not.to.match(/internal error|\n\s+at /);
          if (r.code === 2) expect(r.err, JSON.stringify(argv)).to.match(/\S/);
        }),
        { numRuns: command === 'mutate' ? 40 : 100 },
      );
    });
  }

  it('random top-level argv (unknown commands, flags before commands) is a usage error', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(token, { minLength: 1, maxLength: 5 }), async (argv) => {
        fc.pre(!['run', 'mutate', 'validate', 'explain', 'compare', 'generate', 'reap', 'help'].includes(argv[0]!));
        const r = await inProcess(argv, CASE_MS);
        expect(r.code).to.be.oneOf([0, 2]);
        expect(r.err).not.to.match(/internal error|\n\s+at /);
      }),
      { numRuns: 100 },
    );
  });
});

describe('trust: hostile input through the real process', function () {
  this.timeout(120_000);
  const scratch = scratchDir('mc-trust-real-');
  after(() => scratch.remove());

  const cases: [string, string][] = [
    [
      'alias bomb',
      `apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nx: &a ["x","x","x","x","x","x","x","x","x","x"]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nz: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nspec:\n  description: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  workloads: [{ name: a, ports: [8080] }]\n`,
    ],
    ['deep nesting', `apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nspec:\n  workloads: ${'['.repeat(30000)}${']'.repeat(30000)}\n`],
    [
      'control characters',
      `apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nmetadata: { labels: { feature: "\\e[2J\\e[31mred" } }\nspec:\n  description: "\\0\\a"\n  workloads: [{ name: "\\e]0;owned\\a", ports: ["8080"] }]\n`,
    ],
    ['truncated', `apiVersion: meshconform.dev/v1alpha1\nkind: Scenario\nspec:\n  workloads: [{ name: a, ports: [80`],
  ];
  for (const [what, text] of cases) {
    it(`${what}: exit 2, one clean message, no stack trace`, async function () {
      const file = join(scratch.dir, `${what.replace(/ /g, '-')}.yaml`);
      writeFileSync(file, text);
      const r = await cli(['run', file, '--out', '$OUT'], { timeoutMs: 60_000 });
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.contain(file);
      expect(r.stderr).not.to.match(/internal error|\n\s+at /);
      expect(r.stderr.replace(/\n/g, '')).not.to.match(RAW_CONTROL);
    });
  }

  it('garbage flags: exit 2 with a usage message', async function () {
    for (const args of [
      ['run', '--retries', '1e999'],
      ['run', '--timeout', ''],
      ['run', '--defect'],
      ['mutate', '--parallel-defects', '-3'],
      ['generate', '--seed', '🙂'],
      ['--definitely-not-a-flag'],
    ]) {
      const r = await cli(args, { timeoutMs: 60_000 });
      expect(r.exitCode, args.join(' ')).to.equal(2);
      expect(r.stderr, args.join(' '))
        .to.match(/\S/)
        .and.not.to.match(/internal error|\n\s+at /);
    }
  });
});
