import { loadScenarios } from '../../scenario/index.js';
import { explain } from '../../oracle/index.js';
import type { CommandModule } from '../command-context.js';

export const explainCommand: CommandModule = (program, { out }) => {
  program
    .command('explain')
    .description('print the effective mTLS mode of every workload and port, and the policies that decided it')
    .argument('<files...>', 'scenario files or folders')
    .option('--json', 'machine-readable output')
    .action(async (files: string[], flags: { json?: boolean }) => {
      const entries = explain(await loadScenarios(files));
      if (flags.json) {
        out.write(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      let last = '';
      for (const e of entries) {
        if (e.scenario !== last) out.write(`${last ? '\n' : ''}${e.scenario}\n`);
        last = e.scenario;
        const where = e.port === null ? `${e.workload} (workload)` : `${e.workload}:${e.port}`;
        const why =
          e.decidedBy.length === 0 ? 'no policy applies: PERMISSIVE by default' : e.decidedBy.map((d) => `${d.level} ${d.namespace}/${d.name}`).join(' → ');
        out.write(`  ${where.padEnd(36)} ${e.mode.padEnd(10)} ${why}\n`);
      }
    });
};
