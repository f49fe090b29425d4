import type { CredentialName } from '../model/index.js';

/** A client certificate and its key, PEM. */
export interface PemCredential {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Which client certificate a TLS probe presents (the names the probe agent's protocol carries too). */
export type { CredentialName };

/**
 * What the probes need from the PKI. Structural on purpose: `run/` passes the pki stage's `probeMaterial()` without
 * either stage importing the other. A missing credential turns the probes that need it into `error` observations.
 */
export interface ProbeMaterial {
  /** Mesh trust bundle (one or more PEM certificates): a server cert chaining here was issued by the mesh. */
  readonly meshCaPem: string;
  /** The echo application's own CA: a server cert chaining here means TLS reached the app (pass-through). */
  readonly appCaPem: string;
  readonly clients: { readonly [K in CredentialName]?: PemCredential };
}
