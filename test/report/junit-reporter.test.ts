import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { RunResult } from '../../src/model/index.js';
import { junitReporter, renderJunit, xmlSafe } from '../../src/report/index.js';
import { HOSTILE, HOSTILE_POLICY, sampleRun } from './sample-run.js';

interface Case {
  '@_classname': string;
  '@_name': string;
  '@_time'?: string;
  failure?: { '@_message': string; '@_type': string };
  error?: { '@_message': string; '@_type': string; '#text'?: string };
  skipped?: unknown;
  'system-out'?: string;
}
interface Suite {
  '@_name': string;
  '@_tests': string;
  '@_failures': string;
  '@_errors': string;
  '@_skipped': string;
  testcase?: Case[];
}

function parse(xml: string): Suite[] {
  const valid = XMLValidator.validate(xml);
  expect(valid, JSON.stringify(valid)).to.equal(true);
  const doc = new XMLParser({
    ignoreAttributes: false,
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: false,
    isArray: (name) => name === 'testsuite' || name === 'testcase',
  }).parse(xml) as { testsuites: { testsuite: Suite[] } };
  return doc.testsuites.testsuite;
}

const cellCases = (s: Suite): Case[] => (s.testcase ?? []).filter((c) => !c['@_name'].startsWith('lint ') && !c['@_name'].startsWith('scenario'));

describe('report: junit', () => {
  it('is well-formed XML with one testsuite per scenario and mesh mode and one testcase per cell', () => {
    const run = sampleRun();
    const suites = parse(renderJunit(run));
    expect(suites).to.have.length(run.scenarios.length);
    expect(suites.map((s) => s['@_name'])).to.deep.equal(['core/strict-basic [sidecar]', `a&b"c'/${HOSTILE} [sidecar]`, 'ambient/ambient-basic [ambient]']);
    run.scenarios.forEach((s, i) => {
      const cases = cellCases(suites[i]!);
      expect(cases, s.name).to.have.length(s.cells.length);
      expect(cases.map((c) => c['@_name'])).to.deep.equal(s.cells.map((c) => `${c.scenario} › ${c.workload}:${c.port} › ${c.client}`));
      for (const c of cases) expect(c['@_classname']).to.equal(`${s.feature}.${s.name}`);
    });
    const xml = renderJunit(run);
    expect(xml.match(/<testcase /g)).to.have.length(run.scenarios.reduce((n, s) => n + s.cells.length + s.lint.length + (s.error ? 1 : 0) + (s.skipped ? 1 : 0), 0));
  });

  it('carries the run id, harness version and data plane as suite properties', () => {
    const xml = renderJunit(sampleRun());
    expect(xml).to.match(/<property name="runId" value="[^"]+"\/>/);
    expect(xml).to.match(/<property name="harnessVersion" value="[^"]+"\/>/);
    expect(xml).to.match(/<property name="dataPlane" value="[^"]+"\/>/);
  });

  it('counts failures, errors and skips per suite; flaky counts as passed', () => {
    const [a] = parse(renderJunit(sampleRun()));
    // 2 failed cells; 1 error cell + 1 lint error; 1 skipped cell; 9+9 cells + 1 lint case.
    expect(a).to.include({ '@_tests': '19', '@_failures': '2', '@_errors': '2', '@_skipped': '1' });
    const flaky = a!.testcase!.find((c) => c['@_name'] === 'strict-basic › foo/finance:8080 › mtls-http')!;
    expect(flaky.failure).to.equal(undefined);
    expect(flaky.error).to.equal(undefined);
    expect(flaky['system-out']).to.contain('flaky: matched only after a retry (2 attempts)');
    const skipped = a!.testcase!.find((c) => c['@_name'] === 'strict-basic › foo/finance:8080 › tls-no-istio-alpn')!;
    expect(skipped).to.have.property('skipped');
    expect(skipped['system-out']).to.contain('capability missing');
  });

  it('failure messages name expected outcome and mode, observed outcome, denial and alert, policy chain and rule', () => {
    const suites = parse(renderJunit(sampleRun()));
    const fail = suites[0]!.testcase!.find((c) => c['@_name'] === 'strict-basic › foo/finance:8080 › plaintext-tcp')!;
    expect(fail.failure!['@_type']).to.equal('mismatch');
    const m = fail.failure!['@_message'];
    expect(m).to.contain('expected deny in STRICT mode').and.contain('observed allow').and.contain('after 3 attempts');
    expect(m).to.contain('rule R5.3 STRICT: only mesh mTLS is accepted');
    expect(m).to.contain('decided by istio-system/default (mesh) → foo/finance-strict (workload)');
    const denied = suites[1]!.testcase!.find((c) => c.failure)!;
    expect(denied.failure!['@_message']).to.contain('expected allow in PERMISSIVE mode, observed deny: denied by tls-alert certificate required (116)');
  });

  it('reports harness errors as <error>, including a scenario that could not run and lint findings', () => {
    const suites = parse(renderJunit(sampleRun()));
    const refused = suites[0]!.testcase!.find((c) => c['@_name'] === 'strict-basic › foo/finance:8080 › mtls-expired')!;
    expect(refused.error!['@_type']).to.equal('harness-error');
    expect(refused.error!['@_message']).to.contain('refused');
    const lint = suites[0]!.testcase!.find((c) => c['@_name'].startsWith('lint '))!;
    expect(lint['@_name']).to.equal('lint scenarios/core/strict-basic.yaml:12:7');
    expect(lint.error!['@_type']).to.equal('scenario-lint');
    const setup = suites[1]!.testcase!.find((c) => c['@_name'] === 'scenario setup')!;
    expect(setup.error!['@_message']).to.equal('data plane exited with code 1: <stderr> & more');
    const ambient = suites[2]!.testcase!;
    expect(ambient).to.have.length(1);
    expect(ambient[0]).to.have.property('skipped');
  });

  it('escapes hostile names and strips control characters', () => {
    const xml = renderJunit(sampleRun());
    // Outside CDATA sections (which the parser check proves are well closed) nothing from input is markup.
    const markup = xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '');
    expect(markup).to.not.contain('<img');
    expect(markup).to.not.contain('<w>');
    expect(markup).to.contain('&lt;img src=x onerror=alert(1)>');
    expect(xml).to.not.match(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/);
    const suites = parse(xml);
    const b = suites[1]!;
    expect(b['@_name']).to.equal(`a&b"c'/${HOSTILE} [sidecar]`);
    const fail = b.testcase!.find((c) => c.failure)!;
    expect(fail['@_classname']).to.equal(`a&b"c'.${HOSTILE}`);
    expect(fail['@_name']).to.equal(`${HOSTILE} › foo/<w>:80 › plaintext-tcp`);
    expect(fail.failure!['@_message']).to.contain(`foo/${HOSTILE_POLICY} (workload)`);
    expect(fail['system-out']).to.contain(`decided by foo/${HOSTILE_POLICY}`).and.not.contain('\u0007');
  });

  it('keeps CDATA closed when the text contains ]]> more than once', () => {
    const run = sampleRun() as { -readonly [K in keyof RunResult]: RunResult[K] };
    const scenarios = [...run.scenarios];
    const a = scenarios[0]!;
    const cells = a.cells.map((c) => (c.verdict === 'fail' ? { ...c, reason: 'one ]]> two ]]> <script>alert(1)</script> ]]>' } : c));
    scenarios[0] = { ...a, cells };
    run.scenarios = scenarios;
    const suites = parse(renderJunit(run));
    const out = suites[0]!.testcase!.find((c) => c['@_name'] === 'strict-basic › foo/finance:8080 › plaintext-tcp')!['system-out']!;
    expect(out).to.contain('one ]] > two ]] > <script>alert(1)</script> ]] >');
    expect(suites[0]!.testcase!.filter((c) => !c['@_name'].startsWith('lint '))).to.have.length(18);
  });

  it('xmlSafe removes characters XML 1.0 cannot carry and keeps the rest', () => {
    expect(xmlSafe('a\u0000b\u0008c\u000Bd\u001Fe\u007Ff\u0085g')).to.equal('abcdefg');
    expect(xmlSafe('tab\tnl\ncr\r ok → ✓ 𝄞')).to.equal('tab\tnl\ncr\r ok → ✓ 𝄞');
    expect(xmlSafe('lone \uD800 surrogate \uDFFF')).to.equal('lone  surrogate ');
    expect(xmlSafe('\uFFFE\uFFFF')).to.equal('');
  });

  it('writes junit.xml atomically into the report directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshconform-junit-'));
    try {
      await junitReporter().onRunEnd(sampleRun(), dir);
      expect(await readdir(dir)).to.deep.equal(['junit.xml']);
      parse(await readFile(join(dir, 'junit.xml'), 'utf8'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
