// Pure pieces of the data path: the chain decision (outcomes table), request-line sniffing, SAN parsing, defects.
import { expect } from 'chai';
import { checkRequestLine } from '../../harness/common/request-line.mjs';
import { decide, hasIstioAlpn } from '../../harness/reference/decide.mjs';
import { parseDefects } from '../../harness/reference/defects.mjs';
import { uriSans } from '../../harness/reference/spiffe.mjs';

describe('harness: data-path decisions', function () {
  const plaintext = { kind: 'plaintext' } as const;
  const tlsWith = (alpn: string[] | null) => ({ kind: 'tls', alpn }) as const;

  it('STRICT terminates any TLS (ALPN is not checked) and closes plaintext', function () {
    for (const protocol of ['tcp', 'http'] as const) {
      expect(decide('STRICT', protocol, plaintext)).to.equal('close');
      expect(decide('STRICT', protocol, tlsWith(null))).to.equal('terminate');
      expect(decide('STRICT', protocol, tlsWith(['h2']))).to.equal('terminate');
    }
  });

  it('PERMISSIVE terminates every Istio ALPN (allIstioMtlsALPNs, HTTP ports too), passes other TLS through on TCP ports and closes it on HTTP ports', function () {
    expect(decide('PERMISSIVE', 'tcp', plaintext)).to.equal('plaintext');
    expect(decide('PERMISSIVE', 'tcp', tlsWith(['istio']))).to.equal('terminate');
    expect(decide('PERMISSIVE', 'tcp', tlsWith(['h2', 'istio-http/1.1']))).to.equal('terminate');
    expect(decide('PERMISSIVE', 'tcp', tlsWith(['h2']))).to.equal('passthrough');
    expect(decide('PERMISSIVE', 'tcp', tlsWith(null))).to.equal('passthrough');
    expect(decide('PERMISSIVE', 'http', plaintext)).to.equal('plaintext');
    expect(decide('PERMISSIVE', 'http', tlsWith(['istio-h2']))).to.equal('terminate');
    // TCP mTLS is terminated on an HTTP port too; its non-HTTP bytes are then a protocol error (connection.mjs).
    expect(decide('PERMISSIVE', 'http', tlsWith(['istio-peer-exchange', 'istio']))).to.equal('terminate');
    expect(decide('PERMISSIVE', 'http', tlsWith(['istio']))).to.equal('terminate');
    expect(decide('PERMISSIVE', 'http', tlsWith(['h2', 'http/1.1']))).to.equal('close');
    expect(decide('PERMISSIVE', 'http', tlsWith(null))).to.equal('close');
  });

  it('DISABLE never terminates: TLS passes through on TCP ports and is a protocol error on HTTP ports', function () {
    expect(decide('DISABLE', 'tcp', plaintext)).to.equal('plaintext');
    expect(decide('DISABLE', 'tcp', tlsWith(['istio']))).to.equal('passthrough');
    expect(decide('DISABLE', 'http', plaintext)).to.equal('plaintext');
    expect(decide('DISABLE', 'http', tlsWith(['istio-http/1.1']))).to.equal('protocol-error');
  });

  it('matches every Istio mTLS ALPN (allIstioMtlsALPNs, the same set on both port protocols), nothing else', function () {
    for (const p of ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']) expect(hasIstioAlpn([p]), p).to.equal(true);
    expect(hasIstioAlpn(['http/1.1', 'h2'])).to.equal(false);
    expect(hasIstioAlpn(null)).to.equal(false);
  });
});

describe('harness: HTTP/1.x request-line check', function () {
  const check = (s: string | Buffer) => checkRequestLine(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

  it('accepts request lines with CRLF or a lone LF', function () {
    expect(check('GET / HTTP/1.1\r\nhost: x\r\n\r\n')).to.deep.equal({ state: 'ok', lineEnd: 16 });
    expect(check('POST /a?b=c HTTP/1.0\n')).to.deep.equal({ state: 'ok', lineEnd: 21 });
  });

  it('waits for more on every prefix of a valid line', function () {
    const line = 'OPTIONS * HTTP/1.1\r\n';
    for (let n = 0; n < line.length; n++) expect(check(line.slice(0, n)).state, line.slice(0, n)).to.equal('need-more');
  });

  it('rejects as early as the first impossible byte', function () {
    expect(check(Buffer.from([0x16, 0x03, 0x01])).state).to.equal('bad');
    expect(check('MESHCONFORM-PROBE a|b|c\n').state).to.equal('bad');
    expect(check('GET / HTTP/2.0\r\n').state).to.equal('bad');
    expect(check('PRI * HTTP/2.0\r\n').state).to.equal('bad');
    expect(check(' GET / HTTP/1.1\r\n').state).to.equal('bad');
    expect(check('GET  / HTTP/1.1\r\n').state).to.equal('bad');
    expect(check('GET / HTTP/1.1 \r\n').state).to.equal('bad');
    expect(check('GET / HTTP/1.1\rX').state).to.equal('bad');
  });

  it('bounds the line length', function () {
    expect(checkRequestLine(Buffer.from(`GET /${'a'.repeat(100)}`), 50).state).to.equal('bad');
  });
});

describe('harness: SPIFFE URI SANs and defects', function () {
  it('extracts URI SANs from Node subjectaltname strings, quoted or not', function () {
    expect(uriSans('DNS:finance.foo.svc, URI:spiffe://cluster.local/ns/foo/sa/finance, IP Address:127.0.0.1')).to.deep.equal(['spiffe://cluster.local/ns/foo/sa/finance']);
    expect(uriSans('URI:"spiffe://td/ns/a,b/sa/c", URI:spiffe://td/x')).to.deep.equal(['spiffe://td/ns/a,b/sa/c', 'spiffe://td/x']);
    expect(uriSans(undefined)).to.deep.equal([]);
    expect(uriSans('DNS:only')).to.deep.equal([]);
  });

  it('accepts no defects and refuses unknown ones', function () {
    expect([...parseDefects(undefined)]).to.deep.equal([]);
    expect([...parseDefects(' , ')]).to.deep.equal([]);
    expect(() => parseDefects('fail-open')).to.throw(/unknown defect 'fail-open'/);
  });
});
