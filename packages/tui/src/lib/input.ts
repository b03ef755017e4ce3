/** Line editing for the few text fields (filter, grant editor, add-peer form). */
export interface KeyLike {
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
  meta?: boolean;
  return?: boolean;
  escape?: boolean;
  tab?: boolean;
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
}

/** `value` after one key: printable text appended (pastes too), backspace, Ctrl-U clears, Ctrl-W drops a word. */
export function editLine(value: string, input: string, key: KeyLike, max = 2048): string {
  if (key.backspace || key.delete) return value.slice(0, -1);
  if (key.ctrl && input === 'u') return '';
  if (key.ctrl && input === 'w') return value.replace(/\S*\s*$/, '');
  if (key.ctrl || key.meta || key.return || key.escape || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return value;
  // eslint-disable-next-line no-control-regex -- typed control characters are dropped
  const text = input.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  return (value + text).slice(0, max);
}
