// Workload configs for the contract tests: one valid config using every optional shape, and a table of hostile and
// malformed variants with the verdict the schema and the harness checker must both give.

/** A JSON value, parsed from text: objects may have an own `__proto__` key, as JSON.parse makes them. */
type Json = ReturnType<typeof JSON.parse>;

/** A valid config exercising the optional shapes: prefixed labels, empty label values, null and UNSET modes. */
export function validConfig(): Json {
  return {
    apiVersion: 'meshconform.dev/v1alpha1',
    workload: {
      name: 'finance',
      namespace: 'foo',
      labels: { app: 'finance', 'app.kubernetes.io/version': 'v1', empty: '' },
      serviceAccount: 'finance.sa',
      address: '127.77.1.1',
      ports: [
        { port: 8080, protocol: 'http' },
        { port: 9090, protocol: 'tcp' },
      ],
    },
    app: { address: '127.77.1.1', ports: { '8080': 40001, '9090': 40002 } },
    mesh: { mode: 'sidecar', rootNamespace: 'istio-system', trustDomain: 'cluster.local' },
    tls: { certFile: '/tmp/run/workload-0-cert.pem', keyFile: '/tmp/run/workload-0-key.pem', caFile: '/tmp/run/workload-0-ca.pem' },
    policies: [
      { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'mesh', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } },
      {
        apiVersion: 'security.istio.io/v1beta1',
        kind: 'PeerAuthentication',
        metadata: { name: 'w', namespace: 'foo', creationTimestamp: '2024-01-01T00:00:00Z', labels: { a: 'b' }, annotations: { note: 'x' }, uid: 'u-1' },
        spec: { selector: { matchLabels: { app: 'finance' } }, mtls: null, portLevelMtls: { '8080': { mode: 'DISABLE' }, '9090': null } },
      },
      { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'unset', namespace: 'foo' }, spec: { selector: {}, mtls: { mode: 'UNSET' } } },
      { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'bare', namespace: 'bar' } },
    ],
  };
}

export interface HostileCase {
  readonly name: string;
  /** The config to check: a change to validConfig(), or whole JSON text. */
  readonly input: ((c: Json) => void) | { readonly text: string };
  readonly verdict: 'accept' | 'reject';
  /** The field path the checker's message starts with (rejections). */
  readonly path?: string;
  /** A cross-field rule JSON Schema cannot express: the schema accepts, only the checker rejects. */
  readonly crossField?: boolean;
}

/** Set an own property (as JSON.parse does), even `__proto__`, without touching any prototype. */
function own(o: Json, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

const HUGE = 'a'.repeat(1 << 20);
const policy0 = (c: Json) => c.policies[0];
const policy1Spec = (c: Json) => c.policies[1].spec;

const rejects = (name: string, path: string, input: HostileCase['input']): HostileCase => ({ name, input, verdict: 'reject', path });
const accepts = (name: string, input: HostileCase['input']): HostileCase => ({ name, input, verdict: 'accept' });
const crossField = (name: string, path: string, input: HostileCase['input']): HostileCase => ({ name, input, verdict: 'reject', path, crossField: true });

const VALID_TEXT = JSON.stringify(validConfig());

export const HOSTILE_CASES: readonly HostileCase[] = [
  // The document itself.
  ...['null', '[]', '"config"', '42', 'true'].map((text) => rejects(`top level ${text}`, '(top level)', { text })),
  rejects('an unknown top-level field', 'extra', (c) => (c.extra = 1)),
  rejects('a top-level __proto__ key', '__proto__', { text: VALID_TEXT.replace('{', '{"__proto__":{"polluted":true},') }),
  rejects('another apiVersion', 'apiVersion', (c) => (c.apiVersion = 'meshconform.dev/v1')),
  ...['apiVersion', 'workload', 'app', 'mesh', 'tls', 'policies'].map((k) => rejects(`no ${k}`, k, (c) => delete c[k])),
  // workload
  rejects('no workload.address', 'workload.address', (c) => delete c.workload.address),
  rejects('no workload.labels', 'workload.labels', (c) => delete c.workload.labels),
  rejects('an uppercase name', 'workload.name', (c) => (c.workload.name = 'Finance')),
  rejects('a 64-character name', 'workload.name', (c) => (c.workload.name = 'a'.repeat(64))),
  rejects('a 1 MiB name', 'workload.name', (c) => (c.workload.name = HUGE)),
  rejects('a numeric namespace', 'workload.namespace', (c) => (c.workload.namespace = 7)),
  rejects('a service account with "/"', 'workload.serviceAccount', (c) => (c.workload.serviceAccount = 'a/b')),
  rejects('a constructor field in workload', 'workload.constructor', (c) => own(c.workload, 'constructor', 'x')),
  ...['localhost', '::1', '127.0.0.01', '256.1.1.1', '127.0.0.1 ', ''].map((a) =>
    rejects(`workload.address ${JSON.stringify(a)}`, 'workload.address', (c) => (c.workload.address = a)),
  ),
  rejects('a numeric address', 'workload.address', (c) => (c.workload.address = 2130706433)),
  rejects('no declared port', 'workload.ports', (c) => (c.workload.ports = [])),
  ...[0, -1, 65536, 80.5, '8080', null].map((p) => rejects(`port ${JSON.stringify(p)}`, 'workload.ports[0].port', (c) => (c.workload.ports[0].port = p))),
  rejects('protocol udp', 'workload.ports[1].protocol', (c) => (c.workload.ports[1].protocol = 'udp')),
  rejects('no protocol', 'workload.ports[1].protocol', (c) => delete c.workload.ports[1].protocol),
  rejects('an extra port field', 'workload.ports[0].mode', (c) => (c.workload.ports[0].mode = 'STRICT')),
  rejects('a port that is not an object', 'workload.ports[1]', (c) => (c.workload.ports[1] = 9090)),
  crossField('a port declared twice', 'workload.ports[2].port', (c) => c.workload.ports.push({ port: 8080, protocol: 'http' })),
  crossField('a port declared twice with two protocols', 'workload.ports[2].port', (c) => c.workload.ports.push({ port: 9090, protocol: 'http' })),
  // labels
  rejects('a __proto__ label', 'workload.labels.__proto__', { text: VALID_TEXT.replace('"labels":{', '"labels":{"__proto__":"x",') }),
  rejects('a label key starting with "-"', 'workload.labels["-bad"]', (c) => (c.workload.labels['-bad'] = 'x')),
  rejects('a label value with a space', 'workload.labels.app', (c) => (c.workload.labels.app = 'a b')),
  rejects('a 64-character label value', 'workload.labels.app', (c) => (c.workload.labels.app = 'a'.repeat(64))),
  rejects('a numeric label value', 'workload.labels.app', (c) => (c.workload.labels.app = 1)),
  accepts('a label named constructor', (c) => own(c.workload.labels, 'constructor', 'x')),
  // app
  rejects('app.address a host name', 'app.address', (c) => (c.app.address = 'localhost')),
  rejects('app.address IPv6', 'app.address', (c) => (c.app.address = '::1')),
  rejects('no app ports', 'app.ports', (c) => (c.app.ports = {})),
  rejects('an app port key with a leading zero', 'app.ports["08080"]', (c) => (c.app.ports['08080'] = 40003)),
  rejects('an app port key __proto__', 'app.ports.__proto__', { text: VALID_TEXT.replace('"ports":{', '"ports":{"__proto__":1,') }),
  rejects('app port 0', 'app.ports["8080"]', (c) => (c.app.ports['8080'] = 0)),
  rejects('an app port as a string', 'app.ports["9090"]', (c) => (c.app.ports['9090'] = '40002')),
  crossField('a declared port without an app port', 'app.ports["9090"]', (c) => delete c.app.ports['9090']),
  crossField('an app port for an undeclared port', 'app.ports["7070"]', (c) => (c.app.ports['7070'] = 40003)),
  // mesh
  rejects('mesh.mode both', 'mesh.mode', (c) => (c.mesh.mode = 'both')),
  rejects('an uppercase root namespace', 'mesh.rootNamespace', (c) => (c.mesh.rootNamespace = 'Istio')),
  rejects('an uppercase trust domain', 'mesh.trustDomain', (c) => (c.mesh.trustDomain = 'Cluster.Local')),
  rejects('a 256-character trust domain', 'mesh.trustDomain', (c) => (c.mesh.trustDomain = 'a'.repeat(256))),
  accepts('a 255-character trust domain', (c) => (c.mesh.trustDomain = 'a'.repeat(255))),
  // tls
  rejects('a relative certificate path', 'tls.certFile', (c) => (c.tls.certFile = 'cert.pem')),
  rejects('an empty key path', 'tls.keyFile', (c) => (c.tls.keyFile = '')),
  rejects('a path with NUL', 'tls.caFile', (c) => (c.tls.caFile = '/tmp/ca\u0000.pem')),
  rejects('a 4097-character path', 'tls.caFile', (c) => (c.tls.caFile = `/${'a'.repeat(4096)}`)),
  accepts('a 4096-character path', (c) => (c.tls.caFile = `/${'a'.repeat(4095)}`)),
  accepts('a 4096-code-point path of astral characters', (c) => (c.tls.caFile = `/${'😀'.repeat(4095)}`)),
  rejects('a 4097-code-point path of astral characters', 'tls.caFile', (c) => (c.tls.caFile = `/${'😀'.repeat(4096)}`)),
  rejects('an extra tls field', 'tls.certPem', (c) => (c.tls.certPem = '-----BEGIN')),
  // policies
  rejects('policies as an object', 'policies', (c) => (c.policies = {})),
  rejects('a null policy', 'policies[0]', (c) => (c.policies[0] = null)),
  rejects('another kind', 'policies[0].kind', (c) => (policy0(c).kind = 'AuthorizationPolicy')),
  rejects('another apiVersion', 'policies[0].apiVersion', (c) => (policy0(c).apiVersion = 'v1')),
  rejects('a policy without a name', 'policies[0].metadata.name', (c) => delete policy0(c).metadata.name),
  rejects('a policy without a namespace', 'policies[0].metadata.namespace', (c) => delete policy0(c).metadata.namespace),
  rejects('a policy name with "_"', 'policies[0].metadata.name', (c) => (policy0(c).metadata.name = 'bad_name')),
  rejects('a status', 'policies[0].status', (c) => (policy0(c).status = {})),
  rejects('an unknown mode', 'policies[0].spec.mtls.mode', (c) => (policy0(c).spec.mtls.mode = 'STRIKT')),
  rejects('a numeric mode', 'policies[0].spec.mtls.mode', (c) => (policy0(c).spec.mtls.mode = 1)),
  rejects('mtls as a string', 'policies[0].spec.mtls', (c) => (policy0(c).spec.mtls = 'STRICT')),
  rejects('an extra mtls field', 'policies[0].spec.mtls.level', (c) => (policy0(c).spec.mtls.level = 1)),
  rejects('an action in spec', 'policies[0].spec.action', (c) => (policy0(c).spec.action = 'ALLOW')),
  rejects('a __proto__ key in spec', 'policies[0].spec.__proto__', { text: VALID_TEXT.replace('"spec":{', '"spec":{"__proto__":{"mtls":1},') }),
  ...['0', '65536', 'abc', '000080', '-1', ''].map((k) =>
    rejects(`portLevelMtls key ${JSON.stringify(k)}`, `policies[1].spec.portLevelMtls${/^[a-z]/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`}`, (c) =>
      own(policy1Spec(c).portLevelMtls, k, { mode: 'STRICT' }),
    ),
  ),
  accepts('portLevelMtls key with a leading zero', (c) => (policy1Spec(c).portLevelMtls['08081'] = { mode: 'STRICT' })),
  rejects('an unknown port-level mode', 'policies[1].spec.portLevelMtls["8080"].mode', (c) => (policy1Spec(c).portLevelMtls['8080'].mode = 'strict')),
  rejects('a wildcard selector key', 'policies[1].spec.selector.matchLabels["*"]', (c) => (policy1Spec(c).selector.matchLabels['*'] = 'a')),
  rejects('a wildcard selector value', 'policies[1].spec.selector.matchLabels.app', (c) => (policy1Spec(c).selector.matchLabels.app = 'fin*')),
  rejects('a numeric selector value', 'policies[1].spec.selector.matchLabels.app', (c) => (policy1Spec(c).selector.matchLabels.app = 5)),
  rejects('a selector field besides matchLabels', 'policies[1].spec.selector.matchExpressions', (c) => (policy1Spec(c).selector.matchExpressions = [])),
  rejects('a creationTimestamp that is no time', 'policies[1].metadata.creationTimestamp', (c) => (c.policies[1].metadata.creationTimestamp = 'yesterday')),
  rejects('a numeric metadata label', 'policies[1].metadata.labels.a', (c) => (c.policies[1].metadata.labels.a = 1)),
  accepts('a null spec, selector and matchLabels', (c) => {
    policy0(c).spec = null;
    policy1Spec(c).selector = { matchLabels: null };
  }),
  accepts('fractional seconds and an offset', (c) => (c.policies[1].metadata.creationTimestamp = '2024-01-01T00:00:00.123456789+02:00')),
  accepts('no policies', (c) => (c.policies = [])),
  accepts('a __proto__ key in open metadata', { text: VALID_TEXT.replace('"metadata":{', '"metadata":{"__proto__":{"polluted":true},') }),
  accepts('edge ports', (c) => {
    c.workload.ports = [
      { port: 1, protocol: 'tcp' },
      { port: 65535, protocol: 'tcp' },
    ];
    c.app.ports = { '1': 65535, '65535': 1 };
  }),
];
