/** A one-line message in the key line, for a few seconds. */
export interface Flash {
  text: string;
  tone?: 'green' | 'red' | 'yellow' | undefined;
}
