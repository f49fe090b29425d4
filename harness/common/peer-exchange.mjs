// @ts-check
/**
 * Istio's TCP metadata exchange ("MX"), as Envoy's metadata_exchange network filter does it (istio/proxy
 * source/extensions/filters/network/metadata_exchange, 1.22–1.28). Only on a connection whose negotiated ALPN is
 * `istio-peer-exchange`, each side sends once, before any application byte: magic 0x3D230467 (u32, network order), a
 * u32 length, then that many bytes of a protobuf `google.protobuf.Any` whose value is a `google.protobuf.Struct`:
 * `{ "x-envoy-peer-metadata": { NAME, NAMESPACE, WORKLOAD_NAME, ... }, "x-envoy-peer-metadata-id": "<node id>" }`.
 *
 * Used by the reference sidecar (writes it, consumes a client's). The host prober, and the probe agent built from
 * it, have their own TypeScript codec (src/probe/peer-exchange.ts); tests check the two agree.
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

// ---- protobuf wire format (only what Any and Struct need) ----

/** @param {number} n */
function varint(n) {
  /** @type {number[]} */
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * A length-delimited field (wire type 2).
 * @param {number} field
 * @param {Buffer} bytes
 */
function lenField(field, bytes) {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/**
 * `google.protobuf.Struct` holding string values and nested Structs (Value.string_value = 3, Value.struct_value = 5;
 * Struct.fields = 1 as map entries {key = 1, value = 2}). Keys sorted, as Envoy serializes deterministically.
 * @typedef {{ [key: string]: string | StructFields }} StructFields
 * @param {StructFields} fields
 * @returns {Buffer}
 */
export function encodeStruct(fields) {
  const entries = Object.keys(fields)
    .sort()
    .map((key) => {
      const v = /** @type {string | StructFields} */ (fields[key]);
      const value = typeof v === 'string' ? lenField(3, Buffer.from(v, 'utf8')) : lenField(5, encodeStruct(v));
      return lenField(1, Buffer.concat([lenField(1, Buffer.from(key, 'utf8')), lenField(2, value)]));
    });
  return Buffer.concat(entries);
}

/**
 * @param {string} typeUrl
 * @param {Buffer} value
 */
export function encodeAny(typeUrl, value) {
  return Buffer.concat([lenField(1, Buffer.from(typeUrl, 'utf8')), lenField(2, value)]);
}

/**
 * A whole preamble (header + Any) carrying `metadata` as Envoy nests it, and the node id when given.
 * @param {Record<string, string>} metadata e.g. { NAME, NAMESPACE, WORKLOAD_NAME }
 * @param {string} [id]
 */
export function encodePreamble(metadata, id) {
  /** @type {StructFields} */
  const top = { [METADATA_KEY]: { ...metadata } };
  if (id) top[METADATA_ID_KEY] = id;
  return framePayload(encodeAny(STRUCT_TYPE_URL, encodeStruct(top)));
}

/**
 * Header (magic, length) before `payload`.
 * @param {Buffer} payload
 */
export function framePayload(payload) {
  const header = Buffer.alloc(MX_HEADER_BYTES);
  header.writeUInt32BE(MX_MAGIC, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/**
 * The fields of one protobuf message; throws on malformed wire data. Groups (wire types 3, 4) are refused: neither
 * Any nor Struct has any, and Envoy never writes them.
 * @param {Buffer} buf
 * @returns {{ field: number, wire: number, bytes?: Buffer }[]}
 */
function readMessage(buf) {
  /** @type {{ field: number, wire: number, bytes?: Buffer }[]} */
  const out = [];
  let i = 0;
  const readVarint = () => {
    let n = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = /** @type {number} */ (buf[i++]);
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
    switch (wire) {
      case 0:
        readVarint();
        out.push({ field, wire });
        break;
      case 1:
      case 5: {
        const n = wire === 1 ? 8 : 4;
        if (i + n > buf.length) throw new Error('truncated fixed-width field');
        i += n;
        out.push({ field, wire });
        break;
      }
      case 2: {
        const n = readVarint();
        if (i + n > buf.length) throw new Error('length-delimited field runs past the end');
        out.push({ field, wire, bytes: buf.subarray(i, i + n) });
        i += n;
        break;
      }
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

/**
 * `google.protobuf.Any`; throws when the bytes do not parse as one (type_url must be UTF-8, as in proto3).
 * @param {Buffer} buf
 * @returns {{ typeUrl: string, value: Buffer }}
 */
export function decodeAny(buf) {
  let typeUrl = '';
  /** @type {Buffer} */
  let value = Buffer.alloc(0);
  for (const f of readMessage(buf)) {
    if (f.wire !== 2 || !f.bytes) continue;
    if (f.field === 1) typeUrl = utf8.decode(f.bytes);
    else if (f.field === 2) value = f.bytes;
  }
  return { typeUrl, value };
}

/**
 * `google.protobuf.Struct`: string values and nested Structs; other value kinds are skipped. Throws when malformed.
 * @param {Buffer} buf
 * @param {number} [depth]
 * @returns {StructFields}
 */
export function decodeStruct(buf, depth = 0) {
  if (depth > 8) throw new Error('Struct nested too deep');
  /** @type {StructFields} */
  const out = {};
  for (const entry of readMessage(buf)) {
    if (entry.field !== 1 || !entry.bytes) continue;
    let key = '';
    /** @type {string | StructFields | undefined} */
    let value;
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

/**
 * The peer's workload name and namespace from a preamble's Struct (nested under x-envoy-peer-metadata, or at the top).
 * @param {StructFields} fields
 * @returns {{ workload?: string, namespace?: string }}
 */
export function peerOf(fields) {
  const nested = fields[METADATA_KEY];
  const md = typeof nested === 'object' ? nested : fields;
  const str = (/** @type {string} */ k) => (typeof md[k] === 'string' && md[k] !== '' ? /** @type {string} */ (md[k]) : undefined);
  const workload = str('WORKLOAD_NAME') ?? str('NAME');
  const namespace = str('NAMESPACE');
  return { ...(workload !== undefined ? { workload } : {}), ...(namespace !== undefined ? { namespace } : {}) };
}

/**
 * @typedef {{ state: 'need-more' }
 *   | { state: 'none' }
 *   | { state: 'ok', consumed: number, peer: { workload?: string, namespace?: string } }
 *   | { state: 'bad', why: string }} PreambleRead
 */

/**
 * Client side: the server's preamble at the start of `buf`. `none`: the bytes do not start with the magic (no MX; judge
 * them as usual); `need-more`: a prefix of a preamble so far; `bad`: an absurd length or a payload that is not the
 * metadata Any.
 * @param {Buffer} buf
 * @param {number} [maxPayload]
 * @returns {PreambleRead}
 */
export function readPreamble(buf, maxPayload = MX_MAX_PAYLOAD) {
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

/**
 * Server side, as Envoy's filter reads the client's first bytes: `need-more` below 8 bytes (and while a magic
 * header's payload is incomplete); `none`: no magic, every byte goes to the app; otherwise `consumed` bytes are
 * drained: header and payload when the payload parses as an Any, only the 8-byte header when it does not (the payload
 * then reaches the app).
 * @param {Buffer} buf
 * @returns {{ state: 'need-more' } | { state: 'none' } | { state: 'consumed', consumed: number, peer?: { workload?: string, namespace?: string } }}
 */
export function readClientHeader(buf) {
  if (buf.length < MX_HEADER_BYTES) return { state: 'need-more' };
  if (buf.readUInt32BE(0) !== MX_MAGIC) return { state: 'none' };
  const length = buf.readUInt32BE(4);
  if (buf.length < MX_HEADER_BYTES + length) return { state: 'need-more' };
  const payload = buf.subarray(MX_HEADER_BYTES, MX_HEADER_BYTES + length);
  try {
    const any = decodeAny(payload);
    let peer = {};
    try {
      peer = any.typeUrl === STRUCT_TYPE_URL ? peerOf(decodeStruct(any.value)) : {};
    } catch {
      // An Any whose value is not a Struct is still drained (Envoy records no peer).
    }
    return { state: 'consumed', consumed: MX_HEADER_BYTES + length, peer };
  } catch {
    return { state: 'consumed', consumed: MX_HEADER_BYTES };
  }
}
