/** The `flashtensor` command: generate streams a story from the bundled model and prints speeds. */

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers.js';

const run = promisify(execFile);
const CLI = join(REPO_ROOT, 'dist', 'models', 'cli.js');

describe('flashtensor CLI', () => {
  it('generate --prompt streams a greedy story from the bundled model and reports tokens/s', async () => {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'generate', '--prompt', 'Once upon a time', '--max-new-tokens', '24', '--temperature', '0']);
    expect(stdout.startsWith('Once upon a time, there was a little girl named Lily.')).to.equal(true);
    expect(stderr).to.match(/prefill: \d+ tokens in [\d.]+ ms \([\d.]+ tokens\/s\); decode: 23 tokens in [\d.]+ ms \([\d.]+ tokens\/s\)/);
  });

  it('sampling flags are honoured and seeded', async () => {
    const args = [CLI, 'generate', '--prompt', 'The cat', '--max-new-tokens', '12', '--temperature', '0.9', '--top-k', '20', '--top-p', '0.95', '--seed', '3'];
    const a = await run(process.execPath, args);
    const b = await run(process.execPath, args);
    expect(a.stdout).to.equal(b.stdout);
  });

  it('prints usage, and rejects bad flags with a message', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--help']);
    expect(stdout).to.match(/--max-new-tokens/);
    await run(process.execPath, [CLI, 'generate', '--temperature', 'hot']).then(
      () => expect.fail('should fail'),
      (e: { stderr: string }) => expect(e.stderr).to.match(/--temperature expects a number/),
    );
    await run(process.execPath, [CLI, 'generate', '--attn-implementation', 'flash_attention_2']).then(
      () => expect.fail('should fail'),
      (e: { stderr: string }) => expect(e.stderr).to.match(/float16 or bfloat16/),
    );
  });
});
