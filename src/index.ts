/** Public API of tsvs. */
export * from './engine/constants.js';
export * from './engine/addr.js';
export * from './engine/service.js';
export * from './engine/stats.js';
export * from './engine/sched/types.js';
export * from './engine/sched/registry.js';
