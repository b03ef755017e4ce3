/** One Server-Sent Event. */
export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
  retry: number | null;
}

/**
 * Incremental text/event-stream parser (WHATWG HTML §9.2): feed it chunks as they arrive,
 * it returns the events completed so far. Handles CRLF/CR/LF, comments, multi-line data,
 * and chunk boundaries anywhere (also inside a CRLF).
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  private retry: number | null = null;
  private lastEventId: string | null = null;
  private sawCr = false;

  /** The id of the last dispatched event that carried one (for Last-Event-ID). */
  get lastId(): string | null {
    return this.lastEventId;
  }

  push(chunk: string): SseEvent[] {
    const out: SseEvent[] = [];
    let text = chunk;
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.sawCr && text.startsWith('\n')) text = text.slice(1);
    this.sawCr = text.endsWith('\r');
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) this.line(line, out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        if (this.id !== null) this.lastEventId = this.id;
        out.push({ id: this.id ?? this.lastEventId, event: this.event || 'message', data: this.data.join('\n'), retry: this.retry });
      }
      this.data = [];
      this.event = '';
      this.id = null;
      this.retry = null;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }
}
