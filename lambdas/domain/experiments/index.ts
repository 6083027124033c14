/**
 * The experiment domain: model and validation, lifecycle transitions, deterministic
 * assignment, Thompson-sampling bandits and team-draft interleaving. Pure TypeScript:
 * no AWS, no I/O, no clock reads except where `now` defaults are documented.
 */
export * from './assignment.ts';
export * from './bandit.ts';
export * from './defaults.ts';
export * from './errors.ts';
export * from './hash.ts';
export * from './interleaving.ts';
export * from './lifecycle.ts';
export * from './model.ts';
export * from './schedule.ts';
