// Whether this is a checkout whose src/ is newer than its dist/ build (or has none). An installed package ships no
// src/, so this costs one failed stat there; in a checkout, one stat per source file (a few milliseconds).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** @returns {boolean} */
export function devSourceIsNewer() {
  let built;
  try {
    built = statSync(join(root, 'dist', '.built')).mtimeMs;
  } catch {
    built = -1;
  }
  /** @param {string} dir @returns {boolean} */
  const newer = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() ? newer(p) : statSync(p).mtimeMs > built) return true;
    }
    return false;
  };
  try {
    statSync(join(root, 'src'));
  } catch {
    return false; // an installed package
  }
  return newer(join(root, 'src'));
}

/**
 * Imports the engine module: `srcUrl` through tsx when MESHCONFORM_FROM_SOURCE=1 or src/ is newer than the build,
 * else the compiled `distUrl` (an installed package has no src/ and always takes dist/).
 * @param {URL} srcUrl @param {URL} distUrl @returns {Promise<any>}
 */
export async function loadEngine(srcUrl, distUrl) {
  if (process.env.MESHCONFORM_FROM_SOURCE === '1' || devSourceIsNewer()) {
    const { register } = await import('tsx/esm/api');
    register();
    return import(srcUrl.href);
  }
  return import(distUrl.href);
}
