// The data-plane contract as an artifact: schemas/workload-config.schema.json and the one harness checker
// (harness/common/workload-config.mjs) agree with each other and with what the backends write.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import { PATTERNS, checkWorkloadConfig } from '../../harness/common/workload-config.mjs';
import { checkWorkloadConfig as checkSidecarConfig } from '../../harness/reference/config.mjs';
import { checkAmbientConfig } from '../../harness/reference-ambient/ambient-config.mjs';
import { workloadConfig } from '../../src/backend/workload-config.js';
import type { EnvironmentOptions, MeshMode, PeerAuthenticationManifest, Scenario, Workload, WorkloadConfig } from '../../src/model/index.js';
import { generateScenarios, loadScenarios } from '../../src/scenario/index.js';
import { startChild, stopChild, type Child } from './support/child.js';
import { HOSTILE_CASES, validConfig, type HostileCase } from './support/hostile-configs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SCHEMA_FILE = join(root, 'schemas/workload-config.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const validate = new Ajv2020Module.default({ allErrors: true, strict: true }).compile(schema);

/** The checker's verdict: undefined when it accepts, else its message. */
function checkerProblem(value: unknown): string | undefined {
  try {
    checkWorkloadConfig(value);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Where each backend puts a workload: the local backend's loopback address, netns, docker (as its entrypoint renders it). */
const PLACEMENTS = {
  local: (i: number) => ({ address: `127.77.${i >> 8}.${(i & 255) + 1}`, app: (a: string) => a }),
  netns: (i: number) => ({ address: `10.77.${i >> 8}.${(i & 255) + 2}`, app: () => '127.0.0.1' }),
  docker: (i: number) => ({ address: `172.18.${i >> 8}.${(i & 255) + 2}`, app: (a: string) => a }),
} as const;

/** Every config the harness writes for a scenario in one mesh mode: each workload, each policy set, each backend. */
function configsOf(s: Scenario, meshMode: MeshMode): { label: string; config: WorkloadConfig }[] {
  const o = { scenario: s, meshMode } as unknown as EnvironmentOptions;
  const sets: [string, PeerAuthenticationManifest[]][] = [['initial', s.policies.map((p) => p.manifest)]];
  for (const [name, policies] of s.chaos?.policySets ?? []) sets.push([name, policies.map((p) => p.manifest)]);
  const out: { label: string; config: WorkloadConfig }[] = [];
  for (const [backend, place] of Object.entries(PLACEMENTS)) {
    s.workloads.forEach((w: Workload, i) => {
      const { address, app } = place(i);
      const dir = `/tmp/meshconform-run/${backend}`;
      const appPorts = Object.fromEntries(w.ports.map((p, j) => [String(p.port), 40000 + j]));
      const tls = { certFile: `${dir}/workload-${i}-cert.pem`, keyFile: `${dir}/workload-${i}-key.pem`, caFile: `${dir}/workload-${i}-ca.pem` };
      const config = workloadConfig(o, w, { address, appAddress: app(address), appPorts, tls });
      for (const [set, manifests] of sets) {
        // A policy change rewrites the file with the set's manifests (the backends' applyPolicies).
        out.push({ label: `${s.name} ${meshMode} ${backend} ${w.namespace}/${w.name} ${set}`, config: { ...config, policies: structuredClone(manifests) } });
      }
    });
  }
  return out;
}

/** Every `pattern` in the schema. */
function schemaPatterns(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) schemaPatterns(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'pattern' && typeof v === 'string') out.add(v);
      else schemaPatterns(v, out);
    }
  }
  return out;
}

function inputOf(c: HostileCase): unknown {
  if ('text' in c.input) return JSON.parse(c.input.text);
  const config = validConfig();
  c.input(config);
  return config;
}

describe('workload config: the data-plane contract file', function () {
  describe('every config the harness writes conforms to the schema and passes the harness checker', function () {
    let scenarios: Scenario[] = [];
    let generatedDir = '';
    before(async function () {
      scenarios = await loadScenarios([join(root, 'scenarios')]);
      // Random policy sets too: every UNSET spelling, empty selectors, port-level maps with undeclared ports.
      generatedDir = mkdtempSync(join(tmpdir(), 'meshconform-wc-'));
      for (const g of generateScenarios(13, 40)) writeFileSync(join(generatedDir, g.fileName), g.yaml);
      scenarios.push(...(await loadScenarios([generatedDir])));
    });
    after(() => rmSync(generatedDir, { recursive: true, force: true }));

    it('for the built-in and generated scenarios, in both mesh modes, on every backend and policy set', function () {
      expect(scenarios.length).to.be.greaterThan(70);
      expect(scenarios.some((s) => s.chaos && s.chaos.policySets.size > 0)).to.equal(true);
      let count = 0;
      for (const s of scenarios) {
        for (const meshMode of ['sidecar', 'ambient'] as const) {
          const ownMode = s.mode === 'both' || s.mode === meshMode;
          for (const { label, config } of configsOf(s, meshMode)) {
            const parsed = JSON.parse(JSON.stringify(config)) as unknown; // what the data plane reads
            expect(validate(parsed), `${label}: ${JSON.stringify(validate.errors)}`).to.equal(true);
            expect(checkerProblem(parsed), label).to.equal(undefined);
            // The data plane of the scenario's own mode accepts it too (its mode-specific rules and normaliser).
            if (ownMode) expect(() => (meshMode === 'sidecar' ? checkSidecarConfig(parsed) : checkAmbientConfig(parsed)), label).to.not.throw();
            count++;
          }
        }
      }
      expect(count).to.be.greaterThan(1000);
    });
  });

  describe('the schema and the checker give the same verdict on hostile and malformed configs', function () {
    it('the valid base config is accepted by both', function () {
      expect(validate(validConfig()), JSON.stringify(validate.errors)).to.equal(true);
      expect(checkerProblem(validConfig())).to.equal(undefined);
    });

    for (const c of HOSTILE_CASES) {
      it(`${c.verdict}s ${c.name}`, function () {
        const input = inputOf(c);
        const problem = checkerProblem(input);
        const schemaAccepts = validate(input);
        expect(problem === undefined ? 'accept' : 'reject', problem).to.equal(c.verdict);
        // Cross-field rules (unique ports, app.ports keyed by the declared ports) are beyond JSON Schema.
        expect(schemaAccepts ? 'accept' : 'reject', JSON.stringify(validate.errors)).to.equal(c.crossField ? 'accept' : c.verdict);
        if (problem !== undefined) {
          expect(problem.startsWith(`${c.path}: `), problem).to.equal(true);
          expect(problem.length, 'a message quotes at most a clipped value').to.be.lessThan(400);
        }
      });
    }

    it('no case polluted a prototype', function () {
      for (const c of HOSTILE_CASES) inputOf(c);
      expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
      expect(Object.getPrototypeOf({})).to.equal(Object.prototype);
    });

    it("the checker uses exactly the schema's patterns", function () {
      expect([...schemaPatterns(schema)].sort()).to.deep.equal(Object.values(PATTERNS).sort());
    });

    it('ships with the package and is referenced by the contract doc', function () {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
      expect(pkg.files).to.include('schemas/');
      expect(readFileSync(join(root, 'docs/data-plane.md'), 'utf8')).to.include('schemas/workload-config.schema.json');
    });
  });

  describe('each harness data plane started with a bad config exits 2 naming the field', function () {
    const dir = mkdtempSync(join(tmpdir(), 'meshconform-wc-proc-'));
    const children: Child[] = [];
    after(async () => {
      for (const c of children) await stopChild(c);
      rmSync(dir, { recursive: true, force: true });
    });

    const programs = [
      { program: 'reference-sidecar', script: 'harness/reference/sidecar.mjs', mode: 'sidecar', env: {} },
      { program: 'reference-ambient', script: 'harness/reference-ambient/ambient-proxy.mjs', mode: 'ambient', env: {} },
      // Its own start check runs `<bin> -v` first: node answers it, so the config is what fails.
      { program: 'haproxy-launcher', script: 'harness/haproxy/haproxy-launcher.mjs', mode: 'sidecar', env: { MESHCONFORM_HAPROXY_BIN: process.execPath } },
    ] as const;
    const bad: [string, (c: ReturnType<typeof validConfig>) => void][] = [
      ['policies[0].spec.mtls.mode', (c) => (c.policies[0].spec.mtls.mode = 'STRIKT')],
      ['app.address', (c) => (c.app.address = 'localhost')],
      ['workload.ports[1].port', (c) => (c.workload.ports[1].port = 70000)],
    ];
    for (const p of programs) {
      for (const [path, change] of bad) {
        it(`${p.program}: ${path}`, async function () {
          const config = validConfig();
          config.mesh.mode = p.mode;
          change(config);
          const file = join(dir, `${p.program}-${path.replace(/[^a-z0-9]/gi, '_')}.json`);
          writeFileSync(file, JSON.stringify(config));
          const tmp = join(dir, `tmp-${p.program}-${children.length}`);
          mkdirSync(tmp, { mode: 0o700 });
          const child = startChild(join(root, p.script), { MESHCONFORM_WORKLOAD_CONFIG: file, MESHCONFORM_TMPDIR: tmp, ...p.env });
          children.push(child);
          expect(await child.exited).to.deep.equal({ code: 2, signal: null });
          const lines = child.stderr().trimEnd().split('\n');
          expect(lines, child.stderr()).to.have.length(1);
          expect(lines[0]!.startsWith(`${p.program}: workload config ${file}: ${path}: expected `), lines[0]).to.equal(true);
        });
      }
    }
  });
});
