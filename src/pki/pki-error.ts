import { MeshconformError } from '../util/errors.js';

/** Certificate material could not be built (bad identity input, bad PEM). */
export class PkiError extends MeshconformError {}
