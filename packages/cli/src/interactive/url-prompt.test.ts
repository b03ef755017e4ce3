import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CANCELLED, promptHidden } from './url-prompt.js';

const TOKEN = 'k'.repeat(43);

function streams() {
  const input = new PassThrough() as PassThrough & NodeJS.ReadStream;
  let written = '';
  const output = new PassThrough() as PassThrough & NodeJS.WriteStream;
  output.on('data', (d: Buffer) => (written += d.toString()));
  output.columns = 100;
  return { input, output, written: () => written };
}

const options = {
  message: 'Enrollment URL',
  validate: (v: string) => (v.includes('/enroll/') ? undefined : 'not an enrollment URL'),
  mask: (v: string) => v.replace(/\/enroll\/.*/, '/enroll/•••'),
  shown: (v: string) => v.replace(/\/enroll\/.*/, '/enroll/<redacted>'),
  color: false,
};

describe('the hidden prompt', () => {
  it('takes a pasted value; the secret part is never written, neither while typing nor once accepted', async () => {
    const s = streams();
    const answer = promptHidden({ ...options, input: s.input, output: s.output });
    s.input.write(`https://w:8443/api/federation/v1/enroll/${TOKEN}`);
    await new Promise((r) => setImmediate(r));
    s.input.write('\r');
    expect(await answer).toBe(`https://w:8443/api/federation/v1/enroll/${TOKEN}`);
    expect(s.written()).not.toContain('kkkk');
    expect(s.written()).toContain('◇  Enrollment URL\n│  https://w:8443/api/federation/v1/enroll/<redacted>\n');
  });

  it('refuses an invalid value in place, takes backspace and Ctrl-U, and Ctrl-C cancels', async () => {
    const s = streams();
    const answer = promptHidden({ ...options, input: s.input, output: s.output });
    s.input.write('https://nope');
    s.input.write('\r');
    await new Promise((r) => setImmediate(r));
    expect(s.written()).toContain('└  not an enrollment URL');
    s.input.write('\u007f\u007f\u0015abc');
    await new Promise((r) => setImmediate(r));
    expect(s.written()).toMatch(/│ {2}abc█/);
    s.input.write('\u0003');
    expect(await answer).toBe(CANCELLED);
    expect(s.written()).toContain('■  Enrollment URL');
  });
});
