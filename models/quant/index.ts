/** Quantized layers, BitsAndBytesConfig, quantizeModel, calibration and checkpoint glue. */

export { Int8Weight, type Int8WeightOptions, type Int8FromFloatOptions, type OutlierCopies } from './int8_weight.js';
export { Quant4Weight, quantStateJson, QUANT_STORAGE_DTYPES, type QuantStorage, type Quant4WeightOptions } from './quant4_weight.js';
export { Linear8bitLt, Linear4bit, type Linear4bitOptions } from './layers.js';
export { BitsAndBytesConfig, type BitsAndBytesConfigOptions, type QuantizationConfigDict } from './config.js';
export { calibrate, type CalibrateOptions, type OutlierColumns } from './calibrate.js';
export { quantizeModel, isSkippedModule, DEFAULT_SKIP_MODULES, type QuantizeModelOptions, type QuantizeReport } from './quantize_model.js';
export { linearWeightFromState, linearWeightFromStateAsync, linearFormatFromKeys, type GetTensor } from './state.js';
export {
  withQuantizationConfig, configJsonString, loadQuantizedLinears, quantizedStateDict, saveQuantizedModel, type SaveQuantizedOptions,
} from './checkpoint.js';
export { pyJsonDumps, pyFloat, pyFloatRepr, PyFloat, type PyJsonValue, type PyJsonOptions } from './pyjson.js';
export { bnbWeightTransform, BNB_COMPANION_SUFFIXES, type QuantWeightTransform, type WeightTransformOptions } from './hook.js';
