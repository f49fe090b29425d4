/**
 * Istio's TCP metadata exchange ("MX") as Envoy's metadata_exchange network filter does it (istio/proxy
 * source/extensions/filters/network/metadata_exchange, 1.22–1.28). Only when the negotiated ALPN is
 * `istio-peer-exchange`, each side sends once, before any application byte: magic 0x3D230467 (u32, network order), a
 * u32 length, then a protobuf `google.protobuf.Any` whose value is a `google.protobuf.Struct`
 * `{ "x-envoy-peer-metadata": { NAME, NAMESPACE, WORKLOAD_NAME, ... }, "x-envoy-peer-metadata-id": "<node id>" }`.
 * The server writes its preamble when the client's first data arrives and holds the client's bytes until it has 8.
 *
 * The reference sidecar has its own codec, harness/common/peer-exchange.mjs (src/ never imports harness/; the probe
 * agent is built from this one); tests check the two agree byte for byte.
 */

export const MX_ALPN = 'istio-peer-exchange';
export const MX_MAGIC = 0x3d230467;
export const MX_HEADER_BYTES = 8;
/** A preamble payload larger than this is not a proxy's metadata (Envoy's are a few hundred bytes). */
export const MX_MAX_PAYLOAD = 64 * 1024;
export const STRUCT_TYPE_URL = 'type.googleapis.com/google.protobuf.Struct';
export const METADATA_KEY = 'x-envoy-peer-metadata';
export const METADATA_ID_KEY = 'x-envoy-peer-metadata-id';

const MAGIC_BYTES = Buffer.from([0x3d, 0x23, 0x04, 0x67]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What a preamble said about the proxy that wrote it. */
export interface MxPeer {
  readonly workload?: string;
  readonly namespace?: string;
}

export type StructFields = { [key: string]: string | StructFields };

// ---- protobuf wire format (only what Any and Struct need) ----

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

const lenField = (field: number, bytes: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);

/** A Struct of string values and nested Structs (Value.string_value = 3, struct_value = 5), keys sorted like Envoy. */
export function encodeStruct(fields: StructFields): Buffer {
  return Buffer.concat(
    Object.keys(fields)
      .sort()
      .map((key) => {
        const v = fields[key] as string | StructFields;
        const value = typeof v === 'string' ? lenField(3, Buffer.from(v, 'utf8')) : lenField(5, encodeStruct(v));
        return lenField(1, Buffer.concat([lenField(1, Buffer.from(key, 'utf8')), lenField(2, value)]));
      }),
  );
}

export const encodeAny = (typeUrl: string, value: Buffer) => Buffer.concat([lenField(1, Buffer.from(typeUrl, 'utf8')), lenField(2, value)]);

/** Header (magic, length) before `payload`. */
export function framePayload(payload: Buffer): Buffer {
  const header = Buffer.alloc(MX_HEADER_BYTES);
  header.writeUInt32BE(MX_MAGIC, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** A whole preamble carrying `metadata` nested as Envoy nests it, and the node id when given. */
export function encodePreamble(metadata: Readonly<Record<string, string>>, id?: string): Buffer {
  const top: StructFields = { [METADATA_KEY]: { ...metadata } };
  if (id) top[METADATA_ID_KEY] = id;
  return framePayload(encodeAny(STRUCT_TYPE_URL, encodeStruct(top)));
}

interface WireField {
  readonly field: number;
  readonly wire: number;
  readonly bytes?: Buffer;
}

/** The fields of one message; throws on malformed wire data (groups refused: neither Any nor Struct has any). */
function readMessage(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  let i = 0;
  const readVarint = (): number => {
    let n = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++] as number;
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return n;
      mul *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  };
  while (i < buf.length) {
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new Error('field number 0');
    if (wire === 0) {
      readVarint();
      out.push({ field, wire });
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (i + n > buf.length) throw new Error('truncated fixed-width field');
      i += n;
      out.push({ field, wire });
    } else if (wire === 2) {
      const n = readVarint();
      if (i + n > buf.length) throw new Error('length-delimited field runs past the end');
      out.push({ field, wire, bytes: buf.subarray(i, i + n) });
      i += n;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

/** `google.protobuf.Any`; throws when the bytes do not parse as one. */
export function decodeAny(buf: Buffer): { typeUrl: string; value: Buffer } {
  let typeUrl = '';
  let value: Buffer = Buffer.alloc(0);
  for (const f of readMessage(buf)) {
    if (f.wire !== 2 || !f.bytes) continue;
    if (f.field === 1) typeUrl = utf8.decode(f.bytes);
    else if (f.field === 2) value = f.bytes;
  }
  return { typeUrl, value };
}

/** `google.protobuf.Struct`: string values and nested Structs; other value kinds are skipped. Throws when malformed. */
export function decodeStruct(buf: Buffer, depth = 0): StructFields {
  if (depth > 8) throw new Error('Struct nested too deep');
  const out: StructFields = {};
  for (const entry of readMessage(buf)) {
    if (entry.field !== 1 || !entry.bytes) continue;
    let key = '';
    let value: string | StructFields | undefined;
    for (const f of readMessage(entry.bytes)) {
      if (f.wire !== 2 || !f.bytes) continue;
      if (f.field === 1) key = utf8.decode(f.bytes);
      else if (f.field === 2) {
        value = undefined;
        for (const v of readMessage(f.bytes)) {
          if (v.wire !== 2 || !v.bytes) continue;
          if (v.field === 3) value = utf8.decode(v.bytes);
          else if (v.field === 5) value = decodeStruct(v.bytes, depth + 1);
        }
      }
    }
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Workload name (WORKLOAD_NAME, else the pod NAME) and namespace, nested under x-envoy-peer-metadata or at the top. */
export function peerOf(fields: StructFields): MxPeer {
  const nested = fields[METADATA_KEY];
  const md = typeof nested === 'object' ? nested : fields;
  const str = (k: string) => {
    const v = md[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const workload = str('WORKLOAD_NAME') ?? str('NAME');
  const namespace = str('NAMESPACE');
  return { ...(workload !== undefined ? { workload } : {}), ...(namespace !== undefined ? { namespace } : {}) };
}

export type PreambleRead =
  | { readonly state: 'need-more' }
  | { readonly state: 'none' }
  | { readonly state: 'ok'; readonly consumed: number; readonly peer: MxPeer }
  | { readonly state: 'bad'; readonly why: string };

/**
 * The server's preamble at the start of `buf`. `none`: the bytes do not start with the magic (no MX: judge them as
 * usual); `need-more`: a preamble prefix so far; `bad`: an absurd length, or a payload that is not a metadata Any.
 */
export function readPreamble(buf: Buffer, maxPayload = MX_MAX_PAYLOAD): PreambleRead {
  const n = Math.min(buf.length, MAGIC_BYTES.length);
  if (!buf.subarray(0, n).equals(MAGIC_BYTES.subarray(0, n))) return { state: 'none' };
  if (buf.length < MX_HEADER_BYTES) return { state: 'need-more' };
  const length = buf.readUInt32BE(4);
  if (length > maxPayload) return { state: 'bad', why: `preamble length ${length} bytes exceeds the ${maxPayload}-byte limit` };
  if (buf.length < MX_HEADER_BYTES + length) return { state: 'need-more' };
  try {
    const any = decodeAny(buf.subarray(MX_HEADER_BYTES, MX_HEADER_BYTES + length));
    const peer = any.typeUrl === STRUCT_TYPE_URL ? peerOf(decodeStruct(any.value)) : {};
    return { state: 'ok', consumed: MX_HEADER_BYTES + length, peer };
  } catch (err) {
    return { state: 'bad', why: `preamble payload is not a protobuf Any of a Struct (${err instanceof Error ? err.message : String(err)})` };
  }
}

/** Describes an incomplete preamble for an error message (`buf` held a prefix of one when the stream ended or stalled). */
export function incompletePreamble(buf: Buffer): string {
  if (buf.length < MX_HEADER_BYTES) return `${buf.length} of the 8 header bytes`;
  return `${buf.length - MX_HEADER_BYTES} of ${buf.readUInt32BE(4)} payload bytes`;
}

/**
 * The header the probe sends first when it negotiated `istio-peer-exchange`, as an Istio sidecar client does: a
 * well-formed Any, so an Envoy server drains it and only the probe line reaches the application.
 */
export const PROBE_MX_HEADER = encodePreamble({ NAME: 'meshconform-probe', WORKLOAD_NAME: 'meshconform-probe' }, 'meshconform-probe');
