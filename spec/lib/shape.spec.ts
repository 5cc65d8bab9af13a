/** Shape helpers: broadcasting, axis normalisation, shape validation. */

import { expect } from 'chai';
import { ArgumentError, ShapeError } from '../../index.js';
import { assertShape, broadcastShapes, broadcastsTo, normalizeAxes, normalizeAxis, sizeOf, stridesOf } from '../../lib/shape.js';
import { expectError } from '../helpers/assert.js';
import { broadcastShape as refBroadcast } from '../helpers/reference.js';
import { Rng } from '../helpers/rng.js';

describe('lib/shape', () => {
  it('broadcastShapes agrees with the reference on random shape pairs, and errors name the op and arguments', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 2000; i++) {
      const mk = () => Array.from({ length: rng.int(0, 4) }, () => rng.pick([0, 1, 1, 2, 3]));
      const a = mk();
      const b = mk();
      const want = refBroadcast(a, b);
      if (want) {
        expect(broadcastShapes(a, b, 'op'), `[${a}] [${b}]`).to.deep.equal(want);
        expect(broadcastsTo(a, want)).to.equal(true);
        expect(broadcastsTo(b, want)).to.equal(true);
      } else {
        expectError(() => broadcastShapes(a, b, 'myop', ['x', 'y']), ShapeError, ['myop', `'x' [${a}]`, `'y' [${b}]`]);
      }
    }
  });

  it('broadcastsTo is one-directional', () => {
    expect(broadcastsTo([3, 1], [2, 3, 4])).to.equal(true);
    expect(broadcastsTo([2, 3, 4], [3, 4])).to.equal(false);
    expect(broadcastsTo([3], [3, 1])).to.equal(false);
    expect(broadcastsTo([], [5])).to.equal(true);
  });

  it('normalizeAxis / normalizeAxes', () => {
    expect(normalizeAxis(-1, 3, 'op')).to.equal(2);
    expect(normalizeAxis(0, 3, 'op')).to.equal(0);
    expectError(() => normalizeAxis(3, 3, 'op', 'dim'), ShapeError, ['op', "'dim'", '3', 'rank 3']);
    expectError(() => normalizeAxis(-4, 3, 'op'), ShapeError, ['op', "'axis'"]);
    expectError(() => normalizeAxis(1.5, 3, 'op'), ArgumentError, ['op', "'axis'"]);
    expect(normalizeAxes(undefined, 3, 'op')).to.deep.equal([0, 1, 2]);
    expect(normalizeAxes([-1, 0], 3, 'op')).to.deep.equal([0, 2]);
    expectError(() => normalizeAxes([1, -2], 3, 'op'), ArgumentError, ['op', 'duplicates']);
  });

  it('assertShape, sizeOf, stridesOf', () => {
    expect(sizeOf([])).to.equal(1);
    expect(sizeOf([2, 0, 3])).to.equal(0);
    expect(stridesOf([2, 3, 4])).to.deep.equal([12, 4, 1]);
    expect(stridesOf([])).to.deep.equal([]);
    assertShape([0, 1, 5], 'op');
    expectError(() => assertShape([1, -1], 'op'), ShapeError, ['op', "'shape'[1]"]);
    expectError(() => assertShape([2 ** 53], 'op', 'size'), ShapeError, ['op', "'size'[0]"]);
    expectError(() => assertShape('1' as unknown as number[], 'op'), ShapeError, ['op', "'shape'"]);
  });
});
