/**
 * Bad input, op by op, from one table: a disposed tensor in every tensor position must give a
 * DisposedError naming the op and the argument, and garbage in any position must give one of the
 * library's typed errors (never a TypeError/RangeError from deep inside). A final test checks that
 * every public op is in the table.
 */

import { expect } from 'chai';
import * as ft from '../../index.js';
import { DisposedError, FlashTensorError, Tensor, tidy } from '../../index.js';
import { expectError } from '../helpers/assert.js';
import { checkLeaks } from '../helpers/tensors.js';

/** Arguments are built fresh for every call. */
type Args = unknown[];

interface OpCase {
  /** Name the op uses in its messages. */
  op: string;
  /** Valid arguments. */
  args: () => Args;
  call: (...args: never[]) => unknown;
  /** Tensor argument positions and the names the messages use. A list position uses "tensors[0]". */
  tensors: [number, string][];
}

const f = (shape: number[], dtype: ft.DType = 'float32') => ft.ones(shape, dtype);
const i32 = (vals: number[]) => ft.tensor(vals, [vals.length], 'int32');

const UNARY_OPS = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'silu', 'relu', 'gelu'] as const;
const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum',
  'equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual',
] as const;
const REDUCE_OPS = ['sum', 'mean', 'max', 'min', 'argmax', 'argmin', 'softmax', 'logSoftmax'] as const;

const CASES: OpCase[] = [
  ...UNARY_OPS.map((op) => ({ op, args: () => [f([2, 3])], call: ft[op] as OpCase['call'], tensors: [[0, 'x']] as [number, string][] })),
  { op: 'gelu', args: () => [f([2, 3]), { approximate: 'tanh' }], call: ft.gelu, tensors: [[0, 'x']] },
  ...BINARY_OPS.map((op) => ({ op, args: () => [f([2, 3]), f([3])], call: ft[op] as OpCase['call'], tensors: [[0, 'a'], [1, 'b']] as [number, string][] })),
  { op: 'logicalAnd', args: () => [f([2], 'bool'), f([2], 'bool')], call: ft.logicalAnd, tensors: [[0, 'a'], [1, 'b']] },
  { op: 'logicalOr', args: () => [f([2], 'bool'), f([2], 'bool')], call: ft.logicalOr, tensors: [[0, 'a'], [1, 'b']] },
  { op: 'logicalNot', args: () => [f([2], 'bool')], call: ft.logicalNot, tensors: [[0, 'x']] },
  { op: 'cast', args: () => [f([2]), 'int32'], call: ft.cast, tensors: [[0, 'x']] },
  { op: 'where', args: () => [f([2, 1], 'bool'), f([3]), f([2, 3])], call: ft.where, tensors: [[0, 'condition'], [1, 'a'], [2, 'b']] },
  { op: 'matmul', args: () => [f([2, 3]), f([3, 4]), { transposeA: false }], call: ft.matmul, tensors: [[0, 'a'], [1, 'b']] },
  { op: 'linear', args: () => [f([2, 3]), f([4, 3]), f([4])], call: ft.linear, tensors: [[0, 'x'], [1, 'weight'], [2, 'bias']] },
  ...REDUCE_OPS.map((op) => ({
    op,
    args: () => (op.endsWith('oftmax') ? [f([2, 3]), -1] : [f([2, 3]), -1, { keepDims: true }]),
    call: ft[op] as OpCase['call'],
    tensors: [[0, 'x']] as [number, string][],
  })),
  { op: 'layerNorm', args: () => [f([2, 3]), f([3]), f([3]), 1e-5], call: ft.layerNorm, tensors: [[0, 'x'], [1, 'weight'], [2, 'bias']] },
  { op: 'rmsNorm', args: () => [f([2, 3]), f([3]), 1e-6], call: ft.rmsNorm, tensors: [[0, 'x'], [1, 'weight']] },
  { op: 'rope', args: () => [f([2, 5, 8]), f([5, 4]), f([5, 4]), { interleaved: false }], call: ft.rope, tensors: [[0, 'x'], [1, 'cos'], [2, 'sin']] },
  { op: 'swiglu', args: () => [f([2, 3]), f([2, 3])], call: ft.swiglu, tensors: [[0, 'gate'], [1, 'up']] },
  { op: 'addRmsNorm', args: () => [f([2, 3]), f([2, 3]), f([3]), 1e-6], call: ft.addRmsNorm, tensors: [[0, 'x'], [1, 'residual'], [2, 'weight']] },
  { op: 'gather', args: () => [f([5, 3]), i32([0, 4]), 0], call: ft.gather, tensors: [[0, 'x'], [1, 'indices']] },
  { op: 'embedding', args: () => [f([5, 3]), i32([0, 4])], call: ft.embedding, tensors: [[0, 'table'], [1, 'ids']] },
  { op: 'tril', args: () => [f([3, 3]), 0], call: ft.tril, tensors: [[0, 'x']] },
  { op: 'triu', args: () => [f([3, 3]), 1], call: ft.triu, tensors: [[0, 'x']] },
  { op: 'topk', args: () => [f([2, 5]), 2, { largest: true }], call: ft.topk, tensors: [[0, 'x']] },
  { op: 'writeSlice', args: () => [f([4, 4]), f([2, 2]), [1, 1]], call: ft.writeSlice, tensors: [[0, 'dst'], [1, 'src']] },
  { op: 'reshape', args: () => [f([2, 3]), [3, 2]], call: ft.reshape, tensors: [[0, 'x']] },
  { op: 'unsqueeze', args: () => [f([2, 3]), 0], call: ft.unsqueeze, tensors: [[0, 'x']] },
  { op: 'squeeze', args: () => [f([2, 1]), 1], call: ft.squeeze, tensors: [[0, 'x']] },
  { op: 'flatten', args: () => [f([2, 3, 4]), 1, 2], call: ft.flatten, tensors: [[0, 'x']] },
  { op: 'transpose', args: () => [f([2, 3]), [1, 0]], call: ft.transpose, tensors: [[0, 'x']] },
  { op: 'transpose', args: () => [f([2, 3]), [1, 0]], call: ft.permute, tensors: [[0, 'x']] },
  { op: 'swapAxes', args: () => [f([2, 3]), 0, 1], call: ft.swapAxes, tensors: [[0, 'x']] },
  { op: 'concat', args: () => [[f([2, 3]), f([1, 3])], 0], call: ft.concat, tensors: [[0, 'tensors[0]']] },
  { op: 'stack', args: () => [[f([2, 3]), f([2, 3])], 1], call: ft.stack, tensors: [[0, 'tensors[0]']] },
  { op: 'slice', args: () => [f([4, 5]), [1, 1], [2, 2]], call: ft.slice, tensors: [[0, 'x']] },
  { op: 'split', args: () => [f([4, 5]), 2, 0], call: ft.split, tensors: [[0, 'x']] },
  { op: 'broadcastTo', args: () => [f([3, 1]), [2, 3, 4]], call: ft.broadcastTo, tensors: [[0, 'x']] },
  { op: 'expand', args: () => [f([3, 1]), [-1, 4]], call: ft.expand, tensors: [[0, 'x']] },
  { op: 'repeat', args: () => [f([2, 3]), [2, 1]], call: ft.repeat, tensors: [[0, 'x']] },
  { op: 'repeatInterleave', args: () => [f([2, 3]), 2, 1], call: ft.repeatInterleave, tensors: [[0, 'x']] },
  { op: 'zerosLike', args: () => [f([2])], call: ft.zerosLike, tensors: [[0, 'x']] },
  { op: 'onesLike', args: () => [f([2])], call: ft.onesLike, tensors: [[0, 'x']] },
  // Creation ops take no tensors; they are here for the garbage sweep.
  { op: 'tensor', args: () => [[1, 2], [2], 'float32'], call: ft.tensor, tensors: [] },
  { op: 'scalar', args: () => [1, 'float32'], call: ft.scalar, tensors: [] },
  { op: 'full', args: () => [[2], 1, 'float32'], call: ft.full, tensors: [] },
  { op: 'zeros', args: () => [[2], 'float32'], call: ft.zeros, tensors: [] },
  { op: 'ones', args: () => [[2], 'float32'], call: ft.ones, tensors: [] },
  { op: 'arange', args: () => [0, 4, 1, 'int32'], call: ft.arange, tensors: [] },
  { op: 'randn', args: () => [[2], { seed: 1, mean: 0, std: 2 }], call: ft.randn, tensors: [] },
  { op: 'rand', args: () => [[2], { seed: 1, low: -1, high: 1 }], call: ft.rand, tensors: [] },
  { op: 'fromStorage', args: () => [new Float32Array(2), [2], 'float32'], call: ft.fromStorage, tensors: [] },
];

/** Values no op should accept silently in the wrong place, nor choke on with a plain TypeError. */
const GARBAGE: [string, () => unknown][] = [
  ['undefined', () => undefined],
  ['null', () => null],
  ['a string', () => 'abc'],
  ['an object', () => ({ foo: 1 })],
  ['NaN', () => NaN],
  ['-1', () => -1],
  ['1.5', () => 1.5],
  ['Infinity', () => Infinity],
  ['2^53', () => 2 ** 53],
  ['[]', () => []],
  ['["a"]', () => ['a']],
  ['[-1, 2.5]', () => [-1, 2.5]],
  ['[null]', () => [null]],
  ['[1e12, 1e12]', () => [1e12, 1e12]],
  ['true', () => true],
  ['a function', () => () => 1],
  ['a bool tensor', () => ft.ones([2], 'bool')],
  ['a rank-0 tensor', () => ft.scalar(1)],
  ['an int32 tensor', () => ft.ones([2, 3], 'int32')],
];

describe('ops: bad input (every op)', () => {
  checkLeaks();

  describe('a disposed tensor argument → DisposedError naming the op and the argument', () => {
    for (const c of CASES) {
      for (const [pos, name] of c.tensors) {
        it(`${c.call.name || c.op}: '${name}'`, () => {
          tidy(() => {
            const args = c.args();
            const t = (Array.isArray(args[pos]) ? (args[pos] as Tensor[])[0] : args[pos]) as Tensor;
            t.dispose();
            expectError(() => c.call(...(args as never[])), DisposedError, [c.op, `'${name}'`]);
          });
        });
      }
    }
  });

  describe('garbage in any argument position → a typed library error naming the op (or a valid result), and no leak', () => {
    for (const c of CASES) {
      it(`${c.call.name || c.op}`, () => {
        // The valid call works.
        tidy(() => void c.call(...(c.args() as never[])));
        const probe = c.args();
        const n = probe.length;
        ft.dispose(probe as ft.TensorContainer);
        for (let pos = 0; pos < n; pos++) {
          for (const [what, make] of GARBAGE) {
            const args = c.args();
            ft.dispose(args[pos] as ft.TensorContainer);
            args[pos] = make();
            const before = ft.memory();
            let result: unknown;
            try {
              result = c.call(...(args as never[]));
            } catch (e) {
              if (!(e instanceof FlashTensorError)) {
                expect.fail(`${c.op}: ${what} as argument ${pos} threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
              }
              // Running out of memory is a resource error: it names the kernel, not necessarily the op.
              if (!(e instanceof ft.OutOfMemoryError) && !(e as Error).message.includes(c.op)) {
                expect.fail(`${c.op}: ${what} as argument ${pos}: message does not name the op: ${(e as Error).message}`);
              }
              const after = ft.memory();
              expect([after.numTensors, after.numBytes], `${c.op}: ${what} as argument ${pos} leaked after throwing`).to.deep.equal([
                before.numTensors,
                before.numBytes,
              ]);
            }
            ft.dispose(result as ft.TensorContainer);
            ft.dispose(args as ft.TensorContainer);
          }
        }
      });
    }
  });

  it('every public op function is covered by this table', () => {
    const covered = new Set(CASES.map((c) => c.call));
    // Public functions that are not ops on tensors.
    const notOps = new Set([
      'tidy', 'keep', 'dispose', 'memory', 'resetPeakMemory', 'setBackend', 'getBackend', 'listBackends', 'toBackend',
      'registerKernel', 'unregisterKernel', 'getKernel', 'hasKernel', 'kernelsForBackend', 'bytesPerElement', 'isFloat',
      'promoteTypes', 'check', 'toStorage', 'isLinearWeight',
      // Kernel profiler (spec/lib/profiler.spec.ts).
      'profile', 'formatProfile',
      // CPU backend settings (spec/backends/cpu).
      'cpuInfo', 'cpuStats', 'resetCpuStats', 'setNumThreads', 'getNumThreads', 'setCpuKernels', 'setSpinMicros',
      // Attention scopes and introspection (spec/attention/scopes.spec.ts).
      'sdpaKernel', 'currentSdpaScope', 'sdpaCounts', 'resetSdpaCounts', 'setSdpaDebug', 'registerSdpaCheck', 'setMathAttentionBudget',
      // Quantization: code tables, encoders, JSON and config helpers, state disposal (spec/quant).
      'codeTable', 'dynamicMapSigned', 'encodeFp4', 'encodeNf4', 'rne', 'pyFloat', 'pyFloatRepr', 'pyJsonDumps', 'isSkippedModule',
      'linearFormatFromKeys', 'quantStateJson', 'configJsonString', 'withQuantizationConfig', 'disposeInt8State', 'disposeQuant4State',
      // Model-level functions, not tensor ops (spec/models/).
      'alibiSlopes', 'bundledModelDir', 'createStreamDecoder', 'defaultInvFreq', 'llama3InvFreq', 'generate', 'generationStats',
      'parseFalconConfig', 'parseLlamaConfig', 'parseOPTConfig',
    ]);
    // Ops whose bad-input cases live in their own specs.
    const coveredElsewhere = new Set([
      'sdpa', 'explainSdpa', 'flashAttention', 'sdpaWithWeights', 'flashAttnVarlen', 'unpadInput', 'padInput', 'causalKeepMask', // spec/attention
      'loadSafetensors', 'openSafetensors', 'saveSafetensors', 'serializeSafetensors', 'layoutSafetensors', // spec/lib/safetensors.spec.ts
      'saveBytesAs', 'savedBytesAs', // spec/lib/safetensors_io.spec.ts (container dtypes)
      // spec/quant/bad_input.spec.ts
      'quantize4bit', 'dequantize4bit', 'doubleQuantize', 'restoreAbsmax', 'matmul4bit', 'quantizeInt8Rowwise', 'dequantizeInt8',
      'int8VectorQuant', 'int8MatMul', 'int8Linear', 'calibrate', 'quantizeModel', 'linearWeightFromState', 'linearWeightFromStateAsync',
      'loadQuantizedLinears', 'quantizedStateDict', 'saveQuantizedModel', 'bnbWeightTransform',
    ]);
    const missing: string[] = [];
    for (const [name, v] of Object.entries(ft)) {
      if (typeof v !== 'function' || /^[A-Z]/.test(name) || notOps.has(name) || coveredElsewhere.has(name)) continue;
      if (!covered.has(v as OpCase['call'])) missing.push(name);
    }
    expect(missing, 'ops missing from the bad-input table').to.deep.equal([]);
  });

  it('an op given a non-tensor where a tensor belongs names the argument', () => {
    tidy(() => {
      expectError(() => ft.exp([1, 2] as unknown as Tensor), ft.ArgumentError, ['exp', "'x'", 'Tensor']);
      expectError(() => ft.matmul(ft.scalar(1), 'b' as unknown as Tensor), ft.ArgumentError, ['matmul', "'b'"]);
      expectError(() => ft.add(1, 2), ft.ArgumentError, ['add', 'Tensor']);
    });
  });
});
