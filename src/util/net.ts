import { createConnection, createServer } from 'node:net';

/** True when something accepts TCP on address:port. */
export function tcpAccepts(address: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: address, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Resolves to an error code (e.g. EADDRINUSE) if address:port cannot be bound right now, else undefined. */
export function bindProblem(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
