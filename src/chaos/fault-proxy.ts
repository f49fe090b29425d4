import net from 'node:net';

/** What the proxy does to traffic while a fault is on (the toxiproxy model: one toxic at a time). */
export type Toxic =
  /** Each chunk waits this long, in both directions (order kept). */
  | { readonly kind: 'latency'; readonly ms: number }
  /** Each direction carries at most this many bytes per second. */
  | { readonly kind: 'bandwidth'; readonly bytesPerSecond: number }
  /** New connections are reset at once; open ones are reset when the toxic starts. */
  | { readonly kind: 'reset' }
  /** New connections are accepted and nothing is forwarded or answered (the client times out). */
  | { readonly kind: 'blackhole' }
  /** Like blackhole, and connections already open stop carrying data too. */
  | { readonly kind: 'partition' };

/** One connection through the proxy, for canaries. */
export interface ConnectionStats {
  readonly acceptedAt: number;
  closedAt?: number;
  bytesUp: number;
  bytesDown: number;
  /** What the proxy did: forwarded, reset or held. */
  fate: 'forwarded' | 'reset' | 'held';
  /** Chunks the latency or bandwidth toxic held back, per direction: the proxy's own proof that the fault acted. */
  readonly toxicHeld: { up: number; down: number };
}

export interface FaultProxy {
  /** Where the probes connect instead of the workload. */
  readonly address: string;
  readonly port: number;
  /** A second listener with the same toxic, used only by canaries so their connection's figures are their own. */
  readonly canaryPort: number;
  setToxic(toxic: Toxic | undefined): void;
  readonly toxic: Toxic | undefined;
  /** The most recent canary connection. */
  lastCanary(): ConnectionStats | undefined;
  close(): Promise<void>;
}

const CHUNK = 1024;

/** A fault-injecting TCP proxy on 127.0.0.1 in front of `upstream`; forwards untouched until a toxic is set. */
export async function startFaultProxy(upstream: { readonly address: string; readonly port: number }, now: () => number = Date.now): Promise<FaultProxy> {
  const p: ProxyState = { upstream, now, toxic: undefined, conns: new Set(), lastCanary: undefined };
  const main = await listen(p, false);
  const canary = await listen(p, true).catch(async (err: unknown) => {
    await new Promise<void>((r) => main.close(() => r()));
    throw err;
  });
  const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

  return {
    address: '127.0.0.1',
    port: portOf(main),
    canaryPort: portOf(canary),
    get toxic() {
      return p.toxic;
    },
    setToxic: (next) => setToxic(p, next),
    lastCanary: () => p.lastCanary,
    async close() {
      for (const c of [...p.conns]) destroy(p, c, false);
      await Promise.all([main, canary].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

/** What every connection of one proxy shares. */
interface ProxyState {
  readonly upstream: { readonly address: string; readonly port: number };
  readonly now: () => number;
  toxic: Toxic | undefined;
  readonly conns: Set<Conn>;
  lastCanary: ConnectionStats | undefined;
}

interface Lane {
  /** When the previous chunk leaves: keeps order under latency and paces under bandwidth. */
  freeAt: number;
  pending: number;
}

interface Conn {
  readonly client: net.Socket;
  upstream?: net.Socket;
  readonly stats: ConnectionStats;
  held: boolean;
  readonly timers: Set<NodeJS.Timeout>;
  readonly up: Lane;
  readonly down: Lane;
}

function listen(p: ProxyState, canary: boolean): Promise<net.Server> {
  return new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => onConnection(p, s, canary));
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function setToxic(p: ProxyState, next: Toxic | undefined): void {
  const before = p.toxic;
  p.toxic = next;
  if (next?.kind === 'reset') for (const c of [...p.conns]) destroy(p, c, true);
  if (next?.kind === 'partition') for (const c of p.conns) c.held = true;
  // Lifting a blackhole or partition ends what it held: the clients see the connection close.
  if ((before?.kind === 'blackhole' || before?.kind === 'partition') && next?.kind !== before.kind) {
    for (const c of [...p.conns]) if (c.held) destroy(p, c, false);
  }
}

function destroy(p: ProxyState, c: Conn, reset: boolean): void {
  for (const t of c.timers) clearTimeout(t);
  c.timers.clear();
  if (reset && !c.client.destroyed) c.client.resetAndDestroy();
  else c.client.destroy();
  c.upstream?.destroy();
  c.stats.closedAt ??= p.now();
  p.conns.delete(c);
}

function onConnection(p: ProxyState, client: net.Socket, canary: boolean): void {
  const stats: ConnectionStats = { acceptedAt: p.now(), bytesUp: 0, bytesDown: 0, fate: 'forwarded', toxicHeld: { up: 0, down: 0 } };
  if (canary) p.lastCanary = stats;
  const c: Conn = { client, stats, held: false, timers: new Set(), up: { freeAt: 0, pending: 0 }, down: { freeAt: 0, pending: 0 } };
  p.conns.add(c);
  client.on('error', () => destroy(p, c, false));
  client.on('close', () => destroy(p, c, false));
  const t = p.toxic;
  if (t?.kind === 'reset') {
    stats.fate = 'reset';
    destroy(p, c, true);
    return;
  }
  if (t?.kind === 'blackhole' || t?.kind === 'partition') {
    stats.fate = 'held';
    c.held = true;
    client.resume(); // swallow what the client sends
    return;
  }
  forward(p, c);
}

/** Connects the upstream and relays both directions through the toxic. */
function forward(p: ProxyState, c: Conn): void {
  const { client, stats } = c;
  const up = net.connect({ host: p.upstream.address, port: p.upstream.port, allowHalfOpen: true });
  c.upstream = up;
  up.on('error', () => destroy(p, c, true)); // a refused upstream is a reset to the client: nothing else can be said
  up.on('close', () => {
    // Let queued bytes towards the client drain before closing it.
    if (c.down.pending === 0) destroy(p, c, false);
    else {
      const timer = setTimeout(() => destroy(p, c, false), Math.max(0, c.down.freeAt - p.now()) + 1);
      c.timers.add(timer);
    }
  });
  const toUpstream = () => c.upstream;
  const toClient = () => c.client;
  client.on('data', (d: Buffer) => relay(p, c, c.up, toUpstream, d, (n) => (stats.bytesUp += n)));
  client.on('end', () => relay(p, c, c.up, toUpstream, null, () => {}));
  up.on('data', (d: Buffer) => relay(p, c, c.down, toClient, d, (n) => (stats.bytesDown += n)));
  up.on('end', () => relay(p, c, c.down, toClient, null, () => {}));
}

/** Sends `data` (or the end of the stream, `null`) from one side to the other under the current toxic. */
function relay(p: ProxyState, c: Conn, lane: Lane, to: () => net.Socket | undefined, data: Buffer | null, count: (n: number) => void): void {
  if (c.held) return;
  const t = p.toxic;
  const pieces = data === null ? [null] : t?.kind === 'bandwidth' ? split(data) : [data];
  for (const piece of pieces) {
    let due = Math.max(p.now(), lane.freeAt);
    if (t?.kind === 'latency') due = Math.max(due, p.now() + t.ms);
    if (t?.kind === 'bandwidth' && piece) due += (piece.length / t.bytesPerSecond) * 1000;
    lane.freeAt = due;
    const send = () => {
      const target = to();
      if (!target || target.destroyed || c.held) return;
      if (piece === null) target.end();
      else {
        count(piece.length);
        target.write(piece);
      }
    };
    const wait = due - p.now();
    if (piece !== null && (t?.kind === 'latency' || t?.kind === 'bandwidth') && wait > 0) c.stats.toxicHeld[lane === c.up ? 'up' : 'down']++;
    if (wait <= 0 && lane.pending === 0) send();
    else {
      lane.pending++;
      const timer = setTimeout(
        () => {
          c.timers.delete(timer);
          lane.pending--;
          send();
        },
        Math.max(0, wait),
      );
      c.timers.add(timer);
    }
  }
}

function split(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += CHUNK) out.push(data.subarray(i, i + CHUNK));
  return out;
}
