// Run as `node crash-fixture.js <data dir>` by the terminal test (see CRASH_FIXTURE in
// terminal.ts): the built TUI on that data dir's gateway, through a fetch that passes every
// request on and, from the second peer list on, answers with the real peers whose `circuit` is
// null — so the Peers table throws while rendering (`circuit.replace`), a crash inside the app.
// Errors end the process the way bin.ts ends it.
import { readAdminTokenFile, readDiscoveryFile } from '@mosaic/federation-core/admin-client';
import { runTui } from '../../dist/run.js';

const dataDir = process.argv[2];
const file = readDiscoveryFile(dataDir);
if (file === null) throw new Error(`no gateway on ${dataDir}`);
let peerLists = 0;
/** @type {typeof fetch} */
const fetchThatBreaks = async (input, init) => {
  const res = await globalThis.fetch(input, init);
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.pathname !== '/api/admin/peers' || (init?.method ?? 'GET') !== 'GET' || ++peerLists < 2) return res;
  const body = await res.json();
  const broken = { items: body.items.map((p) => ({ ...p, circuit: null })) };
  return new globalThis.Response(JSON.stringify(broken), { status: 200, headers: { 'content-type': 'application/json' } });
};
try {
  process.exitCode = await runTui({
    targets: [{ name: file.name, baseUrl: file.adminUrl, token: readAdminTokenFile(dataDir) ?? undefined, source: dataDir }],
    userAgent: 'mosaic-tui-crash-fixture',
    fetch: fetchThatBreaks,
  });
} catch (err) {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
