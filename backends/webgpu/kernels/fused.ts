/**
 * The fused kernels (SwiGlu, AddRmsNorm) on WebGPU, composed from this backend's own primitive
 * kernels: the fused CPU kernels exist to save per-op overhead and memory passes on the CPU,
 * while the numerics are by definition those of the composition, which these reproduce exactly.
 */

import { getKernel, type Attrs, type TensorInfo } from '../../../lib/backend.js';
import type { WebGPUBackend } from '../backend.js';
import { gpuKernel } from './util.js';

function call(gpu: WebGPUBackend, name: string, inputs: readonly TensorInfo[], attrs: Attrs = {}): TensorInfo {
  return getKernel(name, 'webgpu').kernelFunc(inputs, attrs, gpu) as TensorInfo;
}

gpuKernel('SwiGlu', (inputs, _attrs, gpu) => {
  const temps: TensorInfo[] = [];
  let [gate, up] = inputs;
  if (!up) {
    // One tensor holding gate then up along the last axis.
    const shape = gate.shape;
    const half = shape[shape.length - 1] / 2;
    const size = [...shape.slice(0, -1), half];
    const begin = shape.map(() => 0);
    const whole = gate;
    gate = call(gpu, 'Slice', [whole], { begin, size });
    up = call(gpu, 'Slice', [whole], { begin: [...begin.slice(0, -1), half], size });
    temps.push(gate, up);
  }
  const act = call(gpu, 'Silu', [gate], { dtype: gate.dtype });
  temps.push(act);
  const out = call(gpu, 'Mul', [act, up], { dtype: gate.dtype, shape: gate.shape });
  for (const t of temps) gpu.disposeData(t.dataId);
  return out;
});

gpuKernel('AddRmsNorm', ([x, residual, weight], { eps, hasWeight }: { eps: number; hasWeight: boolean }, gpu) => {
  const sum = call(gpu, 'Add', [x, residual], { dtype: x.dtype, shape: x.shape });
  const normed = call(gpu, 'RmsNorm', hasWeight ? [sum, weight] : [sum], { eps, hasWeight });
  return [sum, normed];
});
