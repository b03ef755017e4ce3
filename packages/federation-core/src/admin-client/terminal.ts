/**
 * What a value read from a gateway must not bring to a terminal (SECURITY.md case 35): C0
 * controls (ESC, CR, BS…), DEL and the C1 controls (CSI U+009B, OSC U+009D…), which rewrite or
 * hide a line; the bidi marks, embeddings, overrides and isolates and the line/paragraph
 * separators, which reorder or break it; and the zero-width characters (U+200B–U+200D,
 * U+2060–U+2064, U+FEFF), which hide text between look-alike names. One set for the CLI and
 * the TUI, so both show a stored value the same way. Global: use it with `replace`.
 */
// eslint-disable-next-line no-control-regex -- these characters are matched to be replaced, never written
export const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;
