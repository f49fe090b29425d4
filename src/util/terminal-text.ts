/**
 * Text a data plane, a scenario file or a file name controls is printed on terminals: control characters (escape
 * sequences, OSC titles, carriage returns, NUL) are shown as \uXXXX, never sent raw. Tab stays; newlines stay only
 * when `keepNewlines` (a multi-line message of our own).
 */
export function escapeControls(text: string, options: { readonly keepNewlines?: boolean } = {}): string {
  const re = options.keepNewlines ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g : /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
  return text.replace(re, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
