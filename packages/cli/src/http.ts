/**
 * The admin client's transport in the CLI: a `fetch` over `node:http`/`node:https`. Node's own
 * `fetch` loads its bundled undici on first use, ~40 ms of CPU — more than the rest of a
 * `grant list` together; a one-shot command does not need a connection pool or HTTP/2.
 *
 * Covers what `AdminClient` uses: method, headers, a string body, `signal` (time limit and
 * Ctrl-C), `redirect: 'error'`, and an answer with `ok`, `status`, `headers.get`, `text()`,
 * `json()` and a streamed `body` (the audit tail's Server-Sent Events). Failures look like
 * fetch's: a `TypeError('fetch failed')` whose `cause` carries the socket error's `code`.
 */
import type { IncomingMessage } from 'node:http';

interface Answer {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  body: AsyncIterable<Uint8Array> | null;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

function fetchFailed(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

function answer(res: IncomingMessage): Answer {
  const status = res.statusCode ?? 0;
  let consumed: Promise<string> | undefined;
  const text = () =>
    (consumed ??= new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.once('error', (err) => reject(fetchFailed(err)));
    }));
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: {
      get(name: string) {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    body: res,
    text,
    json: async () => JSON.parse(await text()) as unknown,
  };
}

/** A `fetch` for the admin API over node:http(s). */
export function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  // getBuiltinModule, not `import('node:http')`: an ESM import of node:http reads every export,
  // and one of them (a lazy getter for the WebSocket API) loads undici — the cost this file avoids.
  const { request } = url.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http');
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  const headers = (init.headers ?? {}) as Record<string, string>;
  const body = typeof init.body === 'string' ? init.body : undefined;
  return new Promise<Response>((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && init.redirect === 'error') {
        res.resume();
        reject(fetchFailed(Object.assign(new Error(`the gateway answered with a redirect (HTTP ${status})`), { code: 'UNEXPECTED_REDIRECT' })));
        return;
      }
      resolve(answer(res) as unknown as Response);
    });
    const onAbort = () => {
      const reason: unknown = signal?.reason;
      const err = reason instanceof Error ? reason : new Error('aborted');
      req.destroy(err);
      reject(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('close', () => signal?.removeEventListener('abort', onAbort));
    req.once('error', (err) => {
      if (signal?.aborted) return;
      reject(fetchFailed(err));
    });
    req.end(body);
  });
}
