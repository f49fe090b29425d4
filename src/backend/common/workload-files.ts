// The files a process backend (local, netns) gives each workload's data plane and echo application, in the
// environment's private folder: the data-plane contract's config, TLS material, the echo app's listeners.
import type { EnvironmentOptions, Workload, WorkloadConfig, WorkloadKey, WorkloadTls } from '../../model/index.js';
import type { PrivateDir } from '../../util/private-dir.js';
import { workloadConfig } from '../workload-config.js';
import type { EchoApp, Spawn } from './supervisor.js';
import { ConfigHistory } from './timed-log.js';
import { appPortsOf, workloadKey } from './workloads.js';

/** A workload of a running environment: its address, and the config file its data plane reads. */
export interface Member {
  readonly index: number;
  readonly workload: Workload;
  readonly key: WorkloadKey;
  /** Where the host's probes reach it. */
  readonly address: string;
  /** Our copy of what its config file holds. */
  readonly config: WorkloadConfig;
  readonly configFile: string;
  /** Policy distribution paused (chaos): `applyPolicies` leaves its config as it is. */
  paused: boolean;
  /** Every config written, with when: the evidence of what the data plane held at a probe. */
  readonly configs: ConfigHistory;
}

/** Writes workload `index`'s TLS files and config; its echo app listens on `appAddress`, behind the data plane at `address`. */
export async function writeMember(dir: PrivateDir, o: EnvironmentOptions, index: number, address: string, appAddress: string): Promise<Member> {
  const w = o.scenario.workloads[index]!;
  const tls = await writeTls(dir, index, o.identities.get(workloadKey(w))!);
  const config = workloadConfig(o, w, { address, appAddress, appPorts: appPortsOf(w), tls });
  const configFile = await dir.write(`w${index}.json`, JSON.stringify(config, null, 2));
  return { index, workload: w, key: workloadKey(w), address, config, configFile, paused: false, configs: firstConfig(config) };
}

/** Replaces workload `index`'s TLS files, each atomically: a trust bundle per workload, so a staged CA rotation changes one at a time. */
export async function writeTls(dir: PrivateDir, index: number, tls: Pick<WorkloadTls, 'certPem' | 'keyPem' | 'caPem'>): Promise<WorkloadConfig['tls']> {
  // Together: on a busy event loop each write costs a turn or two, and a rotation's SIGHUP waits for all three.
  const [certFile, keyFile, caFile] = await Promise.all([
    dir.write(`w${index}-cert.pem`, tls.certPem, 0o644),
    dir.write(`w${index}-key.pem`, tls.keyPem),
    dir.write(`w${index}-ca.pem`, tls.caPem, 0o644),
  ]);
  return { certFile, keyFile, caFile };
}

/** Rewrites the member's config file (replaced atomically; the data plane reads it on the SIGHUP that follows). */
export async function writeConfig(dir: PrivateDir, m: Member): Promise<void> {
  const text = JSON.stringify(m.config, null, 2);
  await dir.write(`w${m.index}.json`, text);
  m.configs.record(text);
}

function firstConfig(config: WorkloadConfig): ConfigHistory {
  const h = new ConfigHistory();
  h.record(JSON.stringify(config, null, 2));
  return h;
}

/** The echo application's own certificate and key. */
export async function writeAppTls(dir: PrivateDir, o: EnvironmentOptions): Promise<{ certFile: string; keyFile: string }> {
  return { certFile: await dir.write('app-cert.pem', o.appTls.certPem, 0o644), keyFile: await dir.write('app-key.pem', o.appTls.keyPem) };
}

/**
 * One echo application for `members`, listening where their configs say; its receipts (the probe ids it received) go
 * to `<name>-receipts.jsonl` in the harness's folder.
 */
export async function writeEchoApp(
  dir: PrivateDir,
  name: string,
  label: string,
  members: readonly Member[],
  appTls: { certFile: string; keyFile: string },
  spawn: Spawn,
): Promise<EchoApp & { receiptsFile: string }> {
  const listeners = members.flatMap((m) =>
    m.workload.ports.map((p) => ({ workload: m.key, port: p.port, address: m.config.app.address, appPort: m.config.app.ports[String(p.port)]! })),
  );
  const receiptsFile = `${dir.path}/${name}-receipts.jsonl`;
  const configFile = await dir.write(`${name}.json`, JSON.stringify({ listeners, tls: appTls, receiptsFile }));
  const ports = Object.fromEntries(listeners.map((l) => [`${l.workload}|${l.port}`, l.appPort]));
  return { label, configFile, spawn, ports, receiptsFile };
}
