/**
 * Environment variables are set by CDK (or by the local runtime, from the same definitions in
 * lib/resources.ts) and read once at module load: a missing one fails the cold start loudly
 * instead of failing some request later.
 */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is required but not set`);
  }
  return value;
}

/** An optional variable with a default. */
export function optionalEnv(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** A boolean variable (of `env`, by default the process's): 'true' / '1' / 'yes' are true; anything else is false. */
export function booleanEnv(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  return ['true', '1', 'yes'].includes(value.toLowerCase());
}
