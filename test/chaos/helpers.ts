import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin/meshconform.js');
export const CHAOS_SUITE = join(ROOT, 'scenarios/chaos');

/**
 * A temporary folder, created on first use (a suite skipped by --grep creates none) and removed by `cleanup` (call it
 * in `after`); MESHCONFORM_KEEP_TEST_FILES=1 keeps it to look at.
 */
export function tempDir(prefix = 'meshconform-chaos-test-'): { readonly path: string; cleanup(): void } {
  let path: string | undefined;
  return {
    get path() {
      path ??= mkdtempSync(join(tmpdir(), prefix));
      return path;
    },
    cleanup() {
      if (path !== undefined && !process.env['MESHCONFORM_KEEP_TEST_FILES']) rmSync(path, { recursive: true, force: true });
    },
  };
}

export const STRICT_FOO = `    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: default, namespace: foo }, spec: { mtls: { mode: STRICT } } }`;
export const PERMISSIVE_FOO = `    - { apiVersion: security.istio.io/v1, kind: PeerAuthentication, metadata: { name: default, namespace: foo }, spec: { mtls: { mode: PERMISSIVE } } }`;

/** Writes `<dir>/<name>.yaml`: a scenario whose workloads, policies and chaos section are given as YAML lines. */
export function writeScenario(dir: string, name: string, o: { workloads?: string; policies?: string; chaos: string; mode?: string }): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: meshconform.dev/v1alpha1',
      'kind: Scenario',
      `metadata: { name: ${name}, labels: { feature: chaos } }`,
      'spec:',
      ...(o.mode ? [`  mode: ${o.mode}`] : []),
      '  workloads:',
      o.workloads ?? '    - { name: finance, namespace: foo, labels: { app: finance }, ports: [8080] }',
      '  policies:',
      o.policies ?? STRICT_FOO,
      '  chaos:',
      o.chaos,
      '',
    ].join('\n'),
  );
  return file;
}
