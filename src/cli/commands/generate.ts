import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateScenarios, loadScenarios } from '../../scenario/index.js';
import { MAX_SEED } from '../../util/seeded-random.js';
import { MeshconformError, UsageError } from '../../util/errors.js';
import { int, type CommandModule } from '../command-context.js';

interface GenerateFlags {
  seed?: number;
  count: number;
  out?: string;
}

export const generateCommand: CommandModule = (program, { out }) => {
  program
    .command('generate')
    .description('write random valid scenarios (a differential test of a data plane against the oracle: `meshconform run <dir>`)')
    .option('--seed <n>', `seed of the generator, 0-${MAX_SEED} (the same seed always gives the same scenarios; random and printed when absent)`, int('--seed', 0, MAX_SEED))
    .option('--count <n>', 'number of scenarios', int('--count', 1, 10000), 10)
    .option('--out <dir>', 'folder to write <name>.yaml files to (default: reports/generated/seed-<seed>)')
    .action(async (flags: GenerateFlags) => {
      const seed = flags.seed ?? randomInt(0, MAX_SEED);
      const dir = flags.out ?? join('reports', 'generated', `seed-${seed}`);
      const generated = generateScenarios(seed, flags.count);
      try {
        await mkdir(dir, { recursive: true });
        for (const g of generated) await writeFile(join(dir, g.fileName), g.yaml);
      } catch (err) {
        throw new UsageError(`cannot write generated scenarios to ${dir}: ${(err as Error).message}`, { cause: err });
      }
      // Every generated file must load: a failure here is a generator bug, reported as such.
      try {
        await loadScenarios(generated.map((g) => join(dir, g.fileName)));
      } catch (err) {
        throw new MeshconformError(`internal error: generated scenarios do not load (seed ${seed}): ${(err as Error).message}`, { cause: err });
      }
      out.write(`wrote ${generated.length} scenario(s) to ${dir} (seed ${seed}); run them with: meshconform run ${dir}\n`);
    });
};
