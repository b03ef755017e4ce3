/** The confirmation box draws an error (often a gateway's words) escaped: no control or bidi character reaches the terminal. */
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { ColorContext } from '../lib/theme.js';
import { ConfirmBox } from './Dialogs.js';

describe('ConfirmBox', () => {
  it('shows an error carrying ESC [2K and U+202E escaped, its words kept', () => {
    const r = render(
      <ColorContext.Provider value={false}>
        <ConfirmBox title="Revoke grant 6b1f?" width={100} lines={['stops reading']} prompt="Type 6b1f and Enter:" typed="" error={'refused: \u001b[2Kall revoked\u202e ok'} />
      </ColorContext.Provider>,
    );
    const frame = r.lastFrame() ?? '';
    r.unmount();
    expect(frame).toContain('refused: \\x1b[2Kall revoked\\u202e ok');
    expect(frame).not.toContain('\u001b');
    expect(frame).not.toContain('\u202e');
  });
});
