/**
 * @mosaic/tui — the full-screen terminal UI (Ink): peer dashboard, grant editor, live audit
 * tail. Launched by the CLI (`mosaic tui`, bare `mosaic federation` on a TTY) with a lazy
 * import, so no other command pays for Ink and React.
 */
export { runTui, type TuiOptions } from './run.js';
export { App, type AppProps } from './App.js';
export type { GatewayTarget } from './lib/gateways.js';
export { localGateways } from './lib/gateways.js';
export type { AdminApi } from './lib/api.js';
