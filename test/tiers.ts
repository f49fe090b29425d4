// Which test files belong to which tier. `npm test` runs the unit tier: every test file not listed below, needing
// only Node (real processes, TLS and the local backend, no Docker, network namespaces, HAProxy, Chromium or kind).

/**
 * `npm run test:integration`: Docker, network namespaces, HAProxy, Chromium, the packed tarball, and the local runs
 * that take minutes by design (the whole suite once per planted defect, twice for determinism, under interrupts at
 * random points, and under the independent L4 sidecar per claim; chaos suites that probe for fixed durations).
 */
export const INTEGRATION: readonly string[] = [
  'test/trust/mutate.test.ts',
  'test/chaos/chaos-run.test.ts',
  'test/e2e/interrupts.test.ts',
  'test/e2e/l4-sidecar.test.ts',
  'test/e2e/independent-sidecar.test.ts',
  'test/chaos/canary-evidence.test.ts',
  'test/backend/docker/',
  'test/backend/kube/probe-agent.test.ts',
  'test/backend/netns/netns-backend.test.ts',
  'test/backend/netns/hostile-data-planes.test.ts',
  'test/backend/netns/app-receipts.test.ts',
  'test/chaos/netns-chaos.test.ts',
  'test/haproxy/',
  'test/report/html-browser.test.ts',
  'test/package/',
];

/** `npm run test:live`: a kind cluster with real Istio. */
export const LIVE: readonly string[] = ['test/backend/kube/live.test.ts'];

export const TIERS = ['unit', 'integration', 'live'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * Tiers whose files run in parallel mocha workers (scripts/test-tier.ts). The unit tier's files share nothing a
 * neighbour could disturb: each local run has its own loopback /16 (fixed per test, or random), temp folders and run
 * ids are unique, and signals go only to the test's own children. The integration tier stays serial: Docker, network
 * namespaces and the fixed-duration chaos probes compete for the host's network and timing.
 */
export const PARALLEL: readonly Tier[] = ['unit'];

/** The tier of a test file (a path relative to the repository, with forward slashes). */
export function tierOf(file: string): Tier {
  const listed = (list: readonly string[]) => list.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));
  if (listed(LIVE)) return 'live';
  if (listed(INTEGRATION)) return 'integration';
  return 'unit';
}
