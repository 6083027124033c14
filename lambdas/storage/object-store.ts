/** Small S3 objects (datasets, pointers, reports) behind the ObjectStore interface. */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** Reads and writes whole objects by key. */
export interface ObjectStore {
  /** The object's bytes, or undefined when the key does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, body: string | Uint8Array, contentType: string): Promise<void>;
  /** Every key under `prefix`, in ascending (UTF-8 binary) order, every page read. */
  list(prefix: string): Promise<string[]>;
}

/** Whether an S3 (or file system) error means "no such object". */
export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404 || e?.code === 'ENOENT';
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return response?.Body ? await response.Body.transformToByteArray() : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, body: string | Uint8Array, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page?.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page?.NextContinuationToken;
    } while (token);
    return keys;
  }
}
