import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.js';

describe('SseParser', () => {
  it('parses events with ids, multi-line data and comments', () => {
    const p = new SseParser();
    const events = p.push(': keep-alive\nid: 7\nevent: audit\ndata: {"a":1}\ndata: line2\n\nid: 8\ndata: x\n\n');
    expect(events).toEqual([
      { id: '7', event: 'audit', data: '{"a":1}\nline2', retry: null },
      { id: '8', event: 'message', data: 'x', retry: null },
    ]);
    expect(p.lastId).toBe('8');
  });

  it('reassembles events split across chunks anywhere, CRLF included', () => {
    const text = 'id: 1\r\ndata: hello\r\n\r\nid: 2\r\ndata: world\r\n\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(events.map((e) => [e.id, e.data])).toEqual([['1', 'hello'], ['2', 'world']]);
    }
  });

  it('keeps the last id for events without one, reads retry, ignores unknown fields and blank dispatches', () => {
    const p = new SseParser();
    const events = p.push('id: 5\ndata: a\n\n\n\nretry: 1500\nfoo: bar\ndata\n\nretry: x\nid: bad\0id\ndata: b\n\n');
    expect(events).toEqual([
      { id: '5', event: 'message', data: 'a', retry: null },
      { id: '5', event: 'message', data: '', retry: 1500 },
      { id: '5', event: 'message', data: 'b', retry: null },
    ]);
  });
});
