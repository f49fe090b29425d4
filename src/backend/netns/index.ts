export { createNetnsBackend, type NetnsBackend, type NetnsBackendOptions } from './netns-backend.js';
export { netnsHostProblem, type NetnsHost } from './preflight.js';
export { reapNetns, type NetnsReapOptions, type NetnsReapResult } from './reap.js';
export { NETNS_PREFIX, HOST_IF_PREFIX } from './names.js';
