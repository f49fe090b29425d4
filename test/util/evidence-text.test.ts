import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { bounded, evidenceText, redactLines, redactSecrets } from '../../src/util/evidence-text.js';

describe('evidence text: secrets redacted, sizes bounded', () => {
  it('PEM private keys of every kind, JSON and YAML key members are redacted; certificates and other text stay', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const text = [
      'log: loaded key',
      rsa,
      ec,
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      '{"privateKey":"c2VjcmV0","name":"x","private_key":{"inline_bytes":"c2VjcmV0"}}',
      'tls.key: c2VjcmV0',
      "keyPem: 'abc'",
    ].join('\n');
    const out = redactSecrets(text);
    expect(out).to.not.match(/MII[A-Za-z0-9+/]{20}/);
    expect(out).to.not.include('c2VjcmV0');
    expect(out).to.not.include("'abc'");
    expect(out).to.include('-----BEGIN RSA PRIVATE KEY----- [redacted] -----END RSA PRIVATE KEY-----');
    expect(out).to.include('-----BEGIN PRIVATE KEY----- [redacted] -----END PRIVATE KEY-----');
    expect(out).to.include('-----BEGIN CERTIFICATE-----\nMIIB');
    expect(out).to.include('"name":"x"');
    // An object value is left whole, its key members redacted inside it; redacting twice changes nothing.
    const nested = redactSecrets('{"privateKey":{"inlineBytes":"c2VjcmV0"},"x":1}');
    expect(JSON.parse(nested)).to.deep.equal({ privateKey: { inlineBytes: '[redacted]' }, x: 1 });
    expect(redactSecrets(redactSecrets('privateKey=abc tls.key: "q"'))).to.equal('privateKey=[redacted] tls.key: "[redacted]"');
    // A key block cut off by a bound is redacted to its end.
    expect(redactSecrets(`x\n${rsa.slice(0, 200)}`)).to.not.match(/MII[A-Za-z0-9+/]{20}/);
  });

  it('bounded keeps whole characters: the tail of logs, the head of state', () => {
    const text = `${'é'.repeat(100)}end`;
    const tail = bounded(text, 11, 'tail');
    expect(tail.truncated).to.equal(true);
    expect(Buffer.byteLength(tail.text)).to.be.at.most(11);
    expect(tail.text.endsWith('end')).to.equal(true);
    expect(tail.text).to.not.include('\uFFFD');
    const head = bounded(text, 11, 'head');
    expect(head.text).to.equal('é'.repeat(5));
    expect(bounded('short', 100, 'head')).to.deep.equal({ text: 'short' });
    expect(evidenceText('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', 10_000, 'head').text).to.not.include('AAAA');
  });
});

describe('evidence text: secret shapes from real data planes', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const body = ec.split('\n').filter((l) => l && !l.startsWith('-----'));
  const b64 = Buffer.from(ec).toString('base64');

  it('Secret data, YAML block scalars, JSON inside JSON strings, base64 of a PEM key, inline_string', () => {
    const cases = [
      `key.pem: ${b64}`,
      `ca.key: ${b64}`,
      `data:\n  tls.key: |\n    ${body.join('\n    ')}\n  tls.crt: abc`,
      `{"log":"{\\"inlineBytes\\":\\"${b64}\\"}"}`,
      `private_key: {inline_string: "${b64}"}`,
      `config dump ${b64} end`,
    ];
    for (const c of cases) {
      const out = redactSecrets(c);
      expect(out, c.slice(0, 40)).to.not.include(b64.slice(0, 40));
      for (const line of body) expect(out, c.slice(0, 40)).to.not.include(line);
    }
    expect(redactSecrets(cases[2]!)).to.include('tls.crt: abc');
  });

  it('a key whose start was cut off, and a key spread over log lines, are redacted line by line', () => {
    const cut = ec.split('\n').slice(2).join('\n');
    const out = redactSecrets(`before\n${cut}after`);
    for (const line of body.slice(1)) expect(out).to.not.include(line);
    expect(out).to.include('before').and.include('after');
    const lines = ['start', ...ec.trim().split('\n'), 'after'];
    const red = redactLines(lines);
    expect(red.length).to.equal(lines.length);
    expect(red[0]).to.equal('start');
    expect(red.at(-1)).to.equal('after');
    for (const line of body) expect(red.join('\n')).to.not.include(line);
    // A window that starts inside the key: the base64 lines before its end go too.
    const tail = redactLines(['x', ...ec.trim().split('\n').slice(2), 'y']);
    for (const line of body.slice(1)) expect(tail.join('\n')).to.not.include(line);
    expect(tail[0]).to.equal('x');
  });
});
