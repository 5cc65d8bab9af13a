/**
 * ONE op-conformance suite: every case (kernels × dtypes × shapes, as data) runs on every variant —
 * the CPU's fast kernels, WebGPU, any other registered backend — and must match the CPU's
 * TypeScript reference kernels within the per-dtype tolerances. Also checks that every kernel a
 * backend registers is exercised by at least one case.
 */

import { expect } from 'chai';
import '../../index.js';
import '../../backends/webgpu/index.js';
import { kernelsForBackend } from '../../lib/backend.js';
import { checkCase, REFERENCE, variants, type OpCase } from './harness.js';
import { coreCases } from './cases_core.js';
import { nnCasesAll } from './cases_nn.js';
import { quantCases } from './cases_quant.js';
import { requireWebGPU } from '../helpers/webgpu_env.js';

/** Every conformance case. */
export const CASES: OpCase[] = [...coreCases(), ...nnCasesAll(), ...quantCases()];

/** Backends under test, with an async gate deciding whether they can run here. */
const GATES: Record<string, () => Promise<boolean>> = { webgpu: requireWebGPU };
const targets = variants();
const enabled = new Map<string, boolean>();
for (const v of targets) enabled.set(v.label, GATES[v.backend] ? await GATES[v.backend]() : true);

for (const v of targets) {
  const backend = v.backend;
  (enabled.get(v.label) ? describe : describe.skip)(`conformance: ${v.label} vs ${REFERENCE.label}`, function () {
    this.timeout(60000);
    it('covers every kernel the backend registers', () => {
      const covered = new Set(CASES.flatMap((c) => c.kernels));
      const missing = kernelsForBackend(backend).filter((k) => !covered.has(k));
      expect(missing, `kernels without a conformance case`).to.deep.equal([]);
    });
    it('registers every kernel the reference has', () => {
      const mine = new Set(kernelsForBackend(backend));
      expect(kernelsForBackend(REFERENCE.backend).filter((k) => !mine.has(k)), 'kernels missing on this backend').to.deep.equal([]);
    });
    for (const c of CASES) {
      it(c.name, async () => {
        const err = await checkCase(c, v);
        expect(err, `${c.name} on ${v.label}`).to.equal(null);
      });
    }
  });
}
