/** Language models: families, loading, generation, tokenizers. */

export * from './nn/index.js';
export { AutoConfig, AutoModelForCausalLM, UnsupportedModelError, type ModelConfig, type FromPretrainedOptions, type QuantizationHook } from './auto.js';
export { CausalLM, type ForwardOptions, type CausalLMOutput, type TokenInput, type BaseModelConfig } from './common/causal_lm.js';
export { KVCache, type KVCacheOptions } from './common/kv_cache.js';
export { ATTN_IMPLEMENTATIONS, type AttnImplementation } from './common/attention.js';
export { RotaryEmbedding, defaultInvFreq, llama3InvFreq } from './common/rotary.js';
export { ConfigError, type RopeConfig, type RopeType } from './common/config.js';
export type { GenerationConfig } from './common/generation_config.js';
export { LlamaForCausalLM, parseLlamaConfig, type LlamaConfig } from './llama/modeling_llama.js';
export { FalconForCausalLM, parseFalconConfig, alibiSlopes, type FalconConfig } from './falcon/modeling_falcon.js';
export { OPTForCausalLM, parseOPTConfig, type OPTConfig } from './opt/modeling_opt.js';
export { CheckpointMismatchError, type LoadProgress, type ShapeMismatch, type WeightTransform } from './loading/load_weights.js';
export { generate, generationStats, type GenerateOptions, type GenerationStats } from './generation/generate.js';
export { TokenStreamer, TextStreamer, type GenerationStreamer, type TextStreamerOptions } from './generation/streamers.js';
export { createStreamDecoder, type StreamDecoder, type TokenizerLike } from './tokenizer/stream_decoder.js';
export { AutoTokenizer, PreTrainedTokenizer, type ChatMessage, type ChatTemplateOptions, type EncodeOptions, type DecodeOptions } from './tokenizer/tokenizer.js';
export { bundledModelDir } from './bundled.js';
