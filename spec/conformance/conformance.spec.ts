/**
 * ONE op-conformance suite: every case (kernels × dtypes × shapes, as data) runs on every registered
 * backend other than the CPU reference and must match it within the per-dtype tolerances. Also
 * checks that every kernel a backend registers is exercised by at least one case.
 */

import { expect } from 'chai';
import '../../index.js';
import '../../backends/webgpu/index.js';
import { ENGINE } from '../../lib/engine.js';
import { kernelsForBackend } from '../../lib/backend.js';
import { checkCase, REFERENCE_BACKEND, type OpCase } from './harness.js';
import { coreCases } from './cases_core.js';
import { nnCasesAll } from './cases_nn.js';
import { quantCases } from './cases_quant.js';
import { requireWebGPU } from '../helpers/webgpu_env.js';

/** Every conformance case. */
export const CASES: OpCase[] = [...coreCases(), ...nnCasesAll(), ...quantCases()];

/** Backends under test, with an async gate deciding whether they can run here. */
const GATES: Record<string, () => Promise<boolean>> = { webgpu: requireWebGPU };
const targets = ENGINE.registeredBackends().filter((b) => b !== REFERENCE_BACKEND);
const enabled = new Map<string, boolean>();
for (const b of targets) enabled.set(b, GATES[b] ? await GATES[b]() : true);

for (const backend of targets) {
  (enabled.get(backend) ? describe : describe.skip)(`conformance: ${backend} vs ${REFERENCE_BACKEND}`, function () {
    this.timeout(60000);
    it('covers every kernel the backend registers', () => {
      const covered = new Set(CASES.flatMap((c) => c.kernels));
      const missing = kernelsForBackend(backend).filter((k) => !covered.has(k));
      expect(missing, `kernels without a conformance case`).to.deep.equal([]);
    });
    it('registers every kernel the reference has', () => {
      const mine = new Set(kernelsForBackend(backend));
      expect(kernelsForBackend(REFERENCE_BACKEND).filter((k) => !mine.has(k)), 'kernels missing on this backend').to.deep.equal([]);
    });
    for (const c of CASES) {
      it(c.name, async () => {
        const err = await checkCase(c, backend);
        expect(err, `${c.name} on ${backend}`).to.equal(null);
      });
    }
  });
}
