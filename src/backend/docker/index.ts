export { createDockerBackend, containerArgv, type DockerBackend, type DockerBackendOptions } from './docker-backend.js';
export { connectDockerEngine, type DockerEngine } from './docker-engine.js';
export { ensureHarnessImage, HARNESS_IMAGE_REPO, type HarnessImage } from './harness-image.js';
export { reapLeftovers, type ReapOptions, type ReapResult } from './reap.js';
export { RUN_LABEL } from './labels.js';
