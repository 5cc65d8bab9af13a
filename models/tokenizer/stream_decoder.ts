/**
 * Decoding a token stream into text without ever splitting a character. Byte-level BPE and
 * SentencePiece byte-fallback pieces can end mid UTF-8 sequence, and decoders treat the first
 * token of a call specially (a leading space is stripped), so each step decodes a short window
 * twice — up to the last emitted token, and through the new one — and emits the difference once
 * it no longer ends in an incomplete character (U+FFFD).
 */

/** What the stream decoder needs from a tokenizer. */
export interface TokenizerLike {
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
}

/** A stateful decoder: push ids, get new text. */
export interface StreamDecoder {
  /** Adds one token; returns text that is now complete (possibly ''). */
  push(id: number): string;
  /** Returns whatever is held back (at the end of the stream). */
  flush(): string;
}

/** Makes a streaming decoder over `tokenizer`. */
export function createStreamDecoder(tokenizer: TokenizerLike, opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
  const ids: number[] = [];
  let prefix = 0; // window start: a few tokens of context so leading-space rules apply as in a full decode
  let read = 0; // tokens whose text was emitted
  const dec = (a: number, b: number) => tokenizer.decode(ids.slice(a, b), { skipSpecialTokens: opts.skipSpecialTokens });
  return {
    push(id: number): string {
      ids.push(id);
      const before = dec(prefix, read);
      const now = dec(prefix, ids.length);
      if (now.length <= before.length || now.endsWith('\uFFFD')) return '';
      prefix = read;
      read = ids.length;
      return now.slice(before.length);
    },
    flush(): string {
      const before = dec(prefix, read);
      const now = dec(prefix, ids.length);
      read = ids.length;
      return now.length > before.length ? now.slice(before.length) : '';
    },
  };
}
