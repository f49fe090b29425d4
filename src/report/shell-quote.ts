/**
 * Quotes one argument for a POSIX shell; plain words stay as they are. An argument holding control characters (a
 * newline, an escape) is written as `$'…'` with each of them escaped (`\x1b`, `\u009b`; bash, zsh, ksh, POSIX sh
 * since 2024), so the command stays on one line and no raw control character reaches a terminal or a clipboard.
 */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  if (!/[\u0000-\u001f\u007f-\u009f]/.test(arg)) return `'${arg.replaceAll("'", `'\\''`)}'`;
  const body = arg.replace(/[\\'\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\\' || c === "'") return `\\${c}`;
    const code = c.charCodeAt(0);
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return `$'${body}'`;
}
