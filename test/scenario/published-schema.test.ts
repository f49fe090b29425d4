// schemas/scenario.schema.json, the schema editors use, is generated from the loader's schemas: it must equal what
// the generator produces now, and every built-in scenario must conform to it.
import { expect } from 'chai';
import { Ajv } from 'ajv';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { PUBLISHED_SCENARIO_SCHEMA_PATH, publishedScenarioSchemaText } from '../../src/scenario/published-schema.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const text = readFileSync(join(root, PUBLISHED_SCENARIO_SCHEMA_PATH), 'utf8');
const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(text) as object);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

const errorsOf = (doc: unknown): string[] => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));

describe(`published scenario schema (${PUBLISHED_SCENARIO_SCHEMA_PATH})`, () => {
  it("equals what the generator makes from the loader's schemas now (run `npm run schema` after changing them)", () => {
    expect(text === publishedScenarioSchemaText(), 'the published schema is out of date: run `npm run schema`').to.equal(true);
  });

  it('accepts every built-in scenario', () => {
    let scenarios = 0;
    for (const file of yamlFiles(join(root, 'scenarios'))) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const value = doc.toJS() as { kind?: unknown } | null;
        if (value?.kind !== 'Scenario') continue;
        scenarios++;
        expect(errorsOf(value), relative(root, file)).to.deep.equal([]);
      }
    }
    expect(scenarios).to.be.greaterThan(50);
  });

  it('rejects what the loader rejects structurally: an unknown key, a bad port, a bad outcome, a fault the loader does not know', () => {
    const base = () => ({
      apiVersion: 'meshconform.dev/v1alpha1',
      kind: 'Scenario',
      metadata: { name: 'x' },
      spec: { workloads: [{ name: 'a', namespace: 'foo', ports: [8080] }], expect: [{ workload: 'foo/a', port: 8080, plaintext: 'allow' }] },
    });
    expect(errorsOf(base())).to.deep.equal([]);
    const typo = base() as Record<string, unknown> & { spec: Record<string, unknown> };
    typo.spec['workload'] = [];
    expect(errorsOf(typo).join('\n')).to.include('additional properties');
    const port = base();
    port.spec.workloads[0]!.ports = [70000];
    expect(errorsOf(port)).to.not.deep.equal([]);
    const outcome = base();
    (outcome.spec.expect[0] as Record<string, unknown>)['plaintext'] = 'maybe';
    expect(errorsOf(outcome).join('\n')).to.include('/spec/expect/0/plaintext');
    const chaos = { ...base(), spec: { ...base().spec, chaos: { duration: '2s', steps: [{ at: '1s', fault: 'meteor' }] } } };
    expect(errorsOf(chaos).join('\n')).to.include('/spec/chaos/steps/0/fault');
    const policy = {
      ...base(),
      spec: {
        ...base().spec,
        policies: [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'p' }, spec: { mtls: { mode: 'STRICT' }, bogus: 1 } }],
      },
    };
    expect(errorsOf(policy).join('\n')).to.include('/spec/policies/0/spec');
  });
});
