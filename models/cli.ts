#!/usr/bin/env node
/**
 * The `flashtensor` command. `flashtensor generate --prompt "Once upon a time"` streams a story
 * from the bundled stories260K model; `--model DIR` takes any supported Hugging Face folder.
 */

import { parseArgs } from 'node:util';
import '../index.js';
import { AutoModelForCausalLM, type FromPretrainedOptions } from './auto.js';
import { bundledModelDir } from './bundled.js';
import type { AttnImplementation } from './common/attention.js';
import { generationStats } from './generation/generate.js';
import { TextStreamer } from './generation/streamers.js';
import { AutoTokenizer } from './tokenizer/tokenizer.js';
import { quantizationFromFlags } from './cli_quant.js';

const HELP = `Usage: flashtensor generate [options]

Generates text, streaming it as it is produced.

Options:
  --prompt TEXT               text to continue (default: start from BOS)
  --model DIR                 Hugging Face model folder (default: the bundled stories260K)
  --max-new-tokens N          tokens to generate (default 256)
  --temperature T             sampling temperature; 0 = greedy (default: the model's generation config)
  --top-k K                   keep the K most likely tokens when sampling (default 50)
  --top-p P                   nucleus sampling mass (default 1)
  --repetition-penalty R      > 1 discourages repeats (default 1)
  --seed S                    seed for sampling
  --dtype D                   float32 (default), float16, bfloat16 or auto
  --attn-implementation I     sdpa (default), eager or flash_attention_2
  --load-in-8bit              quantize Linear layers to LLM.int8 while loading
  --load-in-4bit              quantize Linear layers to 4 bits while loading
  --quant-type T              4-bit type: nf4 (default) or fp4
  --compute-dtype D           4-bit compute dtype: float32 (default, as Hugging Face), bfloat16
                              (faster decoding on CPU) or float16
  --chat                      wrap the prompt in the tokenizer's chat template
  -h, --help                  this text
`;

function fail(msg: string): never {
  process.stderr.write(`flashtensor: ${msg}\n`);
  process.exit(2);
}

function number(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) fail(`${flag} expects a number, got '${v}'`);
  return n;
}

function progressBar(): (p: { loadedBytes: number; totalBytes: number }) => void {
  const tty = process.stderr.isTTY;
  let last = -1;
  return ({ loadedBytes, totalBytes }) => {
    const frac = totalBytes ? loadedBytes / totalBytes : 1;
    const pct = Math.floor(frac * 100);
    if (pct === last) return;
    last = pct;
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    if (tty) process.stderr.write(`\rloading [${bar}] ${pct}% ${mb(loadedBytes)}/${mb(totalBytes)} MiB${frac >= 1 ? '\n' : ''}`);
    else if (frac >= 1) process.stderr.write(`loaded ${mb(totalBytes)} MiB\n`);
  };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help') {
    process.stdout.write(HELP);
    return;
  }
  if (command !== 'generate') fail(`unknown command '${command}'\n\n${HELP}`);
  const { values: o } = parseArgs({
    args: rest,
    options: {
      prompt: { type: 'string' }, model: { type: 'string' }, 'max-new-tokens': { type: 'string' },
      temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
      'repetition-penalty': { type: 'string' }, seed: { type: 'string' }, dtype: { type: 'string' },
      'attn-implementation': { type: 'string' }, 'load-in-8bit': { type: 'boolean' }, 'load-in-4bit': { type: 'boolean' },
      'quant-type': { type: 'string' }, 'compute-dtype': { type: 'string' }, chat: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    process.stdout.write(HELP);
    return;
  }
  const dir = o.model ?? (await bundledModelDir());
  const loadOpts: FromPretrainedOptions = {
    dtype: (o.dtype ?? 'float32') as FromPretrainedOptions['dtype'],
    attnImplementation: (o['attn-implementation'] ?? 'sdpa') as AttnImplementation,
    quantizationConfig: await quantizationFromFlags(!!o['load-in-8bit'], !!o['load-in-4bit'], o['quant-type'], o['compute-dtype']),
    onProgress: progressBar(),
  };
  const [tokenizer, model] = await Promise.all([AutoTokenizer.fromPretrained(dir), AutoModelForCausalLM.fromPretrained(dir, loadOpts)]);
  let prompt = o.prompt ?? '';
  let ids: number[];
  if (o.chat) {
    prompt = tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true });
    ids = tokenizer.encode(prompt, { addSpecialTokens: false });
  } else {
    ids = prompt ? tokenizer.encode(prompt) : [tokenizer.bosTokenId ?? model.config.bosTokenId ?? 0];
  }
  const temperature = number(o.temperature, '--temperature');
  process.stdout.write(o.chat ? '' : tokenizer.decode(ids, { skipSpecialTokens: true }));
  const streamer = new TextStreamer(tokenizer, { onText: (t) => process.stdout.write(t) });
  await model.generate([ids], {
    maxNewTokens: number(o['max-new-tokens'], '--max-new-tokens') ?? 256,
    ...(temperature !== undefined ? { doSample: temperature > 0, temperature } : {}),
    topK: number(o['top-k'], '--top-k'),
    topP: number(o['top-p'], '--top-p'),
    repetitionPenalty: number(o['repetition-penalty'], '--repetition-penalty'),
    seed: number(o.seed, '--seed'),
    streamer,
  });
  process.stdout.write('\n');
  const s = generationStats(model)!;
  const rate = (n: number, ms: number) => (ms > 0 ? ((n * 1000) / ms).toFixed(1) : '∞');
  process.stderr.write(
    `prefill: ${s.promptTokens} tokens in ${s.prefillMs.toFixed(1)} ms (${rate(s.promptTokens, s.prefillMs)} tokens/s); ` +
      `decode: ${Math.max(0, s.newTokens - 1)} tokens in ${s.decodeMs.toFixed(1)} ms (${rate(Math.max(0, s.newTokens - 1), s.decodeMs)} tokens/s)\n`,
  );
}

main(process.argv.slice(2)).catch((e: Error) => fail(e.message));
