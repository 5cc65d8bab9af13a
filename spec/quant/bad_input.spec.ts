/** Bad inputs to every public quantization op: each error names the op (or layer) and the argument. */

import {
  ArgumentError, BitsAndBytesConfig, calibrate, dequantize4bit, dequantizeInt8, DisposedError, doubleQuantize, DTypeError,
  int8Linear, int8MatMul, int8VectorQuant, Linear, linearWeightFromState, linearWeightFromStateAsync, loadQuantizedLinears,
  matmul4bit, Module, quantize4bit, quantizedStateDict, quantizeInt8Rowwise, quantizeModel, QuantStateError, restoreAbsmax,
  saveQuantizedModel, ShapeError, tensor, tidy, zeros, type Tensor,
} from '../../index.js';
import { expect } from 'chai';
import { checkLeaks, expectThrow, normals } from './helpers.js';

const notTensor = [1, 2] as unknown as Tensor;

describe('quant: bad input', () => {
  checkLeaks();

  it('4-bit ops name the argument: non-tensors, disposed tensors, wrong dtypes and shapes', () => {
    tidy(() => {
      expectThrow(() => quantize4bit(notTensor), ArgumentError, 'quantize4bit', "'w'", 'Tensor');
      const gone = tensor([[1, 2]]);
      gone.dispose();
      expectThrow(() => quantize4bit(gone), DisposedError, 'quantize4bit', "'w'");
      expectThrow(() => quantize4bit(zeros([0, 4])), ShapeError, 'quantize4bit', "'w' must not be empty");
      const st = quantize4bit(tensor(normals(128, 1), [2, 64]), { quantType: 'nf4' });
      expectThrow(() => dequantize4bit(st, 'int32'), DTypeError, 'dequantize4bit', "'dtype'");
      expectThrow(() => dequantize4bit({ ...st, blocksize: 48 }), ArgumentError, 'dequantize4bit', "'state.blocksize'");
      expectThrow(() => dequantize4bit({ ...st, shape: [4, 64] }), ShapeError, 'dequantize4bit', "'state.packed' must be uint8 with 128 bytes");
      expectThrow(() => dequantize4bit({ ...st, absmax: zeros([3]) }), ShapeError, "'state.absmax' must be float32 [2]");
      expectThrow(() => restoreAbsmax({ ...st, quantMap: zeros([8]) }), ShapeError, 'restoreAbsmax', "'state.quantMap' must be float32 [16]");
      expectThrow(() => matmul4bit(notTensor, st), ArgumentError, 'matmul4bit', "'x'");
      expectThrow(() => matmul4bit(zeros([3, 63]), st), ShapeError, 'matmul4bit', "'x' must have 64 features");
      expectThrow(() => matmul4bit(zeros([3, 64]), st, { bias: zeros([3]) }), ShapeError, "'bias' must be [2]");
      expectThrow(() => matmul4bit(zeros([3, 64]), st, { computeDtype: 'int8' }), DTypeError, "'computeDtype'");
      expectThrow(() => doubleQuantize(zeros([4], 'uint8')), DTypeError, 'doubleQuantize', "'absmax' must be float32");
      expectThrow(() => doubleQuantize(zeros([4]), { offset: Number.NaN }), ArgumentError, 'doubleQuantize', "'offset' must be a finite number");
      expectThrow(() => matmul4bit(zeros([3, 64]), { ...st, nestedAbsmax: zeros([1]) }), ShapeError, "'state.absmax' must be uint8");
    });
  });

  it('int8 ops name the argument', () => {
    tidy(() => {
      expectThrow(() => quantizeInt8Rowwise(notTensor), ArgumentError, 'quantizeInt8Rowwise', "'w'");
      expectThrow(() => quantizeInt8Rowwise(zeros([4])), ShapeError, "'w' must be 2-D");
      expectThrow(() => quantizeInt8Rowwise(zeros([2, 2], 'int32')), DTypeError, "'w' must be float32, float16 or bfloat16");
      const st = quantizeInt8Rowwise(tensor(normals(32, 2), [4, 8]));
      expectThrow(() => dequantizeInt8({ weight: zeros([4, 8]), scb: st.scb }), DTypeError, 'dequantizeInt8', "'state.weight' must be int8");
      expectThrow(() => dequantizeInt8({ ...st, scb: zeros([3]) }), ShapeError, "'state.scb' must be float32 [4]");
      expectThrow(() => dequantizeInt8(st, { cols: zeros([2]) }), DTypeError, "'cols' must be int32");
      expectThrow(() => dequantizeInt8(st, { stored: zeros([4, 1]) }), ArgumentError, "'stored' copies need 'cols'");
      expectThrow(() => int8VectorQuant(zeros([8])), ShapeError, 'int8VectorQuant', "'x' must be 2-D");
      expectThrow(() => int8VectorQuant(zeros([1, 8]), -1), ArgumentError, "'threshold' must be ≥ 0");
      const act = int8VectorQuant(zeros([2, 8]));
      expectThrow(() => int8MatMul({ ca: zeros([2, 7], 'int8'), sca: act.sca }, st), ShapeError, 'int8MatMul', "'ca' must be int8 [T, 8]");
      expectThrow(() => int8MatMul(act, st, zeros([5])), ShapeError, "'bias' must be [4]");
      expectThrow(() => int8Linear(zeros([2, 9]), st), ShapeError, 'int8Linear', "'x' must have 8 features");
      expectThrow(() => int8Linear(zeros([2, 8]), st, { threshold: NaN }), ArgumentError, "'threshold' must be a number");
    });
  });

  it('model-level functions reject what they cannot use', async () => {
    class M extends Module {
      constructor(public proj: Linear) {
        super();
      }
    }
    const m = new M(new Linear(tensor(normals(32, 3), [4, 8])));
    expectThrow(() => quantizeModel(m, new BitsAndBytesConfig()), ArgumentError, 'quantizeModel');
    tidy(() => {
      expectThrow(() => quantizeModel(m, new BitsAndBytesConfig({ loadIn4bit: true }), { calibrationInputs: [zeros([1, 8])] }), ArgumentError, 'calibrationInputs only apply to 8-bit');
    });
    expectThrow(() => calibrate(m, [1]), ArgumentError, 'calibrate', 'forward');
    expectThrow(() => calibrate(m, [], { threshold: 0 }), ArgumentError, "calibrate: 'threshold' must be a number > 0");
    expectThrow(() => linearWeightFromState('proj', () => undefined, new Set(['proj.SCB'])), QuantStateError, 'proj.weight: missing');
    expectThrow(() => linearWeightFromState('proj', () => undefined, new Set()), QuantStateError, 'proj.weight: missing');
    let err: unknown;
    try {
      await linearWeightFromStateAsync('proj', () => undefined, new Set(['proj.weight.quant_state.bitsandbytes__nf4']));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(QuantStateError);
    expectThrow(() => loadQuantizedLinears(m, () => undefined, new Set(['proj.SCB'])), QuantStateError, 'proj.weight: missing');
    expect([...quantizedStateDict(m).keys()]).to.deep.equal(['proj.weight']);
    err = undefined;
    try {
      await saveQuantizedModel('/dev/null/not-a-dir', m, new BitsAndBytesConfig({ loadIn8bit: true }));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(Error);
    m.dispose();
  });
});
