/**
 * Dense linear algebra for the item-item models (EASE, item-kNN), on row-major Float64Arrays
 * with every inner loop running over contiguous memory: a Gram matrix from the interactions,
 * the inverse of a symmetric positive definite matrix through its Cholesky factor, and an
 * orthonormal basis of a matrix's dominant row space (randomised subspace iteration).
 */
import type { RatingsDataset } from '../types.ts';
import { normalStream, sfc32 } from '../data/random.ts';
import { buildSeenItems, HyperparameterError } from './common.ts';

/** Each user's distinct items, CSR (users x items binary matrix X). */
export interface BinaryInteractions {
  offsets: Int32Array;
  items: Int32Array;
}

/** The binary user x item matrix of the ratings: a (user, item) pair is 1 however often it occurs (each user's seen items). */
export function binaryInteractions(dataset: RatingsDataset): BinaryInteractions {
  const { seenOffsets, seenItems } = buildSeenItems(dataset);
  return { offsets: seenOffsets, items: seenItems };
}

/** G = X^T X (items x items): co-occurrence counts, item popularity on the diagonal. */
export function gramOfInteractions(x: BinaryInteractions, itemCount: number): Float64Array {
  const G = new Float64Array(itemCount * itemCount);
  for (let u = 0; u + 1 < x.offsets.length; u++) {
    const start = x.offsets[u];
    const end = x.offsets[u + 1];
    for (let a = start; a < end; a++) {
      const row = x.items[a] * itemCount;
      for (let b = start; b < end; b++) G[row + x.items[b]] += 1;
    }
  }
  return G;
}

/**
 * Overwrites the symmetric positive definite n x n matrix A with its inverse: A = L L^T
 * (Cholesky), M = L^-1 row by row, A^-1 = M^T M accumulated as rank-one updates. About
 * n^3 / 2 multiply-adds, all along rows; throws when A is not positive definite.
 */
export function invertSymmetricPositiveDefinite(A: Float64Array, n: number): void {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = A[ri + j];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      if (i === j) {
        if (!(s > 0)) throw new HyperparameterError(`matrix is not positive definite at row ${i}: raise the regularisation lambda`);
        L[ri + i] = Math.sqrt(s);
      } else {
        L[ri + j] = s / L[rj + j];
      }
    }
  }
  // M = L^-1 (lower): row i of M is (e_i - sum_{k<i} L_ik M_k) / L_ii.
  const M = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const inv = 1 / L[ri + i];
    for (let k = 0; k < i; k++) {
      const l = L[ri + k];
      if (l === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) M[ri + j] -= l * M[rk + j];
    }
    for (let j = 0; j < i; j++) M[ri + j] *= inv;
    M[ri + i] = inv;
  }
  // A^-1 = M^T M = sum_k M_k^T M_k, only rows k >= max(a, b) being non-zero at (a, b).
  A.fill(0);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let a = 0; a <= k; a++) {
      const m = M[rk + a];
      if (m === 0) continue;
      const ra = a * n;
      for (let b = 0; b <= a; b++) A[ra + b] += m * M[rk + b];
    }
  }
  for (let a = 0; a < n; a++) for (let b = 0; b < a; b++) A[b * n + a] = A[a * n + b];
}

/** Orthonormalises the `count` vectors of length `length` stored one after another (modified Gram-Schmidt, twice). */
function orthonormalise(vectors: Float64Array, count: number, length: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < count; c++) {
      const vc = c * length;
      for (let p = 0; p < c; p++) {
        const vp = p * length;
        let dot = 0;
        for (let j = 0; j < length; j++) dot += vectors[vc + j] * vectors[vp + j];
        for (let j = 0; j < length; j++) vectors[vc + j] -= dot * vectors[vp + j];
      }
      let norm = 0;
      for (let j = 0; j < length; j++) norm += vectors[vc + j] * vectors[vc + j];
      norm = Math.sqrt(norm);
      const scale = norm > 1e-12 ? 1 / norm : 0;
      for (let j = 0; j < length; j++) vectors[vc + j] *= scale;
    }
  }
}

/**
 * An orthonormal basis (rank vectors of length cols, one after another) of the dominant
 * row space of the rows x cols matrix S, by randomised subspace iteration (Halko, Martinsson
 * and Tropp 2011): Q = orth(S^T S Omega), then `iterations` times Q = orth(S^T S Q).
 * Projecting each row of S onto it, S Q Q^T, is close to the best rank-`rank` approximation.
 */
export function dominantRowSpace(S: Float64Array, rows: number, cols: number, rank: number, iterations: number, seed: number): Float64Array {
  const normal = normalStream(sfc32(seed));
  const Q = new Float64Array(rank * cols);
  for (let j = 0; j < Q.length; j++) Q[j] = normal();
  const projected = new Float64Array(rank);
  for (let pass = 0; pass <= iterations; pass++) {
    // Z = S^T (S Q), accumulated row by row of S.
    const Z = new Float64Array(rank * cols);
    for (let r = 0; r < rows; r++) {
      const sr = r * cols;
      for (let c = 0; c < rank; c++) {
        const qc = c * cols;
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += S[sr + j] * Q[qc + j];
        projected[c] = dot;
      }
      for (let c = 0; c < rank; c++) {
        const weight = projected[c];
        if (weight === 0) continue;
        const zc = c * cols;
        for (let j = 0; j < cols; j++) Z[zc + j] += weight * S[sr + j];
      }
    }
    orthonormalise(Z, rank, cols);
    Q.set(Z);
  }
  return Q;
}
