import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';

/** The test range (docs/architecture.md#addresses): 198.18.0.0/15 (512 /24s). */
const RANGE_BASE = ipToInt('198.18.0.0');
const RANGE_SIZE = 512;
/** 198.19.255.0/24 is the engine's own default bridge in the CI recipe (.ci/docker-engine.sh). */
const RESERVED = new Set([ipToInt('198.19.255.0')]);

interface Cidr {
  readonly base: number;
  readonly bits: number;
}

/**
 * /24s of 198.18.0.0/15 that neither a host route (a stale `br-*` bridge keeps one) nor
 * an existing Docker network uses, in random order so concurrent runs rarely race for the same one.
 */
export async function freeSubnets(docker: Dockerode, random: () => number = Math.random): Promise<string[]> {
  const used = [...(await hostRoutes()), ...(await dockerSubnets(docker))];
  const free: string[] = [];
  for (let i = 0; i < RANGE_SIZE; i++) {
    const base = RANGE_BASE + i * 256;
    if (RESERVED.has(base) || used.some((c) => overlaps(c, { base, bits: 24 }))) continue;
    free.push(intToIp(base));
  }
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [free[i], free[j]] = [free[j]!, free[i]!];
  }
  return free;
}

/** IPv4 routes of this host from /proc/net/route, without the default route. */
async function hostRoutes(): Promise<Cidr[]> {
  let text: string;
  try {
    text = await readFile('/proc/net/route', 'utf8');
  } catch {
    return [];
  }
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    const bits = popcount(mask);
    if (bits === 0) continue;
    out.push({ base: dest, bits });
  }
  return out;
}

async function dockerSubnets(docker: Dockerode): Promise<Cidr[]> {
  const nets = await docker.listNetworks();
  const out: Cidr[] = [];
  for (const n of nets) {
    for (const c of n.IPAM?.Config ?? []) {
      const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(c.Subnet ?? '');
      if (m) out.push({ base: ipToInt(m[1]!), bits: Number(m[2]) });
    }
  }
  return out;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (a.base & mask) >>> 0 === (b.base & mask) >>> 0;
}

/** /proc/net/route prints addresses as little-endian hex. */
function leHex(hex: string): number {
  const n = parseInt(hex, 16) >>> 0;
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
}
