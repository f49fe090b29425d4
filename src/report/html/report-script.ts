import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The page script (assets/report.ts) as one browser script. The build bundles it into assets/report.js beside the
 * compiled reporter; running from source (tsx, tests), it is bundled here on first use with esbuild, a development
 * dependency that an installed package never needs.
 */
export function reportScript(): string {
  const built = new URL('./assets/report.js', import.meta.url);
  if (existsSync(built)) return readFileSync(built, 'utf8');
  return bundleReportScript();
}

/** Bundles assets/report.ts (and the shared client labels it imports) into an IIFE for the page. */
export function bundleReportScript(): string {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const out = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL('./assets/report.ts', import.meta.url))],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    charset: 'utf8',
    legalComments: 'none',
    write: false,
  });
  return out.outputFiles[0]!.text;
}
