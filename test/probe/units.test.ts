import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { DIRECT_CLIENT_KINDS } from '../../src/model/index.js';
import { createMeshPki } from '../../src/pki/index.js';
import { CLIENT_PROFILES, createProbeContext, parseEchoLine, receivedAlert, uriSan } from '../../src/probe/index.js';
import { outcomeOfError, outcomeOfReplyLine } from '../../src/probe/outcome.js';
import { ProbeError } from '../../src/util/errors.js';

const errno = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('probe: client profiles (outcomes.md "Clients")', function () {
  it('covers every client kind', function () {
    expect(Object.keys(CLIENT_PROFILES)).to.have.members([...DIRECT_CLIENT_KINDS]);
  });

  it('offers exactly the ALPN and payload each client must use', function () {
    const alpn = (k: keyof typeof CLIENT_PROFILES, p: 'tcp' | 'http') => {
      const t = CLIENT_PROFILES[k].tls;
      return t ? (t.alpn(p) ?? 'none') : 'plaintext';
    };
    expect(alpn('plaintext-tcp', 'tcp')).to.equal('plaintext');
    expect(alpn('plaintext-http', 'http')).to.equal('plaintext');
    expect(alpn('mtls-tcp', 'http')).to.deep.equal(['istio-peer-exchange', 'istio']);
    expect(alpn('mtls-http', 'tcp')).to.deep.equal(['istio-http/1.1']);
    expect(alpn('tls-no-client-cert', 'tcp')).to.equal('none');
    expect(alpn('tls-no-istio-alpn', 'http')).to.equal('none');
    for (const bad of ['mtls-foreign-ca', 'mtls-expired', 'mtls-other-trust-domain'] as const) {
      expect(alpn(bad, 'tcp')).to.deep.equal(['istio-peer-exchange', 'istio']);
      expect(alpn(bad, 'http')).to.deep.equal(['istio-http/1.1']);
    }
    expect(CLIENT_PROFILES['mtls-tcp'].payload('http')).to.equal('line');
    expect(CLIENT_PROFILES['mtls-http'].payload('tcp')).to.equal('http');
    for (const k of ['tls-no-client-cert', 'mtls-foreign-ca', 'mtls-expired', 'mtls-other-trust-domain', 'tls-no-istio-alpn'] as const) {
      expect(CLIENT_PROFILES[k].payload('tcp')).to.equal('line');
      expect(CLIENT_PROFILES[k].payload('http')).to.equal('http');
    }
    expect(CLIENT_PROFILES['tls-no-client-cert'].tls?.credential).to.equal(null);
    expect(CLIENT_PROFILES['tls-no-istio-alpn'].tls?.credential).to.equal('mesh');
  });
});

describe('probe: error classification', function () {
  it('reads alert number and name from OpenSSL errors', function () {
    expect(receivedAlert(errno('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'error:0A000418:SSL routines::tlsv1 alert unknown ca:SSL alert number 48'))).to.deep.equal({
      code: 48,
      name: 'unknown_ca',
    });
    expect(receivedAlert(errno('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'))).to.deep.equal({ name: 'bad_certificate' });
    expect(receivedAlert(errno('ERR_SSL_WRONG_VERSION_NUMBER'))).to.equal(undefined);
  });

  it('maps network errors to denials and local failures to errors', function () {
    const how = (e: Error) => {
      const o = outcomeOfError(e);
      return o.kind === 'denied' ? o.how : o.kind;
    };
    expect(how(errno('ECONNREFUSED'))).to.equal('refused');
    expect(how(errno('ECONNRESET', 'read ECONNRESET'))).to.equal('reset');
    expect(how(errno('EPIPE'))).to.equal('reset');
    expect(how(errno('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'))).to.equal('closed');
    expect(how(errno('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'x:SSL alert number 116'))).to.equal('tls-alert');
    expect(how(errno('ERR_SSL_WRONG_VERSION_NUMBER'))).to.equal('protocol-error');
    expect(how(errno('ERR_SSL_PACKET_LENGTH_TOO_LONG'))).to.equal('protocol-error');
    for (const local of ['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS']) expect(how(errno(local)), local).to.equal('error');
    expect(how(errno('ESOMETHINGNEW'))).to.equal('error');
  });

  it('classifies reply lines', function () {
    const echo = outcomeOfReplyLine('MESHCONFORM-ECHO {"workload":"a/b","port":1,"received":"plaintext","protocol":"tcp"}');
    expect(echo.kind).to.equal('echo');
    expect(outcomeOfReplyLine('HTTP/1.1 503 Service Unavailable')).to.include({ kind: 'denied', how: 'http-status', httpStatus: 503 });
    expect(outcomeOfReplyLine('HTTP/1.1 426 Upgrade Required')).to.include({ kind: 'denied', how: 'protocol-error', httpStatus: 426 });
    expect(outcomeOfReplyLine('hello')).to.include({ kind: 'denied', how: 'protocol-error' });
    expect(outcomeOfReplyLine('MESHCONFORM-ECHO {"workload":"a/b"}').kind).to.equal('error');
  });

  it('validates echo replies field by field', function () {
    expect(parseEchoLine('MESHCONFORM-ECHO {"workload":"a/b","port":1,"received":"tls","protocol":"http","xfcc":"x"}\r')).to.deep.equal({
      kind: 'echo',
      echo: { workload: 'a/b', port: 1, received: 'tls', protocol: 'http', xfcc: 'x' },
    });
    expect(parseEchoLine('MESHCONFORM-ECHO {"workload":"a/b","port":"1","received":"tls","protocol":"http"}')?.kind).to.equal('malformed');
    expect(parseEchoLine('something else')).to.equal(undefined);
  });
});

describe('probe: createProbeContext', function () {
  it('rejects unusable material with a ProbeError', function () {
    const pki = createMeshPki({ trustDomain: 'cluster.local' });
    expect(() => createProbeContext({ ...pki.probeMaterial(), meshCaPem: 'not a pem' })).to.throw(ProbeError, /meshCaPem/);
    const mismatched = { mesh: { certPem: pki.clients.mesh.certPem, keyPem: pki.appIdentity().keyPem } };
    expect(() => createProbeContext({ ...pki.probeMaterial(), clients: mismatched })).to.throw(ProbeError, /unusable/);
    expect(uriSan(new X509Certificate(pki.clients.otherTrustDomain.certPem))).to.equal('spiffe://other-trust-domain.example/ns/meshconform-probe/sa/probe-client');
    expect(uriSan(new X509Certificate(pki.appIdentity().certPem))).to.equal(null);
  });
});
