import { MeshconformError } from '../util/errors.js';

/** A report file given as input (`compare`, `--baseline`, `--impl-options`, `--profiles`) that cannot be used. */
export class ReportInputError extends MeshconformError {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.file = file;
  }
}
