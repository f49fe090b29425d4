/** HTTP/2 error codes (RFC 9113 §7), by number. */
const ERROR_NAMES: readonly string[] = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

export function http2ErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `error code ${code}`;
}

export const FRAME_RST_STREAM = 0x3;
export const FRAME_GOAWAY = 0x7;

/** The client connection preface (RFC 9113 §3.4) that precedes the client's first frame. */
const CLIENT_PREFACE_LENGTH = 24;
const HEADER_LENGTH = 9;

/** A frame seen on the wire; `errorCode` for RST_STREAM and GOAWAY once their payload is long enough to hold it. */
export interface WireFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly length: number;
  readonly errorCode?: number;
}

/**
 * Follows one direction of an HTTP/2 byte stream frame by frame without buffering payloads (only a frame header
 * and the first 8 payload bytes are kept). The probe uses it to see what node:http2 does not report: which side sent
 * a RST_STREAM or GOAWAY, and a GOAWAY our own client sent because the server's frames were malformed.
 */
export class FrameScanner {
  private skipPreface: number;
  private readonly head = Buffer.alloc(HEADER_LENGTH + 8);
  private have = 0;
  private current: { type: number; flags: number; streamId: number; length: number } | undefined;
  private remaining = 0;

  constructor(
    private readonly onFrame: (frame: WireFrame) => void,
    options: { readonly clientPreface: boolean },
  ) {
    this.skipPreface = options.clientPreface ? CLIENT_PREFACE_LENGTH : 0;
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skipPreface > 0) {
        const n = Math.min(this.skipPreface, chunk.length - i);
        this.skipPreface -= n;
        i += n;
        continue;
      }
      if (!this.current) {
        const n = Math.min(HEADER_LENGTH - this.have, chunk.length - i);
        chunk.copy(this.head, this.have, i, i + n);
        this.have += n;
        i += n;
        if (this.have < HEADER_LENGTH) return;
        this.current = {
          length: this.head.readUIntBE(0, 3),
          type: this.head[3]!,
          flags: this.head[4]!,
          streamId: this.head.readUInt32BE(5) & 0x7fffffff,
        };
        this.remaining = this.current.length;
        if (this.remaining === 0) this.complete();
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - i);
      // Keep the start of the payload: the error code of RST_STREAM (bytes 0–3) and GOAWAY (bytes 4–7).
      const keep = Math.min(n, HEADER_LENGTH + 8 - this.have);
      if (keep > 0) {
        chunk.copy(this.head, this.have, i, i + keep);
        this.have += keep;
      }
      this.remaining -= n;
      i += n;
      if (this.remaining === 0) this.complete();
    }
  }

  private complete(): void {
    const f = this.current!;
    const payload = this.head.subarray(HEADER_LENGTH, this.have);
    let errorCode: number | undefined;
    if (f.type === FRAME_RST_STREAM && payload.length >= 4) errorCode = payload.readUInt32BE(0);
    if (f.type === FRAME_GOAWAY && payload.length >= 8) errorCode = payload.readUInt32BE(4);
    this.current = undefined;
    this.have = 0;
    this.onFrame({ ...f, ...(errorCode !== undefined ? { errorCode } : {}) });
  }
}
