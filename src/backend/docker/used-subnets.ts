import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { parseCidr, type Cidr } from '../common/pick-subnet.js';

/** Prefixes a new Docker network must not overlap: this host's routes (a stale `br-*` bridge keeps one) and every Docker network's subnet. */
export async function usedSubnets(docker: Dockerode): Promise<Cidr[]> {
  return [...(await hostRoutes()), ...(await dockerSubnets(docker))];
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
  return nets.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => (c.Subnet?.includes('/') ? parseCidr(c.Subnet) : undefined)).filter((c) => c !== undefined));
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
