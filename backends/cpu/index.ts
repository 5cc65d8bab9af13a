/** The CPU backend: always available, registered when flashtensor is imported. */

import { ENGINE } from '../../lib/engine.js';
import { CpuBackend } from './backend.js';
import './kernels/attention.js';
import './kernels/elementwise.js';
import './kernels/int8.js';
import './kernels/matmul.js';
import './kernels/nn.js';
import './kernels/quant4.js';
import './kernels/reduce.js';
import './kernels/transpose.js';

ENGINE.registerBackend('cpu', () => new CpuBackend(), 1);

export { CpuBackend };
