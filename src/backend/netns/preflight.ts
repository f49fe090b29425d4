import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { findOnPath } from './ip.js';

export interface NetnsHost {
  /** Effective user id (0 = root). */
  readonly euid: number | undefined;
  /** PATH to look for `ip` and `iptables` on. */
  readonly path: string;
}

/** What keeps this host from running the netns backend, as one message saying what to do; undefined when it can. */
export async function netnsHostProblem(host: NetnsHost = { euid: process.geteuid?.(), path: process.env.PATH ?? '' }): Promise<string | undefined> {
  if (process.platform !== 'linux') return `--backend netns needs Linux network namespaces; this is ${process.platform}. Use --backend local or docker`;
  if (host.euid !== 0) {
    return '--backend netns needs root: it creates network namespaces, veth pairs and a bridge. Run meshconform as root (e.g. sudo -E env PATH="$PATH" meshconform run … --backend netns), or use --backend local, which needs no privileges';
  }
  if ((await findOnPath('ip', host.path)) === undefined) {
    return '--backend netns needs the `ip` command of iproute2 on PATH: install it (apt-get install iproute2), or use --backend local';
  }
  return undefined;
}

/** True when `iptables` is on PATH (the packet-loss chaos fault needs it); synchronous: capabilities are known up front. */
export function hasIptables(path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, 'iptables'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
