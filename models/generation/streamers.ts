/**
 * Streaming tokens out of `generate()` as they are produced: a callback, an async iterator of
 * token steps, or text (through a streaming decoder that holds back incomplete UTF-8 / byte
 * pieces).
 */

import type { StreamDecoder, TokenizerLike } from '../tokenizer/stream_decoder.js';
import { createStreamDecoder } from '../tokenizer/stream_decoder.js';

/** What `generate()` feeds: one entry per row each step (−1 for rows that already finished). */
export interface GenerationStreamer {
  put(tokens: number[]): void | Promise<void>;
  end(): void | Promise<void>;
}

/** A queue that turns put()/end() into an async iterator. */
class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void)[] = [];
  private done = false;

  push(x: T): void {
    const w = this.waiting.shift();
    if (w) w({ value: x, done: false });
    else this.items.push(x);
  }

  close(): void {
    this.done = true;
    for (const w of this.waiting.splice(0)) w({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => this.waiting.push(r));
      },
    };
  }
}

/** Streams each step's tokens (one per row) as an async iterable. */
export class TokenStreamer implements GenerationStreamer, AsyncIterable<number[]> {
  private readonly q = new AsyncQueue<number[]>();
  put(tokens: number[]): void {
    this.q.push(tokens.slice());
  }
  end(): void {
    this.q.close();
  }
  [Symbol.asyncIterator](): AsyncIterator<number[]> {
    return this.q[Symbol.asyncIterator]();
  }
}

/** Options of `TextStreamer`. */
export interface TextStreamerOptions {
  /** Called with each new piece of text (never a split UTF-8 character). */
  onText?: (text: string) => void;
  skipSpecialTokens?: boolean;
}

/** Streams the text of row 0 as it is produced: a callback and/or an async iterable of text pieces. */
export class TextStreamer implements GenerationStreamer, AsyncIterable<string> {
  private readonly decoder: StreamDecoder;
  private readonly q = new AsyncQueue<string>();

  constructor(tokenizer: TokenizerLike, private readonly opts: TextStreamerOptions = {}) {
    this.decoder = createStreamDecoder(tokenizer, { skipSpecialTokens: opts.skipSpecialTokens ?? true });
  }

  put(tokens: number[]): void {
    if (tokens[0] < 0) return;
    this.emit(this.decoder.push(tokens[0]));
  }

  end(): void {
    this.emit(this.decoder.flush());
    this.q.close();
  }

  private emit(text: string): void {
    if (!text) return;
    this.opts.onText?.(text);
    this.q.push(text);
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    return this.q[Symbol.asyncIterator]();
  }
}
