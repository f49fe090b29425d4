import type { Backend, Environment, EnvironmentOptions } from '../model/index.js';
import { pushTeardown } from './teardown.js';

/**
 * Starts one scenario's environment so that Ctrl-C or SIGTERM during the start aborts it and waits for what the start
 * created to be removed. The caller registers the environment's own teardown once this resolves.
 */
export async function startEnvironment(backend: Backend, label: string, options: Omit<EnvironmentOptions, 'signal'>): Promise<Environment> {
  // Registered before the start, so an interrupt during it still removes what the start created.
  const abort = new AbortController();
  let starting: Promise<unknown> = Promise.resolve();
  const removeStart = pushTeardown(`start of ${label}`, async () => {
    abort.abort();
    await starting.catch(() => {});
  });
  try {
    const p = backend.start({ ...options, signal: abort.signal });
    starting = p;
    return await p;
  } finally {
    removeStart();
  }
}
