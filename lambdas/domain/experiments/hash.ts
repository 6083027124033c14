/**
 * Versioned assignment hashes. A hash version is a frozen contract: once users have been
 * bucketed with it, changing a single bit would silently move them between variants, so a
 * new algorithm gets a new version and the old one stays. The vectors in
 * test/unit/experiments/cases/hash-v1.json pin version 'v1' byte for byte.
 */

/** Number of buckets every hash maps into. */
export const BUCKET_COUNT = 10_000;

/** Hash versions this code knows. */
export type HashVersion = 'v1';

/** The version new experiments use. */
export const CURRENT_HASH_VERSION: HashVersion = 'v1';

const utf8 = new TextEncoder();

/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby's `MurmurHash3_x86_32`), over raw bytes.
 * Chosen over FNV-1a because its final avalanche (fmix32) makes the low-order digits used by
 * `mod 10000` well mixed even for sequential ids such as `user-1`, `user-2`.
 */
export function murmur3x86_32(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;

  for (let i = 0; i < blocks; i++) {
    const o = i << 2;
    let k = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }

  const tail = blocks << 2;
  const rest = bytes.length & 3;
  if (rest > 0) {
    // The 1-3 tail bytes are combined little-endian, as in the reference implementation.
    let k = 0;
    if (rest === 3) k ^= bytes[tail + 2] << 16;
    if (rest >= 2) k ^= bytes[tail + 1] << 8;
    k ^= bytes[tail];
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }

  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The canonical string a v1 hash is computed over: `${salt}:${userId}`, both NFC-normalised
 * so that the same visible id typed on different systems (composed "é" vs "e" + combining
 * accent) lands in the same bucket.
 */
export function canonicalHashInput(salt: string, userId: string): string {
  return `${salt.normalize('NFC')}:${userId.normalize('NFC')}`;
}

/**
 * Assignment hash, version 'v1'.
 *
 * Specification (language-neutral, so any other runtime can reproduce it):
 * 1. `s = NFC(salt) + ":" + NFC(userId)` (Unicode Normalization Form C, ":" is U+003A).
 * 2. `bytes = UTF-8(s)`; an unpaired UTF-16 surrogate is encoded as U+FFFD (WHATWG encoder).
 * 3. `h = MurmurHash3_x86_32(bytes, seed = 0)`, an unsigned 32-bit integer.
 * Returns `h`. Buckets use {@link bucketV1}.
 */
export function hashV1(salt: string, userId: string): number {
  return murmur3x86_32(utf8.encode(canonicalHashInput(salt, userId)), 0);
}

/**
 * Bucket of a user under hash 'v1': `hashV1(salt, userId) mod 10000`, an integer in
 * [0, 9999]. Because 2^32 is not a multiple of 10,000, buckets 0..7295 are hit by one more
 * 32-bit value than the others: a relative bias of 2.3e-6, far below anything measurable.
 */
export function bucketV1(salt: string, userId: string): number {
  return hashV1(salt, userId) % BUCKET_COUNT;
}

/** Bucket of a user under the given hash version. */
export function bucketFor({ version, salt, userId }: { version: HashVersion; salt: string; userId: string }): number {
  switch (version) {
    case 'v1':
      return bucketV1(salt, userId);
    default: {
      const unknown: never = version;
      throw new Error(`unknown hash version: ${String(unknown)}`);
    }
  }
}

/**
 * A uniform number in [0, 1) derived from `hashV1(salt, userId)` with full 32-bit
 * resolution: `hashV1 / 2^32`. Used where 1/10,000 steps are too coarse (bandit draws).
 */
export function unitIntervalV1(salt: string, userId: string): number {
  return hashV1(salt, userId) / 4_294_967_296;
}
