import { Duplex } from 'node:stream';
import type net from 'node:net';

/**
 * A Duplex over a connected socket that shows every byte in both directions to `onIn` / `onOut` before passing it
 * on. node:http2 reads a real socket natively, so without this the probe could not see the frames on the wire.
 */
export class TappedSocket extends Duplex {
  constructor(
    private readonly socket: net.Socket,
    onIn: (chunk: Buffer) => void,
    private readonly onOut: (chunk: Buffer) => void,
  ) {
    super();
    // The socket's own error is the evidence (the probe's trace has it); a Duplex nobody listens to yet must not throw.
    this.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      onIn(chunk);
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.onOut(chunk);
    if (this.socket.destroyed) {
      callback(new Error('socket closed'));
      return;
    }
    this.socket.write(chunk, (err) => callback(err ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }
}
