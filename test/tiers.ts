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
 * ids are unique, and signals go only to the test's own children.
 */
export const PARALLEL: readonly Tier[] = ['unit'];

/** The tier of a test file (a path relative to the repository, with forward slashes). */
export function tierOf(file: string): Tier {
  if (listed(LIVE, file)) return 'live';
  if (listed(INTEGRATION, file)) return 'integration';
  return 'unit';
}

/** Whether `file` is one of `list`'s files or under one of its folders (ending in `/`). */
export const listed = (list: readonly string[], file: string) => list.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));

/**
 * What a group of test files needs the host to itself for while it runs. scripts/test-tier.ts runs groups side by
 * side, each in its own mocha process, but never two whose holds conflict:
 * - `engine`: the Docker engine, network namespaces and the routes in 198.18.0.0/15, which those tests compare
 *   before and after their runs (conflicts with `engine`);
 * - `loopback`: local runs on a loopback /16 picked at random from 127.64–127.253 (the local backend's default), so
 *   any /16 of that range could be taken (conflicts with `loopback` and `loopback-fixed`);
 * - `loopback-fixed`: local runs on fixed /16s of that range, different from every other group's (conflicts with
 *   `loopback`);
 * - `cpu`: the machine's cores, which the group's own tests starve on purpose (conflicts with everything).
 * A group without `loopback` or `loopback-fixed` makes its local runs on fixed /16s below 127.64, which no random pick
 * takes; no two files share one.
 */
export type Hold = 'engine' | 'loopback' | 'loopback-fixed' | 'cpu';

export interface Group {
  readonly name: string;
  /** Files or folders (ending in `/`), run in this order in one mocha process. */
  readonly files: readonly string[];
  readonly holds: readonly Hold[];
  /** Needs the system packages or the Docker engine (`.ci/run` installs and starts them while other groups run). */
  readonly system?: boolean;
  /**
   * Its tests place probes in fault windows of tens of milliseconds: it runs at a higher CPU priority than the groups
   * beside it (where the host allows), so their load does not shift its timing.
   */
  readonly timing?: boolean;
}

/**
 * The integration tier's groups, the longest chains first: a group starts as soon as nothing running conflicts with it
 * and a slot is free, the first such in this order. A file in no group runs alone.
 */
export const INTEGRATION_GROUPS: readonly Group[] = [
  // 127.3–127.36.
  { name: 'mutate', files: ['test/trust/mutate.test.ts'], holds: [] },
  {
    name: 'docker and netns',
    files: [
      'test/backend/docker/',
      'test/backend/netns/netns-backend.test.ts',
      'test/backend/netns/hostile-data-planes.test.ts',
      'test/backend/netns/app-receipts.test.ts',
      'test/chaos/netns-chaos.test.ts',
    ],
    holds: ['engine'],
    system: true,
    timing: true,
  },
  // 127.37–127.44.
  { name: 'independent sidecar', files: ['test/e2e/independent-sidecar.test.ts'], holds: [] },
  // 127.51–127.59.
  { name: 'interrupts and determinism', files: ['test/e2e/interrupts.test.ts'], holds: [] },
  // 127.61.
  { name: 'chaos suite', files: ['test/chaos/chaos-run.test.ts'], holds: [], timing: true },
  // 127.45–127.50.
  { name: 'l4 sidecar', files: ['test/e2e/l4-sidecar.test.ts'], holds: [] },
  // 127.60.
  { name: 'npm pack', files: ['test/package/'], holds: [] },
  { name: 'probe agent', files: ['test/backend/kube/probe-agent.test.ts'], holds: ['engine', 'loopback'], system: true },
  // 127.243–127.249.
  { name: 'haproxy', files: ['test/haproxy/'], holds: ['loopback-fixed'], system: true },
  // Fixed /16s and a random one.
  { name: 'html in chromium', files: ['test/report/html-browser.test.ts'], holds: ['loopback'], system: true },
  // 127.62; two busy processes starve the harness on purpose: alone, so neither it nor its neighbours lose their timing.
  { name: 'canary evidence', files: ['test/chaos/canary-evidence.test.ts'], holds: ['cpu'] },
];

/**
 * The unit tier, as one group of the schedule: random loopback /16s, and fixed ones in the random range. It takes a
 * slot per mocha worker, so only one integration group (the first in the list, mutate) runs beside it: its tests were
 * written for a machine that runs little else.
 */
export const UNIT_GROUP: Group = { name: 'unit', files: [], holds: ['loopback'] };
/** The live tier: kind makes Docker networks, and its runs take random loopback /16s. */
export const LIVE_GROUP: Group = { name: 'live', files: [], holds: ['engine', 'loopback'], system: true };

/** Whether two groups may run at the same time. */
export function compatible(a: Group, b: Group): boolean {
  const conflicts = (x: Group, y: Group) =>
    x.holds.includes('cpu') ||
    (x.holds.includes('engine') && y.holds.includes('engine')) ||
    (x.holds.includes('loopback') && (y.holds.includes('loopback') || y.holds.includes('loopback-fixed')));
  return !conflicts(a, b) && !conflicts(b, a);
}
