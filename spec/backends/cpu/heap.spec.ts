/** The CPU heap allocator: alignment, no overlap, contents survive growth and reuse, OOM is typed. */

import { expect } from 'chai';
import { Heap, HEAP_BASE } from '../../../backends/cpu/heap.js';
import { OutOfMemoryError, tensor, zeros } from '../../../index.js';
import { expectError } from '../../helpers/assert.js';
import { Rng } from '../../helpers/rng.js';
import { checkLeaks } from '../../helpers/tensors.js';

describe('backends/cpu/heap', () => {
  it('random alloc/free keeps blocks aligned, disjoint and intact', () => {
    const heap = new Heap();
    const rng = new Rng(99);
    const live = new Map<number, { size: number; tag: number }>();
    let tag = 1;
    const fill = (off: number, size: number, t: number) => heap.u8.fill(t & 0xff, off, off + size);
    const verify = () => {
      const blocks = [...live.entries()].sort((a, b) => a[0] - b[0]);
      for (let i = 0; i < blocks.length; i++) {
        const [off, { size, tag: t }] = blocks[i];
        expect(off % 64, 'alignment').to.equal(0);
        expect(off).to.be.at.least(HEAP_BASE);
        if (i > 0) expect(off, 'overlap').to.be.at.least(blocks[i - 1][0] + blocks[i - 1][1].size);
        for (let k = off; k < off + size; k += Math.max(1, size >> 3)) {
          if (heap.u8[k] !== (t & 0xff)) expect.fail(`block at ${off} (${size} bytes) corrupted at ${k}`);
        }
      }
    };
    for (let step = 0; step < 3000; step++) {
      if (live.size === 0 || rng.next() < 0.55) {
        const size = rng.pick([1, 3, 64, 65, 100, 1000, 4096, 10000, 70000, 300000]);
        const off = heap.alloc(size);
        live.set(off, { size, tag });
        fill(off, size, tag++);
      } else {
        const keys = [...live.keys()];
        const off = keys[rng.int(0, keys.length - 1)];
        live.delete(off);
        heap.free(off);
      }
      if (step % 100 === 0) verify();
    }
    verify();
    for (const off of [...live.keys()]) heap.free(off);
    expect(heap.inUse).to.equal(0);
  });

  it('a request over the maximum is an OutOfMemoryError, not a crash', () => {
    const heap = new Heap();
    expectError(() => heap.alloc(heap.maxBytes + 1), OutOfMemoryError, ['cpu backend']);
    expectError(() => heap.alloc(2 ** 40), OutOfMemoryError, ['cpu backend']);
    // The heap still works afterwards.
    const off = heap.alloc(100);
    heap.free(off);
  });

  it('double free is reported', () => {
    const heap = new Heap();
    const off = heap.alloc(10);
    heap.free(off);
    expect(() => heap.free(off)).to.throw(/double free/);
  });

  describe('through tensors', () => {
    checkLeaks();
    it('tensor contents survive heap growth', () => {
      const a = tensor([1, 2, 3, 4]);
      const big = zeros([16 * 1024 * 1024]); // 64 MiB: forces the memory to grow
      expect(Array.from(a.dataSync())).to.deep.equal([1, 2, 3, 4]);
      big.dispose();
      a.dispose();
    });
  });
});
