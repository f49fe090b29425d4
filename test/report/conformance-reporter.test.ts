import { expect } from 'chai';
import { execa } from 'execa';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { CellResult, RunResult, ScenarioResult } from '../../src/model/index.js';
import {
  CONFORMANCE_REPORT_FILE,
  buildConformanceReport,
  defaultProfiles,
  loadProfiles,
  parseProfiles,
  profileResults,
  renderConformanceYaml,
  reproduceFromResult,
  ReportInputError,
  suiteDigest,
  validateConformanceReport,
  type ConformanceReport,
} from '../../src/report/index.js';
import { loadScenarios } from '../../src/scenario/index.js';
import { hostileRun, strictRow } from './html-fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');

function withScenarios(run: RunResult, scenarios: ScenarioResult[]): RunResult {
  return { ...run, scenarios };
}

describe('conformance profiles (scenarios/profiles.yaml)', () => {
  it('defines core, port-level, precedence, ambient and chaos over the existing features', async () => {
    const profiles = await loadProfiles();
    expect(profiles.map((p) => p.name)).to.deep.equal(['core', 'port-level', 'precedence', 'ambient', 'chaos']);
    const scenarios = await loadScenarios([join(root, 'scenarios')]);
    const features = new Set(scenarios.map((s) => s.feature));
    expect([...features].sort()).to.deep.equal(['ambient', 'chaos', 'core', 'port-level', 'precedence', 'protocols', 'selectors']);
    // Every built-in feature is claimed by a profile.
    for (const f of features)
      expect(
        profiles.some((p) => p.features?.includes(f)),
        f,
      ).to.equal(true);
  });

  it('is skipped by the scenario loader when it walks scenarios/', async () => {
    const scenarios = await loadScenarios([join(root, 'scenarios')]);
    expect(scenarios.map((s) => s.file).filter((f) => f.endsWith('profiles.yaml'))).to.deep.equal([]);
    expect(scenarios.length).to.be.greaterThan(30);
  });

  it('rejects a malformed profiles file naming it', () => {
    const bad = (text: string) => () => parseProfiles(text, 'my-profiles.yaml');
    expect(bad('apiVersion: meshconform.dev/v1alpha1\nkind: ConformanceProfiles\nprofiles: [{ name: a }, { name: a }]')).to.throw(
      ReportInputError,
      'my-profiles.yaml: profile "a" is defined twice',
    );
    expect(bad('apiVersion: meshconform.dev/v1alpha1\nkind: ConformanceProfiles\nprofiles: [{ name: a, feature: [x] }]')).to.throw(
      ReportInputError,
      /my-profiles\.yaml: not a ConformanceProfiles file: \/profiles\/0 must NOT have additional properties/,
    );
    expect(bad('profiles: [')).to.throw(ReportInputError, /my-profiles\.yaml: not valid YAML/);
  });
});

describe('conformance report', () => {
  it('judges each profile: success, partial (skipped) and failure (failed or could not run)', () => {
    const base = hostileRun();
    const pass = (name: string, feature: string): ScenarioResult => ({
      ...base.scenarios[0]!,
      name,
      feature,
      cells: strictRow({ scenario: name, feature, workload: 'a/b', port: 1, policy: 'p' }),
    });
    const flaky: { -readonly [K in keyof ScenarioResult]: ScenarioResult[K] } = pass('flaky-one', 'core');
    const flakyCells = flaky.cells.map((c, i): CellResult => (i === 0 ? { ...c, verdict: 'flaky' } : c));
    flaky.summary = { ...flaky.summary, passed: flaky.summary.passed - 1, flaky: 1 };
    const ambient: ScenarioResult = { ...pass('amb', 'ambient'), meshMode: 'ambient', cells: [], skipped: 'ambient mode is not supported' };
    const lint: ScenarioResult = { ...pass('linted', 'precedence'), lint: [{ scenario: 'linted', file: 'f', line: 1, column: 1, message: 'expect says allow' }] };
    const failing = { ...base.scenarios[2]!, feature: 'port-level' };
    const results = profileResults(withScenarios(base, [pass('ok', 'selectors'), { ...flaky, cells: flakyCells }, ambient, lint, failing]), defaultProfiles());
    const by = new Map(results.map((r) => [r.name, r]));
    expect(by.get('core')).to.deep.include({ result: 'success', statistics: { tests: 2, passed: 2, failed: 0, errors: 0, skipped: 0 } });
    expect(by.get('core')!.cells.flaky).to.equal(1);
    expect(by.get('ambient')).to.deep.include({ result: 'partial', statistics: { tests: 1, passed: 0, failed: 0, errors: 0, skipped: 1 } });
    expect(by.get('ambient')!.skippedTests).to.deep.equal([{ scenario: 'amb', meshMode: 'ambient', file: ambient.file, reason: 'ambient mode is not supported' }]);
    expect(by.get('precedence')).to.deep.include({ result: 'failure', statistics: { tests: 1, passed: 0, failed: 0, errors: 1, skipped: 0 } });
    expect(by.get('precedence')!.failedTests[0]!.reason).to.equal('scenario lint: expect says allow');
    expect(by.get('port-level')!.result).to.equal('failure');
    expect(by.get('port-level')!.failedTests[0]!.reason).to.equal('1 of 9 cells failed: foo/finance:8080 plaintext-tcp');
    expect(by.get('chaos')!.statistics.tests).to.equal(0);
  });

  it('digests the suite by content: path spelling and order do not matter, an edit does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-digest-'));
    try {
      const a = join(dir, 'a.yaml');
      const b = join(dir, 'b.yaml');
      copyFileSync(join(root, 'scenarios/core/ref-namespace-foo-strict.yaml'), a);
      copyFileSync(join(root, 'scenarios/core/no-policy-permissive.yaml'), b);
      const one = await suiteDigest([
        { name: 'a', file: a, policies: [] },
        { name: 'b', file: b, policies: [] },
      ]);
      const two = await suiteDigest([
        { name: 'b', file: join(dir, '.', 'b.yaml'), policies: [] },
        { name: 'a', file: `${dir}//a.yaml`, policies: [] },
        { name: 'a', file: a, policies: [] },
      ]);
      expect(one).to.deep.equal(two);
      expect(one.scenarios).to.equal(2);
      expect(one.digest).to.match(/^sha256:[0-9a-f]{64}$/);
      writeFileSync(b, readFileSync(b, 'utf8') + '\n# edited\n');
      expect(
        (
          await suiteDigest([
            { name: 'a', file: a, policies: [] },
            { name: 'b', file: b, policies: [] },
          ])
        ).digest,
      ).to.not.equal(one.digest);
      // A referenced policy file changes what was loaded, not the scenario file: it counts too.
      expect((await suiteDigest([{ name: 'a', file: a, policies: [{ x: 1 }] }])).digest).to.not.equal((await suiteDigest([{ name: 'a', file: a, policies: [] }])).digest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes conformance.yaml from a real run that validates against the published schema and reproduces', async function () {
    this.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'mc-conformance-'));
    try {
      const impl = join(dir, 'impl.yaml');
      writeFileSync(impl, 'name: acme-mesh\nversion: 1.2.3\norganization: ACME\nurl: https://example.com/acme-mesh\ncontact: mesh@example.com\n');
      const paths = ['scenarios/core/ref-namespace-foo-strict.yaml', 'scenarios/port-level/ref-finance-strict-port-8080-disable.yaml'];
      const out = join(dir, 'out');
      const env = { TMPDIR: dir, NO_COLOR: '1' };
      const r = await execa(
        process.execPath,
        [
          bin,
          'run',
          ...paths,
          '--reporter',
          'json,conformance',
          '--out',
          out,
          '--local-subnet',
          '127.233',
          '--retries',
          '0',
          '--impl-options',
          impl,
          '--impl-version',
          '1.2.4',
          '--impl-contact',
          '@acme/mesh',
          '--impl-contact',
          'https://example.com/issues',
        ],
        { cwd: root, env, reject: false },
      );
      expect(r.exitCode, r.stdout + r.stderr).to.equal(0);
      const text = readFileSync(join(out, 'latest', CONFORMANCE_REPORT_FILE), 'utf8');
      expect(text).to.match(/^# meshconform conformance report/);
      const report = parse(text) as ConformanceReport;
      expect(validateConformanceReport(report)).to.deep.equal([]);
      expect(report.implementation).to.deep.equal({
        name: 'acme-mesh',
        version: '1.2.4',
        organization: 'ACME',
        url: 'https://example.com/acme-mesh',
        contact: ['@acme/mesh', 'https://example.com/issues'],
      });
      expect(report.meshModes).to.deep.equal(['sidecar']);
      expect(report.profiles.map((p) => [p.name, p.result, p.statistics.tests, p.statistics.passed])).to.deep.equal([
        ['core', 'success', 1, 1],
        ['port-level', 'success', 1, 1],
      ]);
      expect(report.profilesNotRun).to.deep.equal(['precedence', 'ambient', 'chaos']);
      const loaded = await loadScenarios(paths.map((p) => join(root, p)));
      expect(report.suite).to.deep.equal(await suiteDigest(loaded.map((s) => ({ name: s.name, file: s.file, policies: s.policies.map((p) => p.manifest) }))));
      // Every option that changes what is probed is spelled out, defaults included.
      expect(report.reproduce.command).to.match(
        new RegExp(
          `^npx meshconform@0\\.1\\.0 run ${paths.join(' ')} --backend local --data-plane reference --retries 0 --concurrency \\d+ --timeout \\d+ --ready-timeout \\d+ --parallel \\d+$`,
        ),
      );
      // The reproduce command (with this clone's bin instead of npx) gives the same results.
      const again = report.reproduce.command.replace('npx meshconform@0.1.0', `${process.execPath} ${bin}`) + ` --out ${join(dir, 'again')} --local-subnet 127.234 --reporter json`;
      const r2 = await execa(again, { shell: true, cwd: root, env, reject: false });
      expect(r2.exitCode, r2.stdout + r2.stderr).to.equal(0);
      const first = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
      const second = JSON.parse(readFileSync(join(dir, 'again', 'latest', 'report.json'), 'utf8')) as RunResult;
      expect(second.summary).to.deep.equal(first.summary);
      // The same options, but for the loopback subnet each run was given.
      const sameRun = (o: RunResult['options']) => ({ ...o, flags: { ...o.flags, 'local-subnet': undefined } });
      expect(first.options.flags?.['local-subnet']).to.not.equal(second.options.flags?.['local-subnet']);
      expect(sameRun(second.options)).to.deep.equal(sameRun(first.options));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails fast (exit 2, before running) on a bad --impl-options, --profiles or --baseline file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-conformance-bad-'));
    try {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'name: [unclosed\n');
      const truncated = join(dir, 'report.json');
      writeFileSync(truncated, '{"apiVersion":"meshconform.dev/v1alpha1","kind":"RunRes');
      for (const [flag, file, message] of [
        ['--impl-options', bad, /bad\.yaml: not valid YAML/],
        ['--profiles', bad, /bad\.yaml: not valid YAML/],
        ['--baseline', truncated, /report\.json: not valid JSON \(truncated or not a report\.json\?\)/],
      ] as const) {
        const r = await execa(process.execPath, [bin, 'run', 'scenarios/core/ref-namespace-foo-strict.yaml', flag, file, '--out', join(dir, 'out'), '--local-subnet', '127.235'], {
          cwd: root,
          reject: false,
          env: { NO_COLOR: '1' },
        });
        expect(r.exitCode, flag).to.equal(2);
        expect(r.stderr, flag).to.match(message);
        expect(r.stdout, flag).to.not.contain('scenario run(s)');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('falls back to the data plane as implementation name and a reproduce command rebuilt from the result', async () => {
    const run = hostileRun();
    const dir = mkdtempSync(join(tmpdir(), 'mc-conformance-unit-'));
    try {
      // suiteDigest reads each scenario's file: point the fixtures at real ones.
      const file = join(dir, 's.yaml');
      writeFileSync(file, 'x: 1\n');
      const report = await buildConformanceReport({ ...run, options: { ...run.options, grep: "it's" }, scenarios: run.scenarios.map((s) => ({ ...s, file })) });
      expect(report.implementation).to.deep.equal({ name: 'exec:./vendor-proxy', contact: [] });
      expect(report.reproduce.command).to.equal(
        `npx meshconform@0.1.0 run scenarios/ --backend local --data-plane exec:./vendor-proxy --claim spec --retries 1 --concurrency 32 --timeout 3000 --grep 'it'\\''s'`,
      );
      expect(reproduceFromResult(run)).to.not.contain('--grep');
      expect(validateConformanceReport(parse(renderConformanceYaml(report)))).to.deep.equal([]);
      expect(validateConformanceReport({ ...report, profiles: [{ name: 'x' }] })).to.not.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
