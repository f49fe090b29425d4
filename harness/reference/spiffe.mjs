// @ts-check
/**
 * URI SANs out of Node's `subjectaltname` string ("DNS:a, URI:spiffe://td/ns/x/sa/y, IP Address:1.2.3.4").
 * Node JSON-quotes values holding a comma or quote (`URI:"spiffe://x,y"`), so this is a small tokenizer, not a split.
 * @param {string | undefined} subjectAltName
 * @returns {string[]}
 */
export function uriSans(subjectAltName) {
  /** @type {string[]} */
  const out = [];
  const s = subjectAltName ?? '';
  let i = 0;
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === ',') i++;
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon);
    i = colon + 1;
    let value = '';
    if (s[i] === '"') {
      // JSON string: find the closing quote that is not escaped
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(s.slice(i, j + 1));
      } catch {
        value = '';
      }
      i = j + 1;
    } else {
      const comma = s.indexOf(', ', i);
      const end = comma < 0 ? s.length : comma;
      value = s.slice(i, end);
      i = end;
    }
    if (type === 'URI') out.push(value);
  }
  return out;
}
