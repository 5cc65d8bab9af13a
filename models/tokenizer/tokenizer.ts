/**
 * Tokenizers for Hugging Face model folders: `tokenizer.json` through `@huggingface/tokenizers`,
 * special tokens from `tokenizer_config.json`, chat templates through `@huggingface/jinja`, batch
 * encoding with left padding, and a streaming decoder for generated text.
 */

import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { ArgumentError } from '../../lib/errors.js';
import { createStreamDecoder, type StreamDecoder, type TokenizerLike } from './stream_decoder.js';

/** One chat message; content may be a string or a list of typed parts (e.g. `{type: 'text', text}`). */
export interface ChatMessage {
  role: string;
  content: string | readonly Record<string, unknown>[];
  [key: string]: unknown;
}

/** Options of `applyChatTemplate`. */
export interface ChatTemplateOptions {
  /** Append the assistant header so the model answers next. */
  addGenerationPrompt?: boolean;
  /** Tool/function specs passed to the template as `tools`. */
  tools?: readonly unknown[];
  /** A template to use instead of the tokenizer's own, or the name of one of its named templates. */
  chatTemplate?: string;
  /** Extra variables for the template (e.g. `date_string`). */
  extra?: Record<string, unknown>;
}

/** Options of `encode`. */
export interface EncodeOptions {
  /** Add BOS/EOS as the tokenizer's post-processor says (default true). Use false for rendered chat templates. */
  addSpecialTokens?: boolean;
}

/** Options of `decode`. */
export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

type TokenConfig = Record<string, unknown>;

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/** A loaded tokenizer. */
export class PreTrainedTokenizer implements TokenizerLike {
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  private readonly tok: Tokenizer;
  private readonly templates: Record<string, string>;

  /**
   * @param tokenizerJson parsed tokenizer.json
   * @param config parsed tokenizer_config.json (special tokens, chat_template)
   * @param chatTemplate a template read from chat_template.jinja, when the folder has one
   */
  constructor(tokenizerJson: Record<string, unknown>, readonly config: TokenConfig = {}, chatTemplate?: string | null) {
    this.tok = new Tokenizer(tokenizerJson, config);
    this.bosToken = tokenContent(config.bos_token);
    this.eosToken = tokenContent(config.eos_token);
    this.padToken = tokenContent(config.pad_token);
    this.unkToken = tokenContent(config.unk_token);
    this.templates = {};
    const ct = config.chat_template;
    if (typeof ct === 'string') this.templates.default = ct;
    else if (Array.isArray(ct)) for (const t of ct as { name: string; template: string }[]) this.templates[t.name] = t.template;
    if (chatTemplate) this.templates.default = chatTemplate;
  }

  /** Id of a token string, or null. */
  tokenToId(token: string | null): number | null {
    if (token === null) return null;
    return this.tok.token_to_id(token) ?? null;
  }

  /** The token string of an id, or null. */
  idToToken(id: number): string | null {
    return this.tok.id_to_token(id) ?? null;
  }

  get bosTokenId(): number | null {
    return this.tokenToId(this.bosToken);
  }

  get eosTokenId(): number | null {
    return this.tokenToId(this.eosToken);
  }

  get padTokenId(): number | null {
    return this.tokenToId(this.padToken);
  }

  /** Token ids of `text`. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new ArgumentError(`encode: 'text' must be a string, got ${typeof text}`);
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /** Token strings of `text` (no special tokens added). */
  tokenize(text: string): string[] {
    return this.tok.tokenize(text);
  }

  /** Text of `ids`. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    return this.tok.decode(ids.slice(), { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /**
   * Encodes several texts and left-pads them to one length, ready for `generate()`:
   * `{ inputIds, attentionMask }` as (B, T) nested arrays.
   */
  encodeBatch(texts: readonly string[], opts: EncodeOptions & { padTokenId?: number } = {}): { inputIds: number[][]; attentionMask: number[][] } {
    const enc = texts.map((t) => this.encode(t, opts));
    const T = Math.max(...enc.map((e) => e.length));
    const pad = opts.padTokenId ?? this.padTokenId ?? this.eosTokenId ?? 0;
    return {
      inputIds: enc.map((e) => [...new Array(T - e.length).fill(pad), ...e]),
      attentionMask: enc.map((e) => [...new Array(T - e.length).fill(0), ...new Array(e.length).fill(1)]),
    };
  }

  /** True when the tokenizer has a chat template. */
  get hasChatTemplate(): boolean {
    return Object.keys(this.templates).length > 0;
  }

  /**
   * Renders a conversation with the tokenizer's chat template (Jinja), as Hugging Face's
   * `apply_chat_template(..., tokenize=False)`. Tokenize the result with
   * `encode(text, { addSpecialTokens: false })` — the template already holds BOS.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    let source = opts.chatTemplate;
    if (source !== undefined && this.templates[source]) source = this.templates[source];
    source ??= this.templates.default ?? Object.values(this.templates)[0];
    if (!source) {
      throw new ArgumentError('applyChatTemplate: this tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja); pass { chatTemplate }');
    }
    return new Template(source).render({
      messages,
      add_generation_prompt: !!opts.addGenerationPrompt,
      tools: opts.tools,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
      pad_token: this.padToken ?? '',
      unk_token: this.unkToken ?? '',
      ...opts.extra,
    });
  }

  /** A decoder for a stream of generated ids that never splits a character. */
  createStreamDecoder(opts: DecodeOptions = {}): StreamDecoder {
    return createStreamDecoder(this, opts);
  }
}

/** Loads tokenizers from model folders. */
export const AutoTokenizer = {
  /** Reads `dir/tokenizer.json`, `tokenizer_config.json` and (if present) `chat_template.jinja` / `chat_template.json`. */
  async fromPretrained(dir: string): Promise<PreTrainedTokenizer> {
    const { promises, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const read = async (f: string) => (existsSync(join(dir, f)) ? promises.readFile(join(dir, f), 'utf8') : null);
    const json = await read('tokenizer.json');
    if (!json) throw new ArgumentError(`AutoTokenizer.fromPretrained: no tokenizer.json in '${dir}' (only tokenizer.json tokenizers are supported)`);
    const cfgText = await read('tokenizer_config.json');
    const config = cfgText ? (JSON.parse(cfgText) as TokenConfig) : {};
    const special = await read('special_tokens_map.json');
    if (special) for (const [k, v] of Object.entries(JSON.parse(special) as TokenConfig)) if (config[k] === undefined) config[k] = v;
    let template = await read('chat_template.jinja');
    const tj = await read('chat_template.json');
    if (!template && tj) template = (JSON.parse(tj) as { chat_template?: string }).chat_template ?? null;
    return new PreTrainedTokenizer(JSON.parse(json) as Record<string, unknown>, config, template);
  },
};
