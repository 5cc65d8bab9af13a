/** Attention: the sdpa dispatcher, its implementations' eligibility, and the varlen entry point. */

export { sdpa, explainSdpa, flashAttention, sdpaWithWeights, sdpaCounts, resetSdpaCounts, setSdpaDebug, type SdpaExplanation } from './sdpa.js';
export { registerSdpaCheck, setMathAttentionBudget, DEFAULT_MATH_BUDGET, type SdpaCheck } from './eligibility.js';
export type { SdpaOptions, CausalVariant } from './params.js';
export { flashAttnVarlen, unpadInput, padInput, type Unpadded, type VarlenOptions, type CuSeqlens } from './varlen.js';
export { causalKeepMask } from './math.js';
