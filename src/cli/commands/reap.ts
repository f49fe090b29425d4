import { Option } from 'commander';
import { argvValue } from '../argv-value.js';
import { connectDockerEngine, reapLeftovers, RUN_LABEL } from '../../backend/docker/index.js';
import { netnsHostProblem, reapNetns, NETNS_PREFIX } from '../../backend/netns/index.js';
import { BackendError, EXIT } from '../../util/errors.js';
import type { CommandModule } from '../command-context.js';
import { reapKubeLeftovers } from './reap-kube.js';
import { reapHost } from '../../run/reap-host.js';

interface ReapFlags {
  run?: string;
  all?: boolean;
  backend?: 'local' | 'docker' | 'netns';
  context?: string;
  kind?: boolean;
}

/**
 * `meshconform reap`: removes what crashed runs left behind: process groups and temporary folders they recorded on
 * this host (keys first), Docker containers and networks (by label) and network namespaces with their host
 * interfaces (by name). Every backend this host can reach, unless `--backend` names one.
 */
export const reapCommand: CommandModule = (program, { out, setExitCode }) => {
  program
    .command('reap')
    .description(
      `remove what crashed runs left behind: their processes and temporary folders (keys first), Docker containers and networks (label ${RUN_LABEL}), network namespaces (${NETNS_PREFIX}*) and their host interfaces`,
    )
    .option('--run <id>', 'only this run id', argvValue('--run'))
    .option('--all', 'also runs whose meshconform process is still alive, or that another host started')
    .addOption(
      new Option(
        '--backend <name>',
        'only this backend (default: every one this host can reach); local and netns include the processes and folders runs recorded on this host',
      ).choices(['local', 'docker', 'netns']),
    )
    .option('--context <name>', 'kind/cluster backends: remove labelled namespaces and objects from this kubeconfig context instead', argvValue('--context'))
    .option('--kind', 'kind backend: delete the kind clusters runs created (meshconform-*), including ones kept with --keep')
    .action(async (flags: ReapFlags) => {
      const scope = { ...(flags.run !== undefined ? { runId: flags.run } : {}), all: flags.all === true };
      if (flags.context !== undefined || flags.kind) {
        await reapKubeLeftovers(flags, scope, out);
        setExitCode(EXIT.ok);
        return;
      }
      const unreachable: string[] = [];
      const netnsProblem = flags.backend !== 'docker' && flags.backend !== 'local' ? await netnsHostProblem() : undefined;
      if (netnsProblem && flags.backend === 'netns') throw new BackendError(netnsProblem.replace('--backend netns', 'reap --backend netns'));

      // First: processes that could still write keys, then the folders holding them.
      if (flags.backend !== 'docker') {
        const r = await reapHost(scope);
        for (const k of r.kept) out.write(`host: kept run ${k.runId}: ${k.why}\n`);
        for (const p of r.problems) out.write(`host: ${p}\n`);
        if (r.runs.length === 0) {
          out.write(`host: nothing to reap${r.kept.length > 0 ? ` (${r.kept.length} live run(s) kept)` : ''}\n`);
        } else {
          out.write(`host: reaped ${r.runs.length} run(s): ${r.groups.length} process group(s), ${r.folders.length} folder(s)\n`);
          for (const g of r.groups) out.write(`  process group ${g.pgid} (${g.label})\n`);
          for (const f of r.folders) out.write(`  folder ${f}\n`);
        }
      }

      if (flags.backend !== 'netns' && flags.backend !== 'local') {
        let docker: Awaited<ReturnType<typeof connectDockerEngine>>['docker'] | undefined;
        try {
          ({ docker } = await connectDockerEngine());
        } catch (err) {
          if (flags.backend === 'docker') throw err;
          unreachable.push(`docker: ${(err as Error).message}`);
        }
        if (docker) {
          const r = await reapLeftovers(docker, scope);
          for (const k of r.kept) out.write(`docker: kept run ${k.runId}: ${k.why}\n`);
          if (r.runs.length === 0) {
            out.write(`docker: nothing to reap${r.kept.length > 0 ? ` (${r.kept.length} live run(s) kept)` : ''}\n`);
          } else {
            out.write(`docker: reaped ${r.runs.length} run(s): ${r.containers.length} container(s), ${r.networks.length} network(s)\n`);
            for (const c of r.containers) out.write(`  container ${c}\n`);
            for (const n of r.networks) out.write(`  network ${n}\n`);
          }
        }
      }

      if (flags.backend !== 'docker' && flags.backend !== 'local') {
        if (netnsProblem) {
          unreachable.push(`netns: ${netnsProblem}`);
        } else {
          const r = await reapNetns(scope);
          for (const k of r.kept) out.write(`netns: kept run ${k.runId}: ${k.why}\n`);
          if (r.runs.length === 0) {
            out.write(`netns: nothing to reap${r.kept.length > 0 ? ` (${r.kept.length} live run(s) kept)` : ''}\n`);
          } else {
            out.write(`netns: reaped ${r.runs.length} run(s): ${r.namespaces.length} namespace(s), ${r.interfaces.length} host interface(s), ${r.processes} process(es) killed\n`);
            for (const n of r.namespaces) out.write(`  namespace ${n}\n`);
            for (const i of r.interfaces) out.write(`  interface ${i}\n`);
          }
        }
      }

      // What this host recorded is always reachable: an unreachable backend is only noted.
      for (const u of unreachable) out.write(`skipped ${u}\n`);
      setExitCode(EXIT.ok);
    });
};
