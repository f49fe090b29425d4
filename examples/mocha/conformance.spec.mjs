// Run with: npx mocha examples/mocha/conformance.spec.mjs --no-config --timeout 120000
// (any mocha reporter works: add --reporter xunit, --reporter json, …)
import { meshconformSuites } from 'meshconform/mocha';

await meshconformSuites(['scenarios/core'], { title: 'mesh mTLS conformance (core)' });
