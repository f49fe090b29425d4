import { generateKeyPair as generateKeyPairAsync, generateKeyPairSync, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** An RSA key held as a Node KeyObject (fast native signing) plus the forge public key a certificate embeds. */
export interface KeyPair {
  readonly privateKey: KeyObject;
  /** PKCS#8 PEM. Only leaf keys are ever handed out; CA keys stay in memory. */
  readonly privateKeyPem: string;
  readonly forgePublicKey: forge.pki.rsa.PublicKey;
  /** SHA-1 of the RSAPublicKey (RFC 5280 §4.2.1.2 method 1), as forge binary bytes: the SKI / AKI value. */
  readonly keyIdentifier: string;
}

// Raw keys generated ahead of time on the thread pool (in parallel, off the event loop); taken before generating.
const pool: { privateKey: KeyObject; publicKey: KeyObject }[] = [];

/** Generates `count` RSA keys in parallel on the thread pool, for the next `generateKeyPair` calls to take. */
export async function prepareKeyPairs(count: number): Promise<void> {
  const made = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>((resolve, reject) =>
          generateKeyPairAsync('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => (err ? reject(err) : resolve({ publicKey, privateKey }))),
        ),
    ),
  );
  pool.push(...made);
}

/** Keys generated ahead and not taken yet. */
export function preparedKeyPairs(): number {
  return pool.length;
}

/** Native RSA-2048 keygen: forge's pure-JS keygen takes seconds. */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = pool.pop() ?? generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgePublicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey;
  const keyIdentifier = forge.pki.getPublicKeyFingerprint(forgePublicKey, { type: 'RSAPublicKey', encoding: 'binary' });
  return { privateKey, privateKeyPem, forgePublicKey, keyIdentifier };
}
