// A copy of this checkout for a command that rewrites the build in place: `npm pack` runs `prepare`, whose build
// begins by removing dist/, and tests running beside it start the CLI from this checkout's dist/.
import { cpSync, symlinkSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Git's own data, build output and temp folders (all ignored by git); node_modules is linked, not copied. */
const LEFT_OUT = new Set(['.git', 'node_modules', 'dist', '.tmp']);

/** Copies the checkout into `dest` (which must not exist) with node_modules linked to this one's; returns `dest`. */
export function copyCheckout(dest: string): string {
  cpSync(root, dest, { recursive: true, filter: (src) => !LEFT_OUT.has(relative(root, src).split(sep)[0]!) });
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'), 'dir');
  return dest;
}
