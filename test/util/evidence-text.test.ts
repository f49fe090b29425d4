import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { bounded, evidenceText, redactSecrets } from '../../src/util/evidence-text.js';

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
