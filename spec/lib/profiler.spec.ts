/** profile(fn): per-kernel call counts and times for sync and async functions; off outside a profile. */

import { expect } from 'chai';
import * as ft from '../../index.js';
import { ArgumentError } from '../../index.js';

describe('profile (per-kernel timing)', () => {
  it('counts every kernel call of a synchronous function by name and returns its result', () => {
    const a = ft.ones([4, 4]);
    const { result, profile } = ft.profile(() => ft.tidy(() => ft.sum(ft.add(ft.mul(a, a), a))));
    expect(result.dataSync()[0]).to.equal(32);
    const calls = Object.fromEntries(profile.kernels.map((k) => [k.name, k.calls]));
    expect(calls).to.include({ Mul: 1, Add: 1, Sum: 1 });
    expect(profile.calls).to.equal(profile.kernels.reduce((s, k) => s + k.calls, 0));
    expect(profile.kernelMs).to.be.at.most(profile.totalMs + 1e-9);
    for (let i = 1; i < profile.kernels.length; i++) expect(profile.kernels[i - 1].ms).to.be.at.least(profile.kernels[i].ms);
    expect(ft.formatProfile(profile)).to.match(/Mul\s+1/);
    ft.dispose([a, result]);
  });

  it('covers async functions (kernels run after an await count too)', async () => {
    const a = ft.ones([3]);
    const { result, profile } = await ft.profile(async () => {
      const b = ft.exp(a);
      await b.data();
      const c = ft.neg(b);
      b.dispose();
      return c;
    });
    expect(profile.kernels.map((k) => k.name).sort()).to.deep.equal(['Exp', 'Neg']);
    ft.dispose([a, result]);
  });

  it('stops timing when fn throws (the next profile starts cleanly)', () => {
    expect(() => ft.profile(() => { throw new Error('boom'); })).to.throw('boom');
    const { result, profile } = ft.profile(() => 7);
    expect(result).to.equal(7);
    expect(profile.calls).to.equal(0);
  });

  it('refuses a nested profile and a non-function', () => {
    expect(() => ft.profile(() => ft.profile(() => 0))).to.throw(ArgumentError, /already running/);
    expect(() => ft.profile(42 as never)).to.throw(ArgumentError, /'fn' must be a function/);
  });
});
