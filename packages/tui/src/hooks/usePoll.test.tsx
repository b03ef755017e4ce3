import { useState } from 'react';
import { Text } from 'ink';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { usePoll } from './usePoll.js';

describe('usePoll', () => {
  it('a changed answer is drawn even when the component has another update queued as it lands (it was dropped for good)', async () => {
    const answers = ['A', 'A', 'B'];
    let calls = 0;
    let bump: () => void = () => undefined;
    function Probe() {
      const [n, setN] = useState(0);
      bump = () => setN((x) => x + 1);
      const poll = usePoll(() => {
        // another state update of this component, queued just before the answer lands: React
        // then runs the poll's updater later, not at once
        bump();
        return Promise.resolve(answers[Math.min(calls++, answers.length - 1)]);
      }, 20);
      return <Text>{`data=${String(poll.data)} renders=${n}`}</Text>;
    }
    const r = render(<Probe />);
    try {
      const end = Date.now() + 3000;
      while (!(r.lastFrame() ?? '').includes('data=B')) {
        if (Date.now() > end) throw new Error(`never drew the changed answer; shows ${r.lastFrame()} after ${calls} polls`);
        await new Promise((res) => setTimeout(res, 10));
      }
      expect(calls).toBeGreaterThanOrEqual(3);
    } finally {
      r.unmount();
    }
  });
});
