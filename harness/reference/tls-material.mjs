// @ts-check
/**
 * A workload's TLS material (certificate, key, trust bundle), read and checked as a whole before any of it is used:
 * on a SIGHUP reload a missing, half-written or mismatched file must leave the previous material in place (Envoy
 * keeps the last good SDS secret), so every problem is found here, never halfway through building terminators.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HarnessError, describeError } from '../common/harness-error.mjs';

/**
 * @typedef {object} TlsMaterial
 * @property {Buffer} cert PEM: the workload certificate, optionally followed by its chain
 * @property {Buffer} key PEM
 * @property {Buffer} ca PEM: one or more trusted roots (a bundle during a staged CA rotation)
 * @property {X509Certificate} leaf the workload certificate
 * @property {readonly X509Certificate[]} roots every certificate of the trust bundle
 * @property {string} digest SHA-256 over the three files: equal digests mean nothing was rotated
 */

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/**
 * @param {{ certFile: string, keyFile: string, caFile: string }} files
 * @param {string} workload `namespace/name`, for messages
 * @returns {TlsMaterial}
 */
export function loadTlsMaterial(files, workload) {
  const cert = readFile(files.certFile, workload, 'certificate');
  const key = readFile(files.keyFile, workload, 'key');
  const ca = readFile(files.caFile, workload, 'trust bundle');
  const fail = (/** @type {string} */ file, /** @type {string} */ what) => new HarnessError(`invalid TLS material for ${workload}: ${file}: ${what}`);

  const certBlocks = pemBlocks(cert, 'CERTIFICATE');
  if (certBlocks.problem) throw fail(files.certFile, certBlocks.problem);
  const [leafBlock] = certBlocks.blocks;
  if (!leafBlock) throw fail(files.certFile, 'holds no PEM certificate');
  const leaf = parseCert(leafBlock, () => fail(files.certFile, 'the certificate cannot be parsed'));
  certBlocks.blocks.slice(1).forEach((b, i) => parseCert(b, () => fail(files.certFile, `chain certificate ${i + 2} cannot be parsed`)));

  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw fail(files.keyFile, `not a usable private key (${describeError(err)})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw fail(files.keyFile, `the key does not belong to the certificate in ${files.certFile}`);

  const caBlocks = pemBlocks(ca, 'CERTIFICATE');
  if (caBlocks.problem) throw fail(files.caFile, caBlocks.problem);
  if (caBlocks.blocks.length === 0) throw fail(files.caFile, 'holds no PEM certificate');
  const roots = caBlocks.blocks.map((b, i) => parseCert(b, () => fail(files.caFile, `certificate ${i + 1} of the bundle cannot be parsed`)));

  const digest = createHash('sha256').update(cert).update('\0').update(key).update('\0').update(ca).digest('hex');
  return { cert, key, ca, leaf, roots, digest };
}

/**
 * @param {string} file
 * @param {string} workload
 * @param {string} what
 */
function readFile(file, workload, what) {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new HarnessError(`cannot read TLS ${what} file ${file} for ${workload}: ${describeError(err)}`, { cause: err });
  }
}

/**
 * The PEM blocks of `type` in `buf`, and what is wrong with the file if anything: a block cut short (a write caught
 * halfway), or a block of another type where only certificates belong.
 * @param {Buffer} buf
 * @param {string} type
 * @returns {{ blocks: string[], problem?: string }}
 */
function pemBlocks(buf, type) {
  const text = buf.toString('latin1');
  /** @type {string[]} */
  const blocks = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] !== type) return { blocks, problem: `holds a PEM ${m[1]} block where only ${type} blocks belong` };
    blocks.push(m[0]);
  }
  const begins = text.match(/-----BEGIN /g)?.length ?? 0;
  if (begins !== blocks.length) return { blocks, problem: 'holds a PEM block without its END line (truncated file?)' };
  return { blocks };
}

/**
 * @param {string} pem
 * @param {() => Error} onError
 */
function parseCert(pem, onError) {
  try {
    return new X509Certificate(pem);
  } catch {
    throw onError();
  }
}
