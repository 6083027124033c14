/**
 * The options every AWS SDK client of the project is built with, in one place: the functions'
 * shared clients and `abrec train`'s S3 client take theirs from the environment; the local
 * runtime, `abrec simulate --train` and the benchmarks point theirs at the local servers
 * (dynalite and s3rver). Plain data, no SDK code: each caller builds its own client from it.
 */
import type { TranslateConfig } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../lib/resources.ts';
import { booleanEnv } from './env.ts';

/** The services the project's clients talk to. */
export type SdkService = 'dynamodb' | 's3' | 'sns';

/** The subset of the SDK's client configuration the project sets. */
export interface SdkClientOptions {
  endpoint?: string;
  region?: string;
  credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** S3 only: bucket in the path, not the host name (s3rver serves no virtual hosts). */
  forcePathStyle?: boolean;
  maxAttempts?: number;
}

/** s3rver accepts only its own well-known credentials; dynalite accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** The region the local runtime stands in for. */
export const LOCAL_REGION = 'us-east-1';

/** How the document clients write: numbers as JS numbers, undefined values dropped. */
export const DOCUMENT_CLIENT_OPTIONS: TranslateConfig = { marshallOptions: { removeUndefinedValues: true } };

/**
 * Options for a client of whatever `env` points at: the endpoint and region of the SDK's own
 * variables (AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL; AWS_REGION, then
 * AWS_DEFAULT_REGION), credentials left to the SDK's chain, path-style S3 addressing when
 * S3_FORCE_PATH_STYLE is set (the local runtime's s3rver), and AWS_MAX_ATTEMPTS attempts
 * (the SDK's own variable; fault tests fail fast with 1), else 3.
 */
export function environmentClientOptions(service: SdkService, env: NodeJS.ProcessEnv = process.env): SdkClientOptions {
  const endpoint = env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] || env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(service === 's3' ? { forcePathStyle: booleanEnv(ENV.s3ForcePathStyle, false, env) } : {}),
    maxAttempts: Number(env.AWS_MAX_ATTEMPTS) || 3,
  };
}

/**
 * Options for a client of one of the local servers at `endpoint`: the local runtime's region
 * and credentials, S3 addressed by path. `maxAttempts` is the SDK's default (3) unless given.
 */
export function localClientOptions(
  service: Exclude<SdkService, 'sns'>,
  endpoint: string,
  { region = LOCAL_REGION, maxAttempts }: { region?: string; maxAttempts?: number } = {},
): SdkClientOptions {
  return {
    endpoint,
    region,
    credentials: LOCAL_CREDENTIALS,
    ...(service === 's3' ? { forcePathStyle: true } : {}),
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  };
}
