import type { EnvironmentOptions, Workload, WorkloadConfig } from '../model/index.js';
import { WORKLOAD_CONFIG_API_VERSION } from '../model/index.js';

/** The data-plane contract's config for one workload; every backend builds it here so they cannot drift apart. */
export function workloadConfig(
  o: EnvironmentOptions,
  w: Workload,
  where: { address: string; appAddress: string; appPorts: Record<string, number>; tls: WorkloadConfig['tls'] },
): WorkloadConfig {
  return {
    apiVersion: WORKLOAD_CONFIG_API_VERSION,
    workload: {
      name: w.name,
      namespace: w.namespace,
      labels: { ...w.labels },
      serviceAccount: w.serviceAccount,
      address: where.address,
      ports: w.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    },
    app: { address: where.appAddress, ports: where.appPorts },
    mesh: { mode: o.meshMode, rootNamespace: o.scenario.rootNamespace, trustDomain: o.scenario.trustDomain },
    tls: where.tls,
    policies: o.scenario.policies.map((p) => structuredClone(p.manifest)),
  };
}
