import fc from 'fast-check';

/**
 * Property and fuzz tests use a fixed seed, so a CI run is reproducible and never fails on a value the previous run
 * did not try; set MESHCONFORM_FUZZ_SEED to explore other values (fast-check prints the seed of a failure).
 */
export const FUZZ_SEED = Number(process.env.MESHCONFORM_FUZZ_SEED ?? 20261127);
fc.configureGlobal({ seed: FUZZ_SEED });
