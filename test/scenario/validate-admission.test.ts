import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { SELECTOR_WITHOUT_LABELS, issueText, validateAdmission } from '../../src/scenario/index.js';

interface ValidationVector {
  id: string;
  object: { metadata: Record<string, unknown>; spec?: unknown };
  valid: boolean;
  warning?: boolean;
  error_contains?: string;
}

const vectors = (JSON.parse(readFileSync(new URL('../oracle/fixtures/istio-oracle-vectors.json', import.meta.url), 'utf8')) as { validation_vectors: ValidationVector[] })
  .validation_vectors;

/** Istio's tests validate the typed spec; apiVersion and kind are implied by the test, so we add them. */
function manifestOf(v: ValidationVector): unknown {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', ...v.object };
}

describe('validateAdmission', () => {
  it('has all 17 Istio validation vectors to run', () => {
    expect(vectors).to.have.length(17);
  });

  for (const v of vectors) {
    it(`${v.id}: ${v.valid ? 'valid' : 'invalid'}${v.warning ? ' with a warning' : ''}`, () => {
      const r = validateAdmission(manifestOf(v));
      expect(r.valid, r.errors.map((e) => issueText(e)).join('; ')).to.equal(v.valid);
      expect(r.errors.length === 0).to.equal(v.valid);
      // Every rejection is an admission rule about the spec, never a structural accident of the test harness.
      for (const e of r.errors) expect(e.path[0]).to.equal('spec');
      if (v.warning !== undefined) {
        expect(r.warnings.map((w) => w.message)).to.deep.equal(v.warning ? [SELECTOR_WITHOUT_LABELS] : []);
      }
    });
  }

  it('words the rejections the way Istio does, where Istio has a phrase', () => {
    const msgs = (o: unknown): string[] => validateAdmission(o).errors.map((e) => issueText(e));
    const base = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'x' } };
    expect(msgs({ ...base, spec: { mtls: { mode: 'BLAH' } } })).to.deep.equal(['spec.mtls.mode: Unsupported value: "BLAH"; allowed modes: UNSET, DISABLE, PERMISSIVE, STRICT']);
    expect(msgs({ ...base, spec: { portLevelMtls: { 80: { mode: 'STRICT' } } } })[0]).to.match(/^spec: portLevelMtls requires selector/);
    expect(msgs({ ...base, spec: { selector: { matchLabels: { a: 'b' } }, portLevelMtls: { 42949672: {} } } })).to.deep.equal([
      'spec.portLevelMtls: port must be between 1-65535, got 42949672',
    ]);
  });

  it('rejects selector keys and values that are empty or contain "*"', () => {
    const r = validateAdmission({
      apiVersion: 'security.istio.io/v1beta1',
      kind: 'PeerAuthentication',
      metadata: { name: 'x' },
      spec: { selector: { matchLabels: { '': 'a', 'b*': 'c', d: '', e: 'f*' } } },
    });
    expect(r.valid).to.equal(false);
    expect(r.errors.map((e) => [e.path.join('.'), e.at])).to.deep.equal([
      ['spec.selector.matchLabels.', 'key'],
      ['spec.selector.matchLabels.b*', 'key'],
      ['spec.selector.matchLabels.d', 'value'],
      ['spec.selector.matchLabels.e', 'value'],
    ]);
  });

  it('rejects structural problems: unknown spec fields, wrong apiVersion or kind, non-string label values, bad timestamps', () => {
    const r = validateAdmission({
      apiVersion: 'security.istio.io/v2',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'x', creationTimestamp: '2024-02-30T00:00:00Z' },
      spec: { selector: { matchLabels: { app: 1 } }, action: 'ALLOW' },
    });
    expect(r.errors.map((e) => issueText(e))).to.have.members([
      'apiVersion: "security.istio.io/v2" is not allowed; allowed: security.istio.io/v1, security.istio.io/v1beta1',
      'kind: must be "PeerAuthentication", not "AuthorizationPolicy"',
      'metadata.creationTimestamp: "2024-02-30T00:00:00Z" is not an RFC 3339 timestamp; allowed: for example "2024-01-01T00:00:00Z"',
      'spec.selector.matchLabels.app: must be a string, not the number 1 (quote it: "1")',
      'spec: unknown field "action"; allowed fields: selector, mtls, portLevelMtls',
    ]);
  });

  it('accepts what kubectl get -o yaml prints: server-set metadata and a status', () => {
    const r = validateAdmission({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'x', namespace: 'foo', uid: 'u', resourceVersion: '1', generation: 2, managedFields: [{}], creationTimestamp: '2024-01-01T00:00:00+02:00' },
      spec: { mtls: { mode: 'STRICT' } },
      status: { conditions: [] },
    });
    expect(r.valid).to.equal(true);
    expect(r.manifest?.metadata.name).to.equal('x');
  });
});
