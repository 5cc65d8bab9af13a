/** dtype helpers: sizes, kinds and the promotion table. */

import { expect } from 'chai';
import { bytesPerElement, DTYPES, isFloat, promoteTypes, type DType } from '../../index.js';

/** PyTorch's promotion for these dtypes, written as a table (int8 ⊕ uint8 is int16 in PyTorch; int32 here). */
const EXPECTED: Record<DType, Partial<Record<DType, DType>>> = {
  bool: { bool: 'bool', uint8: 'uint8', int8: 'int8', int32: 'int32', float16: 'float16', bfloat16: 'bfloat16', float32: 'float32' },
  uint8: { uint8: 'uint8', int8: 'int32', int32: 'int32', float16: 'float16', bfloat16: 'bfloat16', float32: 'float32' },
  int8: { int8: 'int8', int32: 'int32', float16: 'float16', bfloat16: 'bfloat16', float32: 'float32' },
  int32: { int32: 'int32', float16: 'float16', bfloat16: 'bfloat16', float32: 'float32' },
  float16: { float16: 'float16', bfloat16: 'float32', float32: 'float32' },
  bfloat16: { bfloat16: 'bfloat16', float32: 'float32' },
  float32: { float32: 'float32' },
};

describe('lib/dtype', () => {
  it('promoteTypes matches the table for all 49 ordered pairs (and is symmetric)', () => {
    for (const a of DTYPES) {
      for (const b of DTYPES) {
        const want = EXPECTED[a][b] ?? EXPECTED[b][a];
        expect(promoteTypes(a, b), `${a} ⊕ ${b}`).to.equal(want);
      }
    }
  });

  it('bytesPerElement and isFloat', () => {
    const bytes: Record<DType, number> = { float32: 4, float16: 2, bfloat16: 2, int32: 4, int8: 1, uint8: 1, bool: 1 };
    for (const d of DTYPES) {
      expect(bytesPerElement(d), d).to.equal(bytes[d]);
      expect(isFloat(d), d).to.equal(d.startsWith('float') || d === 'bfloat16');
    }
    expect(DTYPES.length).to.equal(7);
  });
});
