// Building blocks for tests that run the echo app and the reference sidecar as real processes.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerAuthenticationManifest, PortProtocol, WorkloadConfig } from '../../../src/model/index.js';
import { ECHO_APP, SIDECAR, startChild, type Child } from './child.js';
import { TRUST_DOMAIN, type TestPki } from './test-pki.js';

export interface WorkloadSpec {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly address: string;
  readonly ports: readonly { readonly port: number; readonly protocol: PortProtocol }[];
}

/** A fresh 127/8 address, so parallel test files never collide on workload ports. */
export function randomLoopback(): string {
  const r = (n: number) => Math.floor(Math.random() * n);
  return `127.${100 + r(100)}.${r(250)}.${1 + r(250)}`;
}

/** Write JSON the way the harness does: to a temporary name, then rename over the target. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2));
  renameSync(tmp, file);
}

export function policy(namespace: string, name: string, spec: PeerAuthenticationManifest['spec'], creationTimestamp?: string): PeerAuthenticationManifest {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace, ...(creationTimestamp ? { creationTimestamp } : {}) },
    ...(spec ? { spec } : {}),
  };
}

export function workloadConfig(w: WorkloadSpec, appPorts: Record<string, number>, pki: TestPki, policies: PeerAuthenticationManifest[]): WorkloadConfig {
  const cert = pki.workload(w.namespace, w.name, w.address);
  return {
    apiVersion: 'meshconform.dev/v1alpha1',
    workload: {
      name: w.name,
      namespace: w.namespace,
      labels: w.labels,
      serviceAccount: w.name,
      address: w.address,
      ports: w.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    },
    app: { address: '127.0.0.1', ports: Object.fromEntries(w.ports.map((p) => [String(p.port), appPorts[`${w.namespace}/${w.name}|${p.port}`] ?? 0])) },
    mesh: { mode: 'sidecar', rootNamespace: 'istio-system', trustDomain: TRUST_DOMAIN },
    tls: { certFile: cert.certFile, keyFile: cert.keyFile, caFile: pki.meshCa.certFile },
    policies,
  };
}

/** Start one echo app serving every port of `workloads`; resolves with its app ports once it is ready. */
export async function startEcho(dir: string, workloads: readonly WorkloadSpec[], pki: TestPki): Promise<{ child: Child; ports: Record<string, number> }> {
  const file = join(dir, `echo-${Math.random().toString(36).slice(2)}.json`);
  writeJsonAtomic(file, {
    listeners: workloads.flatMap((w) => w.ports.map((p) => ({ workload: `${w.namespace}/${w.name}`, port: p.port, address: '127.0.0.1', appPort: 0 }))),
    tls: { certFile: pki.app.certFile, keyFile: pki.app.keyFile },
  });
  const child = startChild(ECHO_APP, { MESHCONFORM_ECHO_CONFIG: file });
  const line = await child.waitForLine((l) => l.startsWith('{'));
  const ready = JSON.parse(line) as { ready: boolean; ports: Record<string, number> };
  return { child, ports: ready.ports };
}

/** Start a sidecar for the given config files and wait for `ready`. */
export async function startSidecar(configFiles: readonly string[], extraEnv: Record<string, string> = {}): Promise<Child> {
  const env: Record<string, string> = configFiles.length === 1 ? { MESHCONFORM_WORKLOAD_CONFIG: configFiles[0] ?? '' } : { MESHCONFORM_WORKLOAD_CONFIGS: configFiles.join(':') };
  const child = startChild(SIDECAR, { ...env, ...extraEnv });
  await child.waitForLine((l) => l === 'ready');
  return child;
}
