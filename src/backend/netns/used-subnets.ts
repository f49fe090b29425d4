import { parseCidr, type Cidr } from '../common/pick-subnet.js';
import { ip } from './ip.js';

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
