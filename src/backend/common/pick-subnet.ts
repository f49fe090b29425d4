import { BackendError } from '../../util/errors.js';

/** The test range (docs/architecture.md#addresses): 198.18.0.0/15, 512 /24s. */
const RANGE_BASE = ipToInt('198.18.0.0');
const RANGE_SIZE = 512;
/** 198.19.255.0/24 is the CI Docker engine's own default bridge (.ci/docker-engine.sh). */
const RESERVED = new Set([ipToInt('198.19.255.0')]);
/** Picks tried before giving up when other processes keep taking the /24 we picked. */
const CLAIM_ATTEMPTS = 8;

/** An IPv4 prefix in use on this host: a route, an interface address, a Docker network. */
export interface Cidr {
  readonly base: number;
  readonly bits: number;
  /** Interface the route or address is on. */
  readonly dev?: string;
}

/** Free /24s of 198.18.0.0/15 (none of `used` overlaps them, none in `claimed`), in random order so concurrent runs rarely race for the same one. */
export function freeSubnets(used: readonly Cidr[], claimed: ReadonlySet<string> = new Set(), random: () => number = Math.random): string[] {
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

export interface SubnetClaim {
  /** What this host uses now (read again before every pick). */
  readonly used: () => Promise<Cidr[]>;
  /** Takes the /24 at `base`: true when it is ours, false when another process took it meanwhile (pick another). */
  readonly take: (base: string) => Promise<boolean>;
  /** /24s this process's environments hold: parallel starts must not pick the same one. Kept up to date when given. */
  readonly claimed?: Set<string>;
  readonly random?: () => number;
  /** Prefixes error messages. */
  readonly where: string;
  /** What makes a /24 taken on this backend, for the message when none is left. */
  readonly takenBy: string;
}

/** Picks a free /24 of 198.18.0.0/15 and takes it; another pick when a concurrent process took the same one first. */
export async function claimSubnet(c: SubnetClaim): Promise<string> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const [base] = freeSubnets(await c.used(), c.claimed, c.random);
    if (base === undefined) throw new BackendError(`${c.where}: no free /24 left in 198.18.0.0/15 (every one is ${c.takenBy}); run meshconform reap`);
    c.claimed?.add(base);
    if (await c.take(base)) return base;
    c.claimed?.delete(base);
  }
  throw new BackendError(`${c.where}: could not claim a free /24 of 198.18.0.0/15 after ${CLAIM_ATTEMPTS} attempts (other processes keep taking them)`);
}

/** `a.b.c.d` or `a.b.c.d/n`, on interface `dev`. */
export function parseCidr(text: string, dev?: string): Cidr | undefined {
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
