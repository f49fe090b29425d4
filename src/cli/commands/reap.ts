import { connectDockerEngine, reapLeftovers, RUN_LABEL } from '../../backend/docker/index.js';
import { EXIT } from '../../util/errors.js';
import type { CommandModule } from '../command-context.js';

interface ReapFlags {
  run?: string;
  all?: boolean;
}

/** `meshconform reap`: removes the containers and networks crashed runs left on the Docker engine, by label. */
export const reapCommand: CommandModule = (program, { out, setExitCode }) => {
  program
    .command('reap')
    .description(`remove Docker containers and networks that crashed runs left behind (label ${RUN_LABEL})`)
    .option('--run <id>', 'only this run id')
    .option('--all', 'also runs whose meshconform process is still alive, or that another host started')
    .action(async (flags: ReapFlags) => {
      const { docker } = await connectDockerEngine();
      const r = await reapLeftovers(docker, { ...(flags.run !== undefined ? { runId: flags.run } : {}), all: flags.all === true });
      for (const k of r.kept) out.write(`kept run ${k.runId}: ${k.why}\n`);
      if (r.runs.length === 0) {
        out.write(`nothing to reap${r.kept.length > 0 ? ` (${r.kept.length} live run(s) kept)` : ''}\n`);
      } else {
        out.write(`reaped ${r.runs.length} run(s): ${r.containers.length} container(s), ${r.networks.length} network(s)\n`);
        for (const c of r.containers) out.write(`  container ${c}\n`);
        for (const n of r.networks) out.write(`  network ${n}\n`);
      }
      setExitCode(EXIT.ok);
    });
};
