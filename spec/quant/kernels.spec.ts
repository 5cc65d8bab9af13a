/** The WebAssembly quantized kernels against the TypeScript reference: int8 bit for bit, 4-bit to float32 rounding. */

import { expect } from 'chai';
import {
  cpuStats, int8Linear, int8MatMul, int8VectorQuant, matmul4bit, quantize4bit, quantizeInt8Rowwise, resetCpuStats, setCpuKernels,
  setNumThreads, getNumThreads, tensor, tidy, type DType, type Tensor,
} from '../../index.js';
import { checkLeaks, normals } from './helpers.js';

function both<T>(fn: () => T): { js: T; wasm: T } {
  setCpuKernels('js');
  try {
    const js = fn();
    setCpuKernels('wasm');
    resetCpuStats();
    const wasm = fn();
    return { js, wasm };
  } finally {
    setCpuKernels('wasm');
  }
}

const values = (t: Tensor) => Array.from(t.dataSync());

describe('quant/kernels: wasm vs reference', () => {
  checkLeaks();
  let threads = 1;
  before(() => {
    threads = getNumThreads();
  });
  after(() => setNumThreads(threads));

  for (const nth of [1, 2]) {
    it(`int8 activation quantization and int8 × int8 product are bit-identical (${nth} thread(s))`, () => {
      setNumThreads(nth);
      tidy(() => {
        for (const [T, K, N] of [[1, 64, 12], [3, 70, 9], [5, 4096 + 8, 33], [130, 256, 40]]) {
          const xv = normals(T * K, T + K);
          xv[3] = 9; xv[5] = -1e6; xv[K + 7] = NaN;
          const x = tensor(xv, [T, K]);
          const st = quantizeInt8Rowwise(tensor(normals(N * K, N, 0.1), [N, K]));
          const b = tensor(normals(N, 3), [N]);
          for (const threshold of [0, 6]) {
            const r = both(() => {
              const a = int8VectorQuant(x, threshold);
              return { ca: values(a.ca), sca: values(a.sca), cols: values(a.outlierCols), y: values(int8MatMul(a, st, b)) };
            });
            expect(r.wasm.ca, `CA ${T}×${K}`).to.deep.equal(r.js.ca);
            expect(r.wasm.sca).to.deep.equal(r.js.sca);
            expect(r.wasm.cols).to.deep.equal(r.js.cols);
            expect(r.wasm.y, `Y ${T}×${K}×${N}`).to.deep.equal(r.js.y);
          }
          expect(cpuStats().wasm.Int8MatMul ?? 0).to.be.greaterThan(0);
          // The whole layer adds the 16-bit outlier product through the dense matmul, whose summation order differs.
          const full = both(() => values(int8Linear(x, st, { threshold: 6, bias: b })));
          full.wasm.forEach((v, i) => expect(v).to.be.closeTo(full.js[i], 1e-5 * (Math.abs(full.js[i]) + 1)));
        }
      });
    });

    it(`4-bit matmul agrees to float32 rounding in every compute dtype (${nth} thread(s))`, () => {
      setNumThreads(nth);
      tidy(() => {
        for (const [T, K, N, bs, dq] of [[1, 4096, 20, 64, false], [1, 96, 9, 32, true], [1, 1024, 200, 64, true], [4, 256, 10, 128, true], [33, 512, 7, 64, false], [2, 112, 5, 32, false]] as const) {
          const w = tensor(normals(N * K, K + N, 0.3), [N, K]);
          const x = tensor(normals(T * K, T), [T, K]);
          const b = tensor(normals(N, 5), [N]);
          for (const quantType of ['nf4', 'fp4'] as const) {
            const st = quantize4bit(w, { quantType, blocksize: bs, doubleQuant: dq });
            for (const computeDtype of ['float32', 'float16', 'bfloat16'] as DType[]) {
              const r = both(() => values(matmul4bit(x, st, { computeDtype, bias: b })));
              expect(cpuStats().wasm.Quant4MatMul ?? 0).to.be.greaterThan(0);
              const mag = Math.max(...r.js.map(Math.abs));
              const ulp = computeDtype === 'float32' ? 2 ** -23 : computeDtype === 'float16' ? 2 ** -10 : 2 ** -7;
              r.wasm.forEach((v, i) => {
                const tol = 2 * ulp * Math.abs(r.js[i]) + K * 2 ** -23 * mag;
                if (!(Math.abs(v - r.js[i]) <= tol)) expect.fail(`${quantType} ${computeDtype} [${T},${K},${N}] element ${i}: wasm ${v}, reference ${r.js[i]}`);
              });
            }
          }
        }
      });
    });
  }
});
