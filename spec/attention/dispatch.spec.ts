import { expect } from 'chai';
import {
  sdpa, explainSdpa, randn, cast, ones, full, tensor, zeros, sdpaKernel, SDPBackend, setMathAttentionBudget,
  ShapeError, DTypeError, ArgumentError, NoAvailableKernelError, type SdpaOptions, type Tensor, dispose,
} from 'flashtensor';

const h = (shape: number[], seed: number) => cast(randn(shape, { seed }), 'float16');

function reasonsFor(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}) {
  return Object.fromEntries(explainSdpa(q, k, v, opts).map((e) => [e.backend, e.reasons]));
}

describe('sdpa dispatch: eligibility as data', () => {
  it('flash takes eligible fp16 calls, else memory-efficient, else math', () => {
    const q = h([1, 2, 8, 16], 1);
    const ex = explainSdpa(q, q, q, { isCausal: true });
    expect(ex.map((e) => [e.backend, e.eligible])).to.deep.equal([['FLASH_ATTENTION', true], ['EFFICIENT_ATTENTION', true], ['MATH', true]]);
    q.dispose();
  });

  const cases: { name: string; make: () => [Tensor, Tensor, Tensor, SdpaOptions]; flash: RegExp; efficient: RegExp | null }[] = [
    { name: 'float32 input', make: () => { const q = randn([1, 2, 4, 8], { seed: 2 }); return [q, q, q, {}]; }, flash: /dtype float16 or bfloat16, got float32/, efficient: null },
    { name: 'attnMask', make: () => { const q = h([1, 2, 4, 8], 3); return [q, q, q, { attnMask: ones([4, 4], 'bool') }]; }, flash: /does not support a non-null attnMask/, efficient: null },
    { name: 'head dim not a multiple of 8', make: () => { const q = h([1, 2, 4, 12], 4); return [q, q, q, {}]; }, flash: /multiple of 8 and at most 256, got query 12/, efficient: null },
    { name: 'head dim over 256', make: () => { const q = h([1, 1, 2, 264], 5); return [q, q, q, {}]; }, flash: /at most 256, got query 264/, efficient: null },
    { name: 'Ev != E', make: () => { const q = h([1, 2, 4, 8], 6); const v = h([1, 2, 4, 16], 7); return [q, q, v, {}]; }, flash: /same last dimension.*got query 8 and value 16/, efficient: null },
    { name: 'top-left causal with L != S', make: () => { const q = h([1, 2, 3, 8], 8); const k = h([1, 2, 5, 8], 9); return [q, k, k, { isCausal: true }]; }, flash: /top-left isCausal when L != S \(got L=3, S=5\)/, efficient: null },
    { name: 'rank 3', make: () => { const q = h([2, 4, 8], 10); return [q, q, q, {}]; }, flash: /4-D/, efficient: /4-D/ },
    { name: 'heads differ without enableGqa', make: () => { const q = h([1, 4, 4, 8], 11); const k = h([1, 1, 4, 8], 12); return [q, k, k, {}]; }, flash: /same number of heads unless enableGqa/, efficient: /same number of heads/ },
    { name: 'dropout', make: () => { const q = h([1, 2, 4, 8], 13); return [q, q, q, { dropoutP: 0.1 }]; }, flash: /dropout/, efficient: /dropout/ },
    { name: 'zero-length keys', make: () => { const q = h([1, 2, 4, 8], 14); const k = zeros([1, 2, 0, 8], 'float16'); return [q, k, k, {}]; }, flash: /zero-length/, efficient: /zero-length/ },
  ];
  for (const c of cases) {
    it(`rejects ${c.name} with the documented reason and falls through`, () => {
      const [q, k, v, opts] = c.make();
      const r = reasonsFor(q, k, v, opts);
      expect(r.FLASH_ATTENTION.join(' | ')).to.match(c.flash);
      if (c.efficient) expect(r.EFFICIENT_ATTENTION.join(' | ')).to.match(c.efficient);
      else expect(r.EFFICIENT_ATTENTION).to.deep.equal([]);
      expect(r.MATH).to.deep.equal([]);
      // And the call still runs (on a later implementation).
      const out = sdpa(q, k, v, opts);
      expect(out.shape).to.deep.equal([...q.shape.slice(0, -1), v.shape[v.rank - 1]]);
      dispose([q, k, v, out, opts.attnMask ?? null]);
    });
  }

  it('lowerRight causal with L != S stays flash-eligible', () => {
    const q = h([1, 2, 1, 8], 15);
    const k = h([1, 2, 6, 8], 16);
    expect(reasonsFor(q, k, k, { isCausal: true, causalVariant: 'lowerRight' }).FLASH_ATTENTION).to.deep.equal([]);
    dispose([q, k]);
  });

  it('math refuses a score buffer over its budget instead of allocating it', () => {
    const q = randn([1, 2, 64, 8], { seed: 17 });
    const prev = setMathAttentionBudget(1000);
    try {
      const r = reasonsFor(q, q, q);
      expect(r.MATH.join()).to.match(/32768-byte float32 score buffer.*over its budget of 1000 bytes/);
      expect(() => sdpaKernel([SDPBackend.MATH], () => sdpa(q, q, q))).to.throw(NoAvailableKernelError, /budget/);
    } finally {
      setMathAttentionBudget(prev);
      q.dispose();
    }
  });
});

describe('sdpa input validation (before dispatch)', () => {
  const q = randn([1, 2, 4, 8], { seed: 1 });
  after(() => q.dispose());
  it('mismatched dtypes', () => {
    const k = cast(q, 'float16');
    expect(() => sdpa(q, k, k)).to.throw(DTypeError, /same dtype, got query float32, key float16/);
    k.dispose();
  });
  it('rank < 2', () => {
    const x = tensor([1, 2, 3]);
    expect(() => sdpa(x, x, x)).to.throw(ShapeError, /at least 2-D/);
    x.dispose();
  });
  it('E mismatch and S mismatch', () => {
    const k = randn([1, 2, 4, 6], { seed: 2 });
    expect(() => sdpa(q, k, k)).to.throw(ShapeError, /last dimension \(E\) is 8 but key's is 6/);
    const v = randn([1, 2, 5, 8], { seed: 3 });
    expect(() => sdpa(q, q, v)).to.throw(ShapeError, /key has 4 positions \(S\) but value has 5/);
    dispose([k, v]);
  });
  it('GQA heads that do not divide', () => {
    const q3 = randn([1, 3, 4, 8], { seed: 4 });
    const k2 = randn([1, 2, 4, 8], { seed: 5 });
    expect(() => sdpa(q3, k2, k2, { enableGqa: true })).to.throw(ShapeError, /\(2\) must divide the number of query heads \(3\)/);
    expect(() => sdpa(q3, k2, k2)).to.throw(ShapeError, /enableGqa/);
    dispose([q3, k2]);
  });
  it('mask not broadcastable, wrong mask dtype, mask with isCausal', () => {
    const m = ones([3, 4], 'bool');
    expect(() => sdpa(q, q, q, { attnMask: m })).to.throw(ShapeError, /attnMask \[3,4\] does not broadcast to .* \[1,2,4,4\]/);
    const mi = ones([4, 4], 'int32');
    expect(() => sdpa(q, q, q, { attnMask: mi })).to.throw(DTypeError, /attnMask dtype/);
    const mb = ones([4, 4], 'bool');
    expect(() => sdpa(q, q, q, { attnMask: mb, isCausal: true })).to.throw(ArgumentError, /isCausal/);
    dispose([m, mi, mb]);
  });
  it('dropout outside [0, 1)', () => {
    expect(() => sdpa(q, q, q, { dropoutP: 1 })).to.throw(ArgumentError, /\[0, 1\)/);
    expect(() => sdpa(q, q, q, { dropoutP: -0.1 })).to.throw(ArgumentError, /\[0, 1\)/);
  });
  it('a disposed input', () => {
    const d = full([1, 2, 4, 8], 1);
    d.dispose();
    expect(() => sdpa(q, d, d)).to.throw(/'key'.*already disposed/);
  });
});
