/**
 * The serving hot loop in WebAssembly SIMD: itemBias[i] + dot(u, V[i]) for every item, four
 * float32 lanes per instruction with two accumulators. Scalar JavaScript does one multiply-add
 * per element and widens every float32 to float64 first, which makes scoring about twice as
 * slow as merely reading the factors; with f32x4 the loop is bound by memory, like the read.
 *
 * The module is 200-odd bytes assembled below (no toolchain, no file to load). Each serving
 * model gets its own instance whose memory holds, once per loaded version, the item factors and
 * biases; the per-request cost is copying one user's k factors in. Scores are summed in float32
 * (JavaScript sums in float64), so they can differ from scoreAllItems in the last bits.
 * Used when the factor count is a positive multiple of 8 and the runtime has SIMD.
 */

/** LEB128 of an unsigned integer. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

// Opcodes used (WebAssembly core + SIMD proposal).
const I32 = 0x7f;
const V128 = 0x7b;
const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b, // prettier-ignore
  get: 0x20,
  set: 0x21,
  i32const: 0x41,
  i32add: 0x6a,
  i32shl: 0x74,
  i32geu: 0x4f, // prettier-ignore
  f32load: 0x2a,
  f32store: 0x38,
  f32add: 0x92, // prettier-ignore
};
const simd = (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm];
const v128load = (offset: number) => simd(0x00, 4, ...uleb(offset)); // align 2^4
const v128zero = simd(0x0c, ...new Array<number>(16).fill(0));
const f32x4add = simd(228);
const f32x4mul = simd(230);
const lane = (i: number) => simd(31, i); // f32x4.extract_lane
const f32mem = [2, 0]; // align 2^2, offset 0

// score(u, v, bias, out, n, rowBytes): params 0..5; locals 6 = i, 7 = f, 8 = acc0, 9 = acc1.
const [U, V, BIAS, OUT, N, ROW, I, F, A0, A1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const body = [
  op.block,
  0x40,
  op.loop,
  0x40,
  op.get,
  I,
  op.get,
  N,
  op.i32geu,
  op.brIf,
  1,
  ...v128zero,
  op.set,
  A0,
  ...v128zero,
  op.set,
  A1,
  op.i32const,
  0,
  op.set,
  F,
  op.block,
  0x40,
  op.loop,
  0x40,
  op.get,
  F,
  op.get,
  ROW,
  op.i32geu,
  op.brIf,
  1,
  op.get,
  A0,
  op.get,
  U,
  op.get,
  F,
  op.i32add,
  ...v128load(0),
  op.get,
  V,
  op.get,
  F,
  op.i32add,
  ...v128load(0),
  ...f32x4mul,
  ...f32x4add,
  op.set,
  A0,
  op.get,
  A1,
  op.get,
  U,
  op.get,
  F,
  op.i32add,
  ...v128load(16),
  op.get,
  V,
  op.get,
  F,
  op.i32add,
  ...v128load(16),
  ...f32x4mul,
  ...f32x4add,
  op.set,
  A1,
  op.get,
  F,
  op.i32const,
  32,
  op.i32add,
  op.set,
  F,
  op.br,
  0,
  op.end,
  op.end,
  op.get,
  A0,
  op.get,
  A1,
  ...f32x4add,
  op.set,
  A0,
  op.get,
  OUT,
  op.get,
  I,
  op.i32const,
  2,
  op.i32shl,
  op.i32add,
  op.get,
  BIAS,
  op.get,
  I,
  op.i32const,
  2,
  op.i32shl,
  op.i32add,
  op.f32load,
  ...f32mem,
  op.get,
  A0,
  ...lane(0),
  op.f32add,
  op.get,
  A0,
  ...lane(1),
  op.f32add,
  op.get,
  A0,
  ...lane(2),
  op.f32add,
  op.get,
  A0,
  ...lane(3),
  op.f32add,
  op.f32store,
  ...f32mem,
  op.get,
  V,
  op.get,
  ROW,
  op.i32add,
  op.set,
  V,
  op.get,
  I,
  op.i32const,
  1,
  op.i32add,
  op.set,
  I,
  op.br,
  0,
  op.end,
  op.end,
  op.end,
]; // prettier-ignore

const moduleBytes = Uint8Array.from([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  ...section(1, vector([[0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [I32]]), 0x00]])), // type: (6 × i32) → ()
  ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // import memory, min 1 page
  ...section(3, vector([[0x00]])), // one function of type 0
  ...section(7, vector([[...name('score'), 0x00, 0x00]])), // export it
  ...section(
    10,
    vector([
      (() => {
        const fn = [
          ...vector([
            [2, I32],
            [2, V128],
          ]),
          ...body,
        ];
        return [...uleb(fn.length), ...fn];
      })(),
    ]),
  ),
]); // prettier-ignore

/** The part of the WebAssembly JS API used here (the project's type libraries do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
}

const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
let compiled: object | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is unavailable. */
function simdModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm?.validate(moduleBytes) ? new wasm.Module(moduleBytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Scores every item for one user's factors into a view of the instance's memory. */
export interface SimdScorer {
  /** Scores for the user at `userIndex`; the returned array is reused by the next call. */
  score(userFactors: Float32Array): Float32Array;
}

/**
 * A scorer holding one model's item factors and biases, or undefined when SIMD is unavailable
 * or the factor count is not a positive multiple of 8.
 */
export function createSimdScorer(itemFactors: Float32Array, itemBias: Float32Array, factors: number): SimdScorer | undefined {
  const module = simdModule();
  const items = itemBias.length;
  if (!module || !wasm || factors <= 0 || factors % 8 !== 0 || itemFactors.length !== items * factors) return undefined;
  // Layout: user factors | item bias | scores | item factors, each 16-byte aligned.
  const align = (bytes: number) => Math.ceil(bytes / 16) * 16;
  const uOffset = 0;
  const biasOffset = align(factors * 4);
  const outOffset = biasOffset + align(items * 4);
  const vOffset = outOffset + align(items * 4);
  const bytes = vOffset + itemFactors.byteLength;
  const memory = new wasm.Memory({ initial: Math.ceil(bytes / 65536) });
  new Float32Array(memory.buffer, biasOffset, items).set(itemBias);
  new Float32Array(memory.buffer, vOffset, itemFactors.length).set(itemFactors);
  const instance = new wasm.Instance(module, { env: { memory } });
  const score = instance.exports.score as (u: number, v: number, bias: number, out: number, n: number, rowBytes: number) => void;
  const user = new Float32Array(memory.buffer, uOffset, factors);
  const out = new Float32Array(memory.buffer, outOffset, items);
  return {
    score(userFactors) {
      user.set(userFactors);
      score(uOffset, vOffset, biasOffset, outOffset, items, factors * 4);
      return out;
    },
  };
}
