import { ip } from './ip.js';

/** The test range (docs/architecture.md#addresses): 198.18.0.0/15, 512 /24s. */
const RANGE_BASE = ipToInt('198.18.0.0');
const RANGE_SIZE = 512;
/** 198.19.255.0/24 is the CI Docker engine's own default bridge (.ci/docker-engine.sh). */
const RESERVED = new Set([ipToInt('198.19.255.0')]);

export interface Cidr {
  readonly base: number;
  readonly bits: number;
  /** Interface the route or address is on. */
  readonly dev?: string;
}

/**
 * Every IPv4 route (all tables) and interface address of the root namespace: a /24 any of them touches is taken
 * (another run, a Docker network's bridge, a stale interface).
 */
export async function hostPrefixes(): Promise<Cidr[]> {
  const out: Cidr[] = [];
  const routes = JSON.parse((await ip(['-j', '-4', 'route', 'show', 'table', 'all'])) || '[]') as { dst?: string; dev?: string }[];
  for (const r of routes) {
    const c = parseCidr(r.dst ?? '', r.dev);
    if (c && c.bits > 0) out.push(c);
  }
  const links = JSON.parse((await ip(['-j', '-4', 'addr', 'show'])) || '[]') as { ifname: string; addr_info?: { local?: string; prefixlen?: number }[] }[];
  for (const l of links) {
    for (const a of l.addr_info ?? []) {
      const c = a.local ? parseCidr(`${a.local}/${a.prefixlen ?? 32}`, l.ifname) : undefined;
      if (c) out.push(c);
    }
  }
  return out;
}

/** Free /24s of 198.18.0.0/15 (none of `used` overlaps them, none in `claimed`), in random order. */
export function freeSubnets(used: readonly Cidr[], claimed: ReadonlySet<string>, random: () => number = Math.random): string[] {
  const free: string[] = [];
  for (let i = 0; i < RANGE_SIZE; i++) {
    const base = RANGE_BASE + i * 256;
    const name = intToIp(base);
    if (RESERVED.has(base) || claimed.has(name) || used.some((c) => overlaps(c, { base, bits: 24 }))) continue;
    free.push(name);
  }
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [free[i], free[j]] = [free[j]!, free[i]!];
  }
  return free;
}

/** Routes or addresses on other interfaces than `dev` that overlap the /24 at `base`: another run took it too. */
export function conflicts(used: readonly Cidr[], base: string, dev: string): Cidr[] {
  const mine = { base: ipToInt(base), bits: 24 };
  return used.filter((c) => c.dev !== dev && overlaps(c, mine));
}

function parseCidr(text: string, dev: string | undefined): Cidr | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(text);
  if (!m) return undefined;
  return { base: ipToInt(m[1]!), bits: m[2] === undefined ? 32 : Number(m[2]), ...(dev !== undefined ? { dev } : {}) };
}

function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (a.base & mask) >>> 0 === (b.base & mask) >>> 0;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
}
