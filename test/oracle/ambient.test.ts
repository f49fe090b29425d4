// The ambient oracle (spec §6): effective modes, the outcome table, expectations, lint and explain.
import { expect } from 'chai';
import { CLIENT_KINDS, DIRECT_CLIENT_KINDS, HBONE_CLIENT_KINDS } from '../../src/model/index.js';
import type { ClientKind, ExpectedOutcome, MtlsMode } from '../../src/model/index.js';
import { ambientOutcome, effectiveModes, expectations, explain, lintExpectations, outcomeFor } from '../../src/oracle/index.js';
import { expectEntry, pa, scenario, workload } from './helpers.js';

const app = workload('foo', 'app', { app: 'a' }, [8080, { port: 9090, protocol: 'http' }, 7070]);

function ambientModes(...policies: ReturnType<typeof pa>[]) {
  const s = scenario({ name: 'amb', mode: 'ambient', workloads: [app], policies });
  return effectiveModes(s, 'ambient');
}
const modeAt = (modes: ReturnType<typeof ambientModes>, port: number | null) => modes.find((m) => m.port === port);

describe('oracle: ambient effective modes', () => {
  it('no PeerAuthentication at all: every port PERMISSIVE, decided by no policy, noting R6.9', () => {
    const modes = ambientModes();
    expect(modes.map((m) => [m.port, m.mode])).to.deep.equal([
      [null, 'PERMISSIVE'],
      [8080, 'PERMISSIVE'],
      [9090, 'PERMISSIVE'],
      [7070, 'PERMISSIVE'],
    ]);
    for (const m of modes) {
      expect(m.decidedBy).to.deep.equal([]);
      expect(m.meshMode).to.equal('ambient');
      expect(m.notes?.join(' ')).to.include('R6.9');
    }
  });

  for (const level of ['mesh', 'namespace', 'workload', 'port'] as const) {
    it(`DISABLE at ${level} level is PERMISSIVE, and the note names the policy and R6.5`, () => {
      const policies = {
        mesh: [pa('istio-system', 'm', { mtls: { mode: 'DISABLE' } })],
        namespace: [pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }), pa('foo', 'n', { mtls: { mode: 'DISABLE' } })],
        workload: [pa('foo', 'n', { mtls: { mode: 'STRICT' } }), pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'DISABLE' } })],
        port: [pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } })],
      }[level];
      const modes = ambientModes(...policies);
      const m = modeAt(modes, 8080)!;
      expect(m.mode).to.equal('PERMISSIVE');
      const p = policies.at(-1)!;
      expect(m.notes).to.include(`${level === 'port' ? 'portLevelMtls DISABLE' : 'DISABLE'} of ${p.namespace}/${p.name} (${level}) is treated as PERMISSIVE in ambient (R6.5)`);
      // The same set in sidecar mode keeps DISABLE: the mapping is ambient's alone.
      const sidecar = effectiveModes(scenario({ workloads: [app], policies }), 'sidecar');
      expect(sidecar.find((x) => x.port === 8080)?.mode).to.equal('DISABLE');
      if (level === 'port') expect(modeAt(modes, 7070)).to.deep.include({ mode: 'STRICT' }).and.not.have.property('notes');
    });
  }

  it('a DISABLE overridden by a lower level leaves no note', () => {
    const m = modeAt(ambientModes(pa('istio-system', 'm', { mtls: { mode: 'DISABLE' } }), pa('foo', 'n', { mtls: { mode: 'STRICT' } })), 8080)!;
    expect(m.mode).to.equal('STRICT');
    expect(m).to.not.have.property('notes');
  });

  it('inherits mesh → namespace → workload → port, UNSET passing the mode on, with the sidecar decidedBy chain', () => {
    const modes = ambientModes(
      pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }),
      pa('foo', 'n', { mtls: { mode: 'UNSET' } }),
      pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' }, 9090: { mode: 'UNSET' } } }),
    );
    expect(modes.map((m) => [m.port, m.mode])).to.deep.equal([
      [null, 'STRICT'],
      [8080, 'PERMISSIVE'],
      [9090, 'STRICT'],
      [7070, 'STRICT'],
    ]);
    expect(modeAt(modes, 8080)?.decidedBy).to.deep.equal([
      { level: 'mesh', namespace: 'istio-system', name: 'm' },
      { level: 'namespace', namespace: 'foo', name: 'n' },
      { level: 'workload', namespace: 'foo', name: 'w' },
      { level: 'port', namespace: 'foo', name: 'w' },
    ]);
    expect(modeAt(modes, 7070)?.decidedBy.map((d) => d.level)).to.deep.equal(['mesh', 'namespace', 'workload']);
  });

  it('several STRICT ports under a PERMISSIVE workload are each STRICT (the OR fix, #49131)', () => {
    const modes = ambientModes(
      pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 8080: { mode: 'STRICT' }, 9090: { mode: 'STRICT' } } }),
    );
    expect(modes.map((m) => [m.port, m.mode])).to.deep.equal([
      [null, 'PERMISSIVE'],
      [8080, 'STRICT'],
      [9090, 'STRICT'],
      [7070, 'PERMISSIVE'],
    ]);
  });

  it('a root-namespace selector: {} policy is no mesh policy in ambient (R2.5), but is in sidecar mode', () => {
    const policies = [pa('istio-system', 'root-empty', { selector: {}, mtls: { mode: 'STRICT' } })];
    const modes = ambientModes(...policies);
    expect(modes.map((m) => m.mode)).to.deep.equal(['PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE']);
    expect(modeAt(modes, 8080)?.decidedBy).to.deep.equal([]);
    expect(modeAt(modes, 8080)?.notes?.join(' ')).to.include('istio-system/root-empty').and.include('R2.5');
    expect(effectiveModes(scenario({ workloads: [app], policies }), 'sidecar').map((m) => m.mode)).to.deep.equal(['STRICT', 'STRICT', 'STRICT', 'STRICT']);
  });

  it('an older root selector: {} policy does not shadow a newer mesh policy without selector in ambient', () => {
    const modes = ambientModes(
      pa('istio-system', 'empty', { selector: {}, mtls: { mode: 'PERMISSIVE' } }, '2024-01-01T00:00:00Z'),
      pa('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }, '2024-02-01T00:00:00Z'),
    );
    expect(modeAt(modes, 8080)).to.deep.include({ mode: 'STRICT', decidedBy: [{ level: 'mesh', namespace: 'istio-system', name: 'mesh' }] });
    expect(modeAt(modes, 8080)?.notes?.join(' ')).to.include('istio-system/empty');
  });

  it('a root-namespace policy with labels is ignored in ambient as in sidecar mode (R2.3)', () => {
    const modes = ambientModes(pa('istio-system', 'sel', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' } }));
    expect(modes.map((m) => m.mode)).to.deep.equal(['PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE', 'PERMISSIVE']);
  });

  it('a namespace selector: {} policy is the namespace policy; with port exceptions of an UNSET workload it notes R2.5', () => {
    const ns = pa('foo', 'ns-empty', { selector: {}, mtls: { mode: 'STRICT' } });
    expect(ambientModes(ns).map((m) => m.mode)).to.deep.equal(['STRICT', 'STRICT', 'STRICT', 'STRICT']);
    expect(modeAt(ambientModes(ns), 8080)).to.not.have.property('notes');
    const modes = ambientModes(ns, pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } }));
    expect(modes.map((m) => [m.port, m.mode])).to.deep.equal([
      [null, 'STRICT'],
      [8080, 'PERMISSIVE'],
      [9090, 'STRICT'],
      [7070, 'STRICT'],
    ]);
    for (const m of modes) expect(m.notes?.join(' ')).to.include('foo/ns-empty').and.include('R2.5');
  });

  it('R6.10: the specified STRICT for a STRICT port under a PERMISSIVE workload, no namespace policy, mesh STRICT, with a note', () => {
    const modes = ambientModes(
      pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }),
      pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 8080: { mode: 'STRICT' } } }),
    );
    expect(modes.map((m) => [m.port, m.mode])).to.deep.equal([
      [null, 'PERMISSIVE'],
      [8080, 'STRICT'],
      [9090, 'PERMISSIVE'],
      [7070, 'PERMISSIVE'],
    ]);
    expect(modeAt(modes, 8080)?.notes?.join(' ')).to.include('R6.10');
    expect(modeAt(modes, 9090)).to.not.have.property('notes');
    // With a STRICT namespace policy the guard does not matter, so there is no note.
    const withNs = ambientModes(
      pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }),
      pa('foo', 'n', { mtls: { mode: 'STRICT' } }),
      pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 8080: { mode: 'STRICT' } } }),
    );
    expect(modeAt(withNs, 8080)).to.deep.include({ mode: 'STRICT' }).and.not.have.property('notes');
  });

  it("keeps sidecar semantics for selection: oldest wins, other namespaces never apply, the winner's port map only", () => {
    const modes = ambientModes(
      pa('foo', 'old', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } }, '2024-01-01T00:00:00Z'),
      pa('foo', 'new', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 9090: { mode: 'PERMISSIVE' } } }, '2024-02-01T00:00:00Z'),
      pa('bar', 'other-ns', { mtls: { mode: 'PERMISSIVE' } }),
    );
    expect(modes.map((m) => [m.port, m.mode])).to.deep.equal([
      [null, 'STRICT'],
      [8080, 'PERMISSIVE'],
      [9090, 'STRICT'],
      [7070, 'STRICT'],
    ]);
  });

  it('never derives DISABLE, for any combination of modes at every level', () => {
    const modesList = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
    let checked = 0;
    for (const m of modesList) {
      for (const n of modesList) {
        for (const w of modesList) {
          for (const p of modesList) {
            const modes = ambientModes(
              pa('istio-system', 'm', { mtls: { mode: m } }),
              pa('foo', 'n', { mtls: { mode: n } }),
              pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: w }, portLevelMtls: { 8080: { mode: p } } }),
            );
            const sidecar = effectiveModes(
              scenario({
                workloads: [app],
                policies: [
                  pa('istio-system', 'm', { mtls: { mode: m } }),
                  pa('foo', 'n', { mtls: { mode: n } }),
                  pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: w }, portLevelMtls: { 8080: { mode: p } } }),
                ],
              }),
              'sidecar',
            );
            // R6.10: ambient inheritance equals sidecar's once DISABLE reads PERMISSIVE.
            expect(modes.map((x) => x.mode)).to.deep.equal(
              sidecar.map((x) => (x.mode === 'DISABLE' ? 'PERMISSIVE' : x.mode)),
              `${m}/${n}/${w}/${p}`,
            );
            checked++;
          }
        }
      }
    }
    expect(checked).to.equal(256);
  });
});

/** The ambient outcome table, transcribed independently: [PERMISSIVE, STRICT]; DISABLE must equal PERMISSIVE. */
const AMBIENT: Record<ClientKind, [ExpectedOutcome, ExpectedOutcome]> = {
  'plaintext-tcp': ['allow', 'deny'],
  'plaintext-http': ['allow', 'deny'],
  'mtls-tcp': ['passthrough', 'deny'],
  'mtls-http': ['passthrough', 'deny'],
  'tls-no-client-cert': ['passthrough', 'deny'],
  'mtls-foreign-ca': ['passthrough', 'deny'],
  'mtls-expired': ['passthrough', 'deny'],
  'mtls-other-trust-domain': ['passthrough', 'deny'],
  'tls-no-istio-alpn': ['passthrough', 'deny'],
  hbone: ['allow', 'allow'],
  'hbone-no-client-cert': ['deny', 'deny'],
  'hbone-foreign-ca': ['deny', 'deny'],
  'hbone-expired': ['deny', 'deny'],
  'hbone-other-trust-domain': ['deny', 'deny'],
  'hbone-unserved-port': ['deny', 'deny'],
};

describe('oracle: ambient outcome table', () => {
  for (const client of CLIENT_KINDS) {
    it(`${client}: PERMISSIVE ${AMBIENT[client][0]}, STRICT ${AMBIENT[client][1]}, DISABLE as PERMISSIVE, on tcp and http ports alike`, () => {
      const modes: MtlsMode[] = ['PERMISSIVE', 'STRICT'];
      modes.forEach((mode, i) => {
        const got = ambientOutcome(mode, client);
        expect(got.outcome).to.equal(AMBIENT[client][i]);
        expect(got.rule).to.match(/^R6\.\d+/);
        for (const protocol of ['tcp', 'http'] as const) expect(outcomeFor('ambient', mode, protocol, client)).to.deep.equal(got);
      });
      const disable = ambientOutcome('DISABLE', client);
      expect(disable.outcome).to.equal(AMBIENT[client][0]);
      if (!client.startsWith('hbone-')) expect(disable.rule).to.include('R6.5');
    });
  }

  it('cites the rule each outcome rests on: R6.3 STRICT, R6.4 PERMISSIVE, R6.7 HBONE certificates, R6.6 unserved ports', () => {
    expect(ambientOutcome('STRICT', 'plaintext-tcp').rule).to.match(/^R6\.3 STRICT/);
    expect(ambientOutcome('PERMISSIVE', 'mtls-tcp').rule).to.match(/^R6\.4 PERMISSIVE/);
    for (const k of ['hbone-no-client-cert', 'hbone-foreign-ca', 'hbone-expired', 'hbone-other-trust-domain'] as const) {
      expect(ambientOutcome('PERMISSIVE', k).rule).to.match(/^R6\.7/);
    }
    expect(ambientOutcome('STRICT', 'hbone-unserved-port').rule)
      .to.match(/^R6\.6/)
      .and.include('error status');
  });

  it('has no sidecar outcome for HBONE clients (they are never fired in sidecar mode)', () => {
    for (const k of HBONE_CLIENT_KINDS) expect(outcomeFor('sidecar', 'STRICT', 'tcp', k)).to.equal(undefined);
  });
});

describe('oracle: ambient expectations', () => {
  const policies = [
    pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }),
    pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } }),
  ];
  const s = scenario({ name: 'amb', mode: 'ambient', workloads: [app], policies });
  const cells = expectations(s, 'ambient');

  it('fires all 15 client kinds (direct and HBONE) at every port, with ambient cell keys', () => {
    expect(cells).to.have.length(3 * CLIENT_KINDS.length);
    expect(cells.slice(0, CLIENT_KINDS.length).map((c) => c.client)).to.deep.equal([...CLIENT_KINDS]);
    expect(cells.every((c) => c.meshMode === 'ambient' && c.key.startsWith('amb|ambient|foo/app|'))).to.equal(true);
  });

  it('puts the ambient mapping into the rule: DISABLE read as PERMISSIVE names R6.5 and the policy', () => {
    const c = cells.find((x) => x.port === 8080 && x.client === 'plaintext-tcp')!;
    expect(c).to.deep.include({ mode: 'PERMISSIVE', outcome: 'allow' });
    expect(c.rule)
      .to.match(/^R6\.4 PERMISSIVE/)
      .and.include('portLevelMtls DISABLE of foo/w (port) is treated as PERMISSIVE in ambient (R6.5)');
    const strict = cells.find((x) => x.port === 9090 && x.client === 'mtls-http')!;
    expect(strict).to.deep.include({ mode: 'STRICT', outcome: 'deny', protocol: 'http' });
    expect(strict.rule).to.not.include('R6.5');
  });

  it('sidecar expectations of the same scenario keep the 9 direct kinds and the sidecar table', () => {
    const sc = expectations(scenario({ name: 'amb', mode: 'both', workloads: [app], policies }), 'sidecar');
    expect(sc).to.have.length(3 * DIRECT_CLIENT_KINDS.length);
    expect(sc.find((x) => x.port === 8080 && x.client === 'mtls-tcp')).to.deep.include({ mode: 'DISABLE', outcome: 'passthrough' });
  });
});

describe('oracle: ambient lint', () => {
  const policies = [pa('foo', 'n', { mtls: { mode: 'STRICT' } }), pa('foo', 'w', { selector: { matchLabels: { app: 'a' } }, portLevelMtls: { 8080: { mode: 'DISABLE' } } })];
  const lint = (mode: 'sidecar' | 'ambient' | 'both', meshMode: 'sidecar' | 'ambient', ...entries: ReturnType<typeof expectEntry>[]) =>
    lintExpectations(scenario({ name: 'l', mode, workloads: [app], policies, expect: entries }), meshMode);

  it('checks HBONE keys in ambient, and `mtls` means the HBONE client there', () => {
    expect(
      lint(
        'ambient',
        'ambient',
        expectEntry('foo/app', { port: 9090, outcomes: { plaintext: 'deny', mtls: 'allow', hbone: 'allow', 'hbone-expired': 'deny', 'mtls-http': 'deny' } }),
      ),
    ).to.deep.equal([]);
    const [f] = lint('ambient', 'ambient', expectEntry('foo/app', { port: 9090, outcomes: { 'hbone-foreign-ca': 'allow' } }, 9));
    expect(f).to.deep.include({ line: 9 });
    expect(f?.message).to.include('hbone-foreign-ca: allow').and.include('derives deny').and.include('R6.7').and.include('ambient');
  });

  it('reports a DISABLE mode expectation in ambient with the R6.5 mapping', () => {
    const [f] = lint('ambient', 'ambient', expectEntry('foo/app', { port: 8080, mode: 'DISABLE' }));
    expect(f?.message).to.include('expects mode DISABLE in ambient mode').and.include('derives PERMISSIVE').and.include('R6.5');
    expect(lint('ambient', 'ambient', expectEntry('foo/app', { port: 8080, mode: 'PERMISSIVE', outcomes: { plaintext: 'allow', 'mtls-tcp': 'passthrough' } }))).to.deep.equal([]);
  });

  it('rejects HBONE keys in a sidecar-only scenario with a clear message', () => {
    const findings = lint('sidecar', 'sidecar', expectEntry('foo/app', { port: 8080, outcomes: { hbone: 'allow' } }));
    expect(findings).to.have.length(1);
    expect(findings[0]?.message).to.equal(
      'foo/app: hbone is an HBONE client of ambient mode, never fired in sidecar mode; this scenario runs in sidecar mode only (spec.mode: sidecar)',
    );
  });

  it('in a both scenario, HBONE keys are checked in the ambient pass only; meshMode scopes an entry to one pass', () => {
    const entries = [
      expectEntry('foo/app', { port: 8080, outcomes: { hbone: 'allow', 'hbone-unserved-port': 'deny' } }),
      { ...expectEntry('foo/app', { port: 8080, mode: 'DISABLE' }), meshMode: 'sidecar' as const },
      { ...expectEntry('foo/app', { port: 8080, mode: 'PERMISSIVE' }), meshMode: 'ambient' as const },
    ];
    expect(lint('both', 'sidecar', ...entries)).to.deep.equal([]);
    expect(lint('both', 'ambient', ...entries)).to.deep.equal([]);
    // Unscoped, the same mode expectation holds in one mode only.
    expect(lint('both', 'ambient', expectEntry('foo/app', { port: 8080, mode: 'DISABLE' }))).to.have.length(1);
    expect(lint('both', 'sidecar', expectEntry('foo/app', { port: 8080, mode: 'DISABLE' }))).to.deep.equal([]);
    const scopedHbone = { ...expectEntry('foo/app', { port: 8080, outcomes: { hbone: 'allow' } }), meshMode: 'sidecar' as const };
    expect(lint('both', 'sidecar', scopedHbone)[0]?.message).to.include('scoped to meshMode: sidecar');
  });
});

describe('oracle: explain in ambient', () => {
  it('reports ambient modes for an ambient scenario, and both modes for a both scenario', () => {
    const policies = [pa('foo', 'n', { mtls: { mode: 'DISABLE' } })];
    const entries = explain([
      scenario({ name: 'a', mode: 'ambient', workloads: [workload('foo', 'x', {}, [8080])], policies }),
      scenario({ name: 'b', mode: 'both', workloads: [workload('foo', 'x', {}, [8080])], policies }),
    ]);
    expect(entries.map((e) => [e.scenario, e.meshMode, e.port, e.mode])).to.deep.equal([
      ['a', 'ambient', null, 'PERMISSIVE'],
      ['a', 'ambient', 8080, 'PERMISSIVE'],
      ['b', 'sidecar', null, 'DISABLE'],
      ['b', 'sidecar', 8080, 'DISABLE'],
      ['b', 'ambient', null, 'PERMISSIVE'],
      ['b', 'ambient', 8080, 'PERMISSIVE'],
    ]);
  });
});
