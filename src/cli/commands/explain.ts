import { loadScenarios } from '../../scenario/index.js';
import { explain, explainLines } from '../../oracle/index.js';
import type { CommandModule } from '../command-context.js';

export const explainCommand: CommandModule = (program, { out }) => {
  program
    .command('explain')
    .description('print the effective mTLS mode of every workload and port (per mesh mode), and the policies that decided it')
    .argument('<files...>', 'scenario files or folders')
    .option('--json', 'machine-readable output')
    .option('--allow-files-outside', 'let { file: … } policy references name files outside the scenario folder tree')
    .action(async (files: string[], flags: { json?: boolean; allowFilesOutside?: boolean }) => {
      const scenarios = await loadScenarios(files, { allowFilesOutside: flags.allowFilesOutside === true });
      if (flags.json) {
        out.write(`${JSON.stringify(explain(scenarios), null, 2)}\n`);
        return;
      }
      let last = '';
      for (const e of explainLines(scenarios)) {
        const title = `${e.scenario} [${e.meshMode}]`;
        if (title !== last) out.write(`${last ? '\n' : ''}${title}\n`);
        last = title;
        const where = e.port === null ? `${e.workload} (workload)` : `${e.workload}:${e.port}`;
        const why = e.decidedBy.length === 0 ? 'no policy applies: PERMISSIVE by default' : e.decidedBy.map((d) => `${d.level} ${d.namespace}/${d.name}`).join(' → ');
        out.write(`  ${where.padEnd(36)} ${e.mode.padEnd(10)} ${why}\n`);
        for (const n of e.notes) out.write(`  ${''.padEnd(36)} ${''.padEnd(10)} note: ${n}\n`);
      }
    });
};
