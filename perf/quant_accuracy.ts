/**
 * Perf suite `quant-accuracy`: what quantization costs a real model. stories260K (a tiny Llama,
 * HF layout) in fp32 against LLM.int8 (threshold 6 and 0), NF4, NF4 + double quant and FP4:
 * perplexity on a fixed text, agreement of greedy continuations with fp32's, logit error, and the
 * model's stored bytes. Everything runs through `AutoModelForCausalLM.fromPretrained(dir, {
 * quantizationConfig })`, i.e. the same path users take.
 */

import * as ft from '../index.js';

/** The evaluation text (written for this suite, in the style of TinyStories). */
export const EVAL_TEXT = [
  'Once upon a time, there was a little boy named Tim. Tim had a red ball that he loved very much. Every day, he played with',
  'the ball in the big green park near his house. One sunny day, Tim kicked the ball very high. It flew over the fence and',
  'landed in a pond. Tim was sad. He did not know how to get his ball back. Then a friendly duck swam over to the ball. The',
  'duck pushed the ball with its beak until it came back to the grass. Tim smiled and said, "Thank you, duck!" The duck was',
  'happy too. From that day on, Tim and the duck were best friends. They played in the park every day, and Tim always',
  'shared his bread with the duck. One day, Tim\'s mom made a cake. She said, "Tim, can you help me?" Tim nodded and got a',
  'big spoon. They mixed the flour and the eggs together. The cake was yummy, and Tim gave a small piece to his friend the duck.',
].join(' ');

/** Calibration text for the LLM.int8 outlier columns (kept apart from the evaluation text and the prompts). */
export const CALIBRATION_TEXT = [
  'Ben and Anna liked to play in the snow. They made a big snowman with a carrot nose and two black stones for eyes.',
  'Anna gave the snowman her blue hat. "Now he will not be cold," she said. Ben laughed and threw a snowball at the tree.',
  'A little bird flew down and sat on the snowman\'s hat. The children were quiet so they would not scare it. When the sun',
  'went down, they went inside and drank warm milk with their dad. They talked about the bird and the snowman all night.',
].join(' ');

/** Prompts for the greedy continuations. */
export const PROMPTS = [
  'Once upon a time, there was a little girl named Lily.',
  'One day, a big dog found a bone in the garden.',
  'Tom and Sue went to the beach with their mom.',
  'The sun was shining and the birds were singing.',
  'Max had a new toy car. He',
  'Lily wanted to bake a cake for her friend.',
  'There was a small cat who lived in a tree.',
  'Mom said, "It is time to go to bed."',
];

/** One configuration's results. */
export interface AccuracyRow {
  name: string;
  perplexity: number;
  /** Mean over prompts of the fraction of generated positions equal to fp32's. */
  tokenAgreement: number;
  /** Mean over prompts of the number of leading generated tokens equal to fp32's. */
  matchingPrefix: number;
  /** Prompts whose whole continuation equals fp32's. */
  identical: number;
  /** ‖logits − fp32 logits‖ / ‖fp32 logits‖ on the evaluation text. */
  logitRelError: number;
  /** Bytes of every stored parameter (getMemoryFootprint). */
  bytes: number;
  /** Bytes of the Linear weights alone. */
  linearBytes: number;
}

/** Options of the suite. */
export interface AccuracyOptions {
  /** Model folder (default: the bundled stories260K). */
  dir?: string;
  /** Tokens generated per prompt (default 48). */
  newTokens?: number;
  log?: (line: string) => void;
}

const CALIBRATED = 'int8 (threshold 6, fp16 outlier columns from calibration)';

const CONFIGS: [string, ft.BitsAndBytesConfig | null][] = [
  ['fp32', null],
  ['int8 (threshold 6)', new ft.BitsAndBytesConfig({ loadIn8bit: true })],
  [CALIBRATED, new ft.BitsAndBytesConfig({ loadIn8bit: true })],
  ['int8 (threshold 0)', new ft.BitsAndBytesConfig({ loadIn8bit: true, llmInt8Threshold: 0 })],
  ['nf4', new ft.BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' })],
  ['nf4 + double quant', new ft.BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true })],
  ['fp4', new ft.BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'fp4' })],
];

/** Mean negative log-likelihood of ids[1:] given the prefix, as exp (perplexity), plus the logits. */
function perplexity(model: ft.CausalLM, ids: number[]): { ppl: number; logits: Float32Array } {
  const x = ft.tensor(Int32Array.from(ids), [1, ids.length], 'int32');
  const out = model.forward(x, { useCache: false });
  const lsm = ft.logSoftmax(out.logits, -1);
  const lp = lsm.dataSync();
  const V = out.logits.shape[2];
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) nll -= lp[t * V + ids[t + 1]];
  const logits = out.logits.dataSync().slice() as Float32Array;
  for (const t of [x, out.logits, lsm]) t.dispose();
  return { ppl: Math.exp(nll / (ids.length - 1)), logits };
}

function relErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(e / s);
}

/** Runs the suite. */
export async function runQuantAccuracy(opts: AccuracyOptions = {}): Promise<AccuracyRow[]> {
  const dir = opts.dir ?? (await ft.bundledModelDir());
  const log = opts.log ?? (() => {});
  const newTokens = opts.newTokens ?? 48;
  const tok = await ft.AutoTokenizer.fromPretrained(dir);
  const evalIds = tok.encode(EVAL_TEXT);
  const promptIds = PROMPTS.map((p) => tok.encode(p));
  log(`evaluation text: ${evalIds.length} tokens; ${PROMPTS.length} prompts × ${newTokens} greedy tokens`);
  const rows: AccuracyRow[] = [];
  let refLogits: Float32Array | null = null;
  let refGen: number[][] = [];
  for (const [name, cfg] of CONFIGS) {
    let model: ft.CausalLM;
    if (name === CALIBRATED) {
      // Calibrate on a separate text, then quantize with float16 copies of the columns found.
      model = await ft.AutoModelForCausalLM.fromPretrained(dir);
      const calib = tok.encode(CALIBRATION_TEXT);
      const inputs = [ft.tensor(Int32Array.from(calib), [1, calib.length], 'int32')];
      const cols = ft.calibrate(model, inputs, { run: (m, x) => (m as ft.CausalLM).forward(x as ft.Tensor, { useCache: false }).logits });
      for (const t of inputs) t.dispose();
      const n = [...cols.values()].reduce((a, c) => a + c.length, 0);
      log(`  calibration: ${n} outlier columns over ${[...cols.values()].filter((c) => c.length).length} of ${cols.size} Linear layers`);
      ft.quantizeModel(model, cfg!, { outlierColumns: cols });
    } else {
      model = await ft.AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: cfg });
    }
    const { ppl, logits } = perplexity(model, evalIds);
    const gen: number[][] = [];
    for (const p of promptIds) {
      const out = await ft.generate(model, [p], { maxNewTokens: newTokens, doSample: false, eosTokenId: null });
      gen.push(out[0].slice(p.length));
    }
    if (!refLogits) {
      refLogits = logits;
      refGen = gen;
    }
    let agree = 0;
    let prefix = 0;
    let identical = 0;
    gen.forEach((g, i) => {
      const r = refGen[i];
      let same = 0;
      for (let j = 0; j < g.length; j++) if (g[j] === r[j]) same++;
      agree += same / g.length;
      let k = 0;
      while (k < g.length && g[k] === r[k]) k++;
      prefix += k;
      if (k === g.length) identical++;
    });
    const row: AccuracyRow = {
      name, perplexity: ppl, tokenAgreement: agree / gen.length, matchingPrefix: prefix / gen.length, identical,
      logitRelError: relErr(logits, refLogits), bytes: model.getMemoryFootprint(), linearBytes: linearBytesOf(model),
    };
    rows.push(row);
    log(`${name}: perplexity ${ppl.toFixed(4)}, agreement ${(100 * row.tokenAgreement).toFixed(1)}%, identical ${identical}/${gen.length}, logit error ${row.logitRelError.toExponential(2)}`);
    if (name === 'fp32') log(`  fp32 continuation of "${PROMPTS[0]}": ${JSON.stringify(tok.decode(gen[0]))}`);
    model.dispose();
  }
  return rows;
}

/** Bytes of the decoder's Linear weights (the tied lm_head, which stays dense, is not counted). */
function linearBytesOf(model: ft.CausalLM): number {
  let n = 0;
  for (const [path, m] of model.namedModules()) if (m instanceof ft.Linear && path !== 'lm_head') n += m.weight.byteSize();
  return n;
}

/** A markdown table of a run. */
export function quantAccuracyMarkdown(rows: AccuracyRow[]): string {
  const base = rows[0];
  const lines = [
    '| weights | perplexity | Δ ppl vs fp32 | greedy token agreement | mean matching prefix | identical continuations | logit rel. error | Linear bytes (ratio) | model bytes (ratio) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.perplexity.toFixed(4)} | ${r === base ? '—' : `${r.perplexity >= base.perplexity ? '+' : ''}${(r.perplexity - base.perplexity).toFixed(4)}`} | ` +
        `${(100 * r.tokenAgreement).toFixed(1)}% | ${r.matchingPrefix.toFixed(1)} | ${r.identical}/${PROMPTS.length} | ${r === base ? '—' : r.logitRelError.toExponential(2)} | ` +
        `${r.linearBytes.toLocaleString('en-US')} (${(r.linearBytes / base.linearBytes).toFixed(3)}) | ${r.bytes.toLocaleString('en-US')} (${(r.bytes / base.bytes).toFixed(3)}) |`,
    );
  }
  return lines.join('\n');
}
