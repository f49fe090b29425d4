import { fileURLToPath } from 'node:url';
import { parseCommandString } from 'execa';
import type { DataPlaneCapability, DataPlaneSpec, MeshMode } from '../model/index.js';
import { DATA_PLANE_CAPABILITIES } from '../model/index.js';
import { UsageError } from '../util/errors.js';

/** Files that run inside environments; started as processes, never imported. */
export function harnessFile(relative: string): string {
  return fileURLToPath(new URL(`../../harness/${relative}`, import.meta.url));
}

/** argv of the echo application. */
export function echoArgv(): string[] {
  return [process.execPath, harnessFile('echo/echo-app.mjs')];
}

/** The reference ambient data plane: a ztunnel-like node proxy per workload (harness/reference-ambient), HBONE on 15008. */
function referenceAmbient(workloadsPerProcess: number | undefined): DataPlaneSpec {
  return packed(workloadsPerProcess, {
    name: 'reference-ambient',
    argv: [process.execPath, harnessFile('reference-ambient/ambient-proxy.mjs')],
    workloadsPerProcess: workloadsPerProcess ?? 1,
    meshModes: ['ambient'],
    capabilities: ['tls-reload', 'policy-reload', 'multi-workload', 'reuse'],
    env: { MESHCONFORM_ACCESS_LOG: '1' },
  });
}

/** Without --workloads-per-process, a data plane that serves several workloads and may be reused packs static scenarios. */
function packed(workloadsPerProcess: number | undefined, spec: DataPlaneSpec): DataPlaneSpec {
  const can = spec.capabilities?.includes('multi-workload') === true && spec.capabilities.includes('reuse');
  return workloadsPerProcess === undefined && can ? { ...spec, packWorkloads: true } : spec;
}

/**
 * `reference` (the project's sidecar, started through the same contract as any other; ambient scenarios go to its
 * companion, the reference ambient proxy), `reference-ambient` (that proxy alone: sidecar scenarios are skipped),
 * `haproxy` (Debian's HAProxy configured per workload from the policy set by harness/haproxy) or `exec:<command>`.
 * The command is split like a shell would split plain words, but no shell runs it.
 */
export function resolveDataPlane(
  value: string,
  workloadsPerProcess?: number,
  defects: readonly string[] = [],
  execMeshModes?: readonly MeshMode[],
  execCapabilities?: readonly DataPlaneCapability[],
): DataPlaneSpec {
  if (execMeshModes !== undefined && !value.startsWith('exec:')) {
    throw new UsageError(`--mesh-modes declares what an exec: data plane implements; ${JSON.stringify(value)} knows its own modes`);
  }
  if (execCapabilities !== undefined && !value.startsWith('exec:')) {
    throw new UsageError(`--capabilities declares what an exec: data plane implements; ${JSON.stringify(value)} declares its own`);
  }
  if (workloadsPerProcess !== undefined && (!Number.isInteger(workloadsPerProcess) || workloadsPerProcess < 1)) {
    throw new UsageError(`--workloads-per-process must be a positive integer, got ${workloadsPerProcess}`);
  }
  // Left out: one per process, or packed where the data plane allows (packed()).
  const perProcess = workloadsPerProcess ?? 1;
  if (defects.length > 0 && value !== 'reference') {
    throw new UsageError(`--defect plants a defect in the reference data plane: it needs --data-plane reference, not ${JSON.stringify(value)}`);
  }
  if (value === 'reference') {
    // Always set, so a MESHCONFORM_DEFECTS inherited from the user's shell never plants a defect unasked.
    // The access log (one stderr line per connection decision) is the reference data plane's side of a failing cell.
    const env = { MESHCONFORM_DEFECTS: defects.join(','), MESHCONFORM_ACCESS_LOG: '1' };
    const name = defects.length > 0 ? `reference (defects: ${defects.join(', ')})` : 'reference';
    const sidecar = packed(workloadsPerProcess, {
      name,
      argv: [process.execPath, harnessFile('reference/sidecar.mjs')],
      workloadsPerProcess: perProcess,
      env,
      meshModes: ['sidecar'],
      // A planted defect may read its neighbours' files (wrong-server-identity): its processes are never reused.
      capabilities: defects.length > 0 ? DATA_PLANE_CAPABILITIES.filter((c) => c !== 'reuse') : DATA_PLANE_CAPABILITIES,
    });
    // Defects live in the sidecar only: a defect run probes nothing the defect cannot touch (ambient halves skip).
    return defects.length > 0 ? sidecar : { ...sidecar, companion: referenceAmbient(workloadsPerProcess) };
  }
  if (value === 'reference-ambient') return referenceAmbient(workloadsPerProcess);
  if (value === 'haproxy') {
    if (perProcess !== 1) throw new UsageError('--data-plane haproxy serves one workload per process: leave --workloads-per-process at 1');
    return {
      name: 'haproxy',
      argv: [process.execPath, harnessFile('haproxy/haproxy-launcher.mjs')],
      workloadsPerProcess: 1,
      // SIGHUP renders a new haproxy.cfg from the policies and certificates and reloads. No clock offset: HAProxy checks
      // certificate validity against the system clock, so clock-skew scenarios are skipped. One workload per process.
      capabilities: ['tls-reload', 'policy-reload'],
      inexpressible: [
        {
          client: 'mtls-other-trust-domain',
          modes: ['STRICT', 'PERMISSIVE'],
          reason: "HAProxy 2.6 cannot read a certificate's URI SAN, so it cannot check the SPIFFE trust domain (spec R5.1)",
        },
      ],
    };
  }
  if (value.startsWith('exec:')) {
    const command = value.slice('exec:'.length).trim();
    const argv = command ? parseCommandString(command) : [];
    if (argv.length === 0) throw new UsageError(`--data-plane exec: needs a command, e.g. --data-plane "exec:./my-proxy --flag"`);
    // By default only what the contract requires; the optional parts are declared with --capabilities.
    const capabilities = execCapabilities ?? [];
    if (perProcess > 1 && !capabilities.includes('multi-workload')) {
      throw new UsageError(
        `--workloads-per-process ${perProcess} needs a data plane that serves several workloads (MESHCONFORM_WORKLOAD_CONFIGS): declare it with --capabilities multi-workload`,
      );
    }
    return packed(workloadsPerProcess, { name: `exec:${command}`, argv, workloadsPerProcess: perProcess, meshModes: execMeshModes ?? ['sidecar'], capabilities });
  }
  throw new UsageError(`unknown data plane "${value}": use "reference", "reference-ambient", "haproxy" or "exec:<command>"`);
}

/** `--capabilities clock-offset,tls-reload,…`: the optional contract parts an exec: data plane implements. */
export function parseCapabilities(list: string): DataPlaneCapability[] {
  const names = list
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  for (const n of names) {
    if (!(DATA_PLANE_CAPABILITIES as readonly string[]).includes(n)) throw new UsageError(`--capabilities: unknown capability "${n}" (${DATA_PLANE_CAPABILITIES.join(', ')})`);
  }
  return [...new Set(names as DataPlaneCapability[])];
}
