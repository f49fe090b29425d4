import { CLIENT_KINDS, isHboneClient } from '../model/index.js';
import type { ClientKind, ExpectEntry, ExpectedOutcome, LintFinding, MeshMode, PortProtocol, Scenario } from '../model/index.js';
import { workloadKey } from './cell-key.js';
import { describeDecidedBy } from './describe-decided-by.js';
import { effectiveModes } from './effective-modes.js';
import { expectedOutcome } from './expected-outcome.js';
import { ModeIndex } from './mode-index.js';

const OUTCOMES: readonly string[] = ['allow', 'passthrough', 'deny'] satisfies ExpectedOutcome[];

/** `plaintext` / `mtls` stand for the client of the port's protocol; anything else must be a client kind. */
function resolveClient(key: string, protocol: PortProtocol): ClientKind | undefined {
  if (key === 'plaintext') return protocol === 'http' ? 'plaintext-http' : 'plaintext-tcp';
  if (key === 'mtls') return protocol === 'http' ? 'mtls-http' : 'mtls-tcp';
  return (CLIENT_KINDS as readonly string[]).includes(key) ? (key as ClientKind) : undefined;
}

/** Every author `expect` entry that contradicts the oracle (a scenario error, not a mesh failure). */
export function lintExpectations(scenario: Scenario, meshMode: MeshMode): LintFinding[] {
  const modes = new ModeIndex(effectiveModes(scenario, meshMode));
  const findings: LintFinding[] = [];
  const report = (e: ExpectEntry, message: string): void => {
    findings.push({ scenario: scenario.name, file: e.source.file, line: e.source.line, column: e.source.column, message });
  };

  for (const e of scenario.expect) {
    const w = scenario.workloads.find((x) => workloadKey(x) === e.workload);
    if (w === undefined) {
      report(e, `expect names workload ${e.workload}, which the scenario does not declare`);
      continue;
    }
    const ports = e.port === undefined ? w.ports : w.ports.filter((p) => p.port === e.port);
    if (ports.length === 0) {
      report(e, `expect names port ${e.port} of ${e.workload}, which the workload does not declare (declared: ${w.ports.map((p) => p.port).join(', ')})`);
      continue;
    }

    if (e.mode !== undefined) {
      const eff = modes.get(e.workload, e.port ?? null);
      if (eff !== undefined && eff.mode !== e.mode) {
        const where = e.port === undefined ? `${e.workload} (workload level)` : `${e.workload} port ${e.port}`;
        report(e, `${where}: the author expects mode ${e.mode}, but the oracle derives ${eff.mode}; ${describeDecidedBy(eff.decidedBy)}`);
      }
    }

    for (const [key, expected] of Object.entries(e.outcomes)) {
      if (!OUTCOMES.includes(expected)) {
        report(e, `${e.workload}: outcome "${String(expected)}" for ${key} is not one of ${OUTCOMES.join(', ')}`);
        continue;
      }
      for (const { port, protocol } of ports) {
        const client = resolveClient(key, protocol);
        if (client === undefined) {
          report(e, `${e.workload}: "${key}" is not a client kind (use plaintext, mtls or one of ${CLIENT_KINDS.join(', ')})`);
          break;
        }
        const eff = modes.get(e.workload, port);
        if (eff === undefined || isHboneClient(client)) continue;
        const derived = expectedOutcome(eff.mode, protocol, client);
        if (derived.outcome !== expected) {
          const who = key === client ? client : `${key} (${client})`;
          report(
            e,
            `${e.workload} port ${port} (${protocol}): the author expects ${who}: ${expected}, but the oracle derives ${derived.outcome} ` +
              `under mode ${eff.mode} (${derived.rule}); ${describeDecidedBy(eff.decidedBy)}`,
          );
        }
      }
    }
  }
  return findings;
}
