import { loadScenarios } from '../../scenario/index.js';
import { lintExpectations } from '../../oracle/index.js';
import { EXIT, UsageError, formatPos } from '../../util/errors.js';
import type { CommandModule } from '../command-context.js';

export const validateCommand: CommandModule = (program, { out, err, setExitCode }) => {
  program
    .command('validate')
    .description('load and lint scenarios without running anything')
    .argument('<files...>', 'scenario files or folders')
    .option('--allow-files-outside', 'let { file: … } policy references name files outside the scenario folder tree')
    .action(async (files: string[], flags: { allowFilesOutside?: boolean }) => {
      const scenarios = await loadScenarios(files, { allowFilesOutside: flags.allowFilesOutside === true });
      if (scenarios.length === 0) throw new UsageError(`no scenarios found in ${files.join(', ')}`);
      let lintCount = 0;
      for (const s of scenarios) {
        for (const w of s.warnings) err.write(`${formatPos(w.source)}: warning: ${w.message}\n`);
        for (const m of s.mode === 'both' ? (['sidecar', 'ambient'] as const) : [s.mode]) {
          for (const f of lintExpectations(s, m)) {
            lintCount++;
            err.write(`${f.file}:${f.line}:${f.column}: lint: ${f.message}\n`);
          }
        }
      }
      out.write(`${scenarios.length} scenario(s) valid${lintCount ? `, ${lintCount} lint error(s)` : ''}\n`);
      setExitCode(lintCount > 0 ? EXIT.mismatch : EXIT.ok);
    });
};
