/**
 * Tokenizers: encode/decode through @huggingface/tokenizers, special tokens from
 * tokenizer_config.json, chat templates through @huggingface/jinja, left-padded batches, and a
 * streaming decoder that never splits a multi-byte character.
 */

import { expect } from 'chai';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, bundledModelDir, type PreTrainedTokenizer } from '../../index.js';
import { fixtureDir } from './helpers.js';

// A Llama-3-Instruct-style template (framing as described in models.md §5.2), written for this test.
const LLAMA3_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}" +
  '{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}';

describe('tokenizer (stories260K, SentencePiece BPE with byte fallback)', () => {
  let tok: PreTrainedTokenizer;
  before(async () => {
    tok = await AutoTokenizer.fromPretrained(await bundledModelDir());
  });

  it('encodes with BOS like llama2.c and decodes back', () => {
    const ids = tok.encode('Once upon a time');
    expect(ids[0]).to.equal(1);
    expect(tok.bosTokenId).to.equal(1);
    expect(tok.eosTokenId).to.equal(2);
    expect(tok.decode(ids, { skipSpecialTokens: true })).to.equal('Once upon a time');
    expect(tok.encode('Once', { addSpecialTokens: false })[0]).to.not.equal(1);
  });

  it('left-pads a batch with its attention mask', () => {
    const { inputIds, attentionMask } = tok.encodeBatch(['Once upon a time', 'Hi'], { padTokenId: 0 });
    expect(inputIds[0].length).to.equal(inputIds[1].length);
    const pads = attentionMask[1].filter((x) => x === 0).length;
    expect(pads).to.be.greaterThan(0);
    expect(inputIds[1].slice(0, pads).every((x) => x === 0)).to.equal(true);
    expect(attentionMask[1].slice(pads).every((x) => x === 1)).to.equal(true);
  });

  it('streams text without splitting multi-byte characters (byte-fallback pieces are held back)', () => {
    const text = 'A snowman ☃ and café, 日本.';
    const ids = tok.encode(text, { addSpecialTokens: false });
    const d = tok.createStreamDecoder();
    const pieces = ids.map((i) => d.push(i));
    pieces.push(d.flush());
    expect(pieces.join('')).to.equal(tok.decode(ids));
    for (const p of pieces) expect(p.includes('\uFFFD')).to.equal(false);
    // The snowman is three byte tokens: nothing is emitted until the last one arrives.
    expect(pieces.some((p) => p.includes('☃'))).to.equal(true);
  });
});

describe('chat templates', () => {
  const dir = fixtureDir('mllama');
  let tmp: string;
  before(function () {
    if (!dir) this.skip();
    tmp = mkdtempSync(join(tmpdir(), 'flashtensor-tok-'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(dir!, f), join(tmp, f));
    writeFileSync(join(tmp, 'chat_template.jinja'), LLAMA3_TEMPLATE);
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it('renders a conversation with the generation prompt; tokenized without specials it has one BOS', async () => {
    const tok = await AutoTokenizer.fromPretrained(tmp);
    expect(tok.hasChatTemplate).to.equal(true);
    const text = tok.applyChatTemplate([{ role: 'user', content: ' Hi there ' }], { addGenerationPrompt: true });
    expect(text).to.equal(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    const ids = tok.encode(text, { addSpecialTokens: false });
    expect(ids.filter((i) => i === tok.bosTokenId).length).to.equal(1);
    expect(ids[0]).to.equal(1);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'x' }])).to.not.match(/assistant/);
  });

  it('takes the template from tokenizer_config.json (string or named list) and fails clearly without one', async () => {
    const cfgPath = join(tmp, 'tokenizer_config.json');
    rmSync(join(tmp, 'chat_template.jinja'));
    const base = JSON.parse((await import('node:fs')).readFileSync(join(dir!, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...base, chat_template: [{ name: 'default', template: '{{ messages[0].content }}!' }, { name: 'tool_use', template: 'T' }] }));
    let tok = await AutoTokenizer.fromPretrained(tmp);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'a' }])).to.equal('a!');
    expect(tok.applyChatTemplate([{ role: 'user', content: 'a' }], { chatTemplate: 'tool_use' })).to.equal('T');
    writeFileSync(cfgPath, JSON.stringify(base));
    tok = await AutoTokenizer.fromPretrained(tmp);
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'a' }])).to.throw(/no chat template/);
  });
});
