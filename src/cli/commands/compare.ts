import { compareRuns, readRunResultFile, renderComparisonText } from '../../report/index.js';
import { EXIT } from '../../util/errors.js';
import type { CommandModule } from '../command-context.js';

export const compareCommand: CommandModule = (program, { out, setExitCode }) => {
  program
    .command('compare')
    .description('compare two report.json files cell by cell: regressions, fixes, new and removed cells (exit 1 on a regression)')
    .argument('<old>', "the earlier report.json (for example last night's)")
    .argument('<new>', 'the newer report.json')
    .option('--json', 'machine-readable output')
    .action(async (oldFile: string, newFile: string, flags: { json?: boolean }) => {
      const [before, after] = await Promise.all([readRunResultFile(oldFile), readRunResultFile(newFile)]);
      const c = compareRuns(before, after);
      const stream = out as NodeJS.WritableStream & { isTTY?: boolean };
      const color = stream.isTTY === true && !process.env['NO_COLOR'];
      out.write(flags.json ? `${JSON.stringify(c, null, 2)}\n` : renderComparisonText(c, { color }));
      setExitCode(c.regressions.length > 0 ? EXIT.mismatch : EXIT.ok);
    });
};
