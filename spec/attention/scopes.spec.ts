import { expect } from 'chai';
import {
  SDPBackend, sdpaKernel, currentSdpaScope, SDPA_SCOPES_ARE_ASYNC_SAFE, sdpa, randn, sdpaCounts, resetSdpaCounts,
  NoAvailableKernelError, ArgumentError, explainSdpa,
} from 'flashtensor';

const allowed = () => [...currentSdpaScope().allowed].sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sdpaKernel scopes', () => {
  it('defaults to every implementation in priority flash → efficient → math', () => {
    expect(allowed()).to.deep.equal(['EFFICIENT_ATTENTION', 'FLASH_ATTENTION', 'MATH']);
    expect(currentSdpaScope().priority).to.deep.equal(['FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'MATH']);
  });

  it('accepts one backend or a list, dedupes, and restores on return', () => {
    const inside = sdpaKernel(SDPBackend.MATH, () => allowed());
    expect(inside).to.deep.equal(['MATH']);
    const inside2 = sdpaKernel([SDPBackend.FLASH_ATTENTION, SDPBackend.MATH, SDPBackend.MATH], () => allowed());
    expect(inside2).to.deep.equal(['FLASH_ATTENTION', 'MATH']);
    expect(allowed()).to.have.length(3);
  });

  it('nested scopes replace (not intersect) the outer set and unwind in order', () => {
    sdpaKernel([SDPBackend.FLASH_ATTENTION], () => {
      expect(allowed()).to.deep.equal(['FLASH_ATTENTION']);
      sdpaKernel([SDPBackend.MATH], () => expect(allowed()).to.deep.equal(['MATH']));
      expect(allowed()).to.deep.equal(['FLASH_ATTENTION']);
    });
    expect(allowed()).to.have.length(3);
  });

  it('restores the outer set when fn throws', () => {
    expect(() => sdpaKernel([SDPBackend.MATH], () => { throw new Error('boom'); })).to.throw('boom');
    expect(allowed()).to.have.length(3);
  });

  it('setPriority reorders within the scope only', () => {
    const p = sdpaKernel([SDPBackend.MATH, SDPBackend.EFFICIENT_ATTENTION], () => currentSdpaScope().priority, { setPriority: true });
    expect(p).to.deep.equal(['MATH', 'EFFICIENT_ATTENTION', 'FLASH_ATTENTION']);
    expect(currentSdpaScope().priority[0]).to.equal('FLASH_ATTENTION');
  });

  it('rejects unknown backends and non-functions with ArgumentError', () => {
    expect(() => sdpaKernel(['CUDNN' as SDPBackend], () => 0)).to.throw(ArgumentError, /unknown backend "CUDNN"/);
    expect(() => sdpaKernel([SDPBackend.MATH], 3 as unknown as () => void)).to.throw(ArgumentError, /'fn' must be a function/);
  });

  it('holds across awaits and is restored after an async fn settles (and after it rejects)', async () => {
    expect(SDPA_SCOPES_ARE_ASYNC_SAFE).to.equal(true);
    const seen = await sdpaKernel([SDPBackend.EFFICIENT_ATTENTION], async () => {
      const a = allowed();
      await sleep(2);
      const b = allowed();
      await Promise.resolve();
      return [a, b, allowed()];
    });
    expect(seen).to.deep.equal([['EFFICIENT_ATTENTION'], ['EFFICIENT_ATTENTION'], ['EFFICIENT_ATTENTION']]);
    expect(allowed()).to.have.length(3);
    let caught = false;
    await sdpaKernel([SDPBackend.MATH], async () => { await sleep(1); throw new Error('async boom'); }).catch(() => (caught = true));
    expect(caught).to.equal(true);
    expect(allowed()).to.have.length(3);
  });

  it('many interleaved concurrent tasks never see each other\'s scope', async () => {
    const backends = [SDPBackend.MATH, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.FLASH_ATTENTION] as const;
    const q = randn([1, 2, 4, 8], { seed: 1 });
    const k = randn([1, 2, 4, 8], { seed: 2 });
    const v = randn([1, 2, 4, 8], { seed: 3 });
    let violations = 0;
    const task = (i: number) => {
      const mine = backends[i % 3];
      return sdpaKernel([mine], async () => {
        for (let step = 0; step < 10; step++) {
          // Different delays interleave the tasks' continuations.
          await sleep((i * 7 + step * 3) % 5);
          const now = allowed();
          if (now.length !== 1 || now[0] !== mine) violations++;
          // The dispatcher must honour the task's own scope too: explain says only `mine` is allowed.
          const ex = explainSdpa(q, k, v);
          for (const e of ex) {
            const notAllowed = e.reasons.includes('not allowed in the current sdpaKernel scope');
            if ((e.backend === mine) === notAllowed) violations++;
          }
        }
        return mine;
      });
    };
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => task(i)));
    expect(results.filter((r) => r === 'MATH')).to.have.length(20);
    expect(violations).to.equal(0);
    expect(allowed()).to.have.length(3);
    q.dispose(); k.dispose(); v.dispose();
  });

  it('the chosen implementation follows the scope (counted per call)', () => {
    const q = randn([1, 2, 5, 8], { seed: 4 });
    resetSdpaCounts();
    sdpaKernel([SDPBackend.MATH], () => sdpa(q, q, q).dispose());
    sdpaKernel([SDPBackend.EFFICIENT_ATTENTION], () => sdpa(q, q, q).dispose());
    sdpa(q, q, q).dispose(); // float32: flash declines, efficient wins by priority
    expect(sdpaCounts()).to.deep.equal({ FLASH_ATTENTION: 0, EFFICIENT_ATTENTION: 2, MATH: 1 });
    q.dispose();
  });

  it('an only-flash scope on float32 input fails with every reason listed', () => {
    const q = randn([1, 2, 5, 8], { seed: 5 });
    try {
      sdpaKernel([SDPBackend.FLASH_ATTENTION], () => sdpa(q, q, q));
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(NoAvailableKernelError);
      const msg = (e as Error).message;
      expect(msg).to.match(/^No available kernel\. Aborting execution\./);
      expect(msg).to.include('FLASH_ATTENTION not used because: Flash attention requires query, key and value of dtype float16 or bfloat16, got float32');
      expect(msg).to.include('EFFICIENT_ATTENTION not used because: not allowed in the current sdpaKernel scope');
      expect(msg).to.include('MATH not used because: not allowed in the current sdpaKernel scope');
      expect((e as NoAvailableKernelError).rejections.map((r) => r.backend)).to.deep.equal(['FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'MATH']);
    }
    expect(() => sdpaKernel([], () => sdpa(q, q, q))).to.throw(NoAvailableKernelError);
    q.dispose();
  });
});
