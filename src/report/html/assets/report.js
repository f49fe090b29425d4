// meshconform HTML report: renders the RunResult embedded in #meshconform-data.
// Every string from the data reaches the page through text nodes or setAttribute, never through HTML parsing:
// scenario, workload and policy names are input and may contain markup.
(function () {
  'use strict';

  var VERDICTS = ['pass', 'fail', 'flaky', 'error', 'skipped'];
  var VERDICT_LABEL = { pass: 'passed', fail: 'failed', flaky: 'flaky', error: 'errors', skipped: 'skipped' };
  var PROBLEM = { fail: true, error: true, flaky: true };
  var SHORT = {
    'plaintext-tcp': 'pt-tcp', 'plaintext-http': 'pt-http', 'mtls-tcp': 'mtls-tcp', 'mtls-http': 'mtls-http',
    'tls-no-client-cert': 'no-cert', 'mtls-foreign-ca': 'foreign', 'mtls-expired': 'expired',
    'mtls-other-trust-domain': 'other-td', 'tls-no-istio-alpn': 'no-alpn',
  };
  var OUT = { allow: 'allow', deny: 'deny', passthrough: 'pthru' };

  var data = JSON.parse(document.getElementById('meshconform-data').textContent);
  var run = data.run;
  var comparison = data.comparison;
  var app = document.getElementById('app');

  /** Builds an element; strings in `kids` become text nodes, attribute values go through setAttribute. */
  function h(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'onclick') e.addEventListener('click', v);
        else if (k === 'onchange') e.addEventListener('change', v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  function append(e, kid) {
    if (kid === undefined || kid === null || kid === false) return;
    if (Array.isArray(kid)) kid.forEach(function (k) { append(e, k); });
    else e.append(kid instanceof Node ? kid : String(kid));
  }
  function kv(rows) {
    var dl = h('dl', { class: 'kv' });
    rows.forEach(function (r) {
      if (!r || r[1] === undefined || r[1] === null || r[1] === '') return;
      dl.append(h('dt', null, r[0]), h('dd', r[2] ? { 'data-field': r[2] } : null, r[1]));
    });
    return dl;
  }
  function ms(n) { return n === undefined || n === null ? undefined : (n < 10 ? n.toFixed(2) : n.toFixed(1)) + ' ms'; }
  function secs(n) { return (n / 1000).toFixed(2) + ' s'; }
  function summaryText(s) {
    return s.cells + ' cells: ' + s.passed + ' passed, ' + s.failed + ' failed, ' + s.flaky + ' flaky, ' + s.errors + ' errors, ' + s.skipped + ' skipped';
  }
  function verdictBadge(v) { return h('span', { class: 'badge v-' + v }, v); }
  function where(c) { return c.workload + ':' + c.port + ' ' + c.client; }
  function decidedByText(list) {
    if (!list.length) return 'no policy applies (PERMISSIVE by default)';
    return list.map(function (p) { return p.namespace + '/' + p.name + ' (' + p.level + ')'; }).join(' → ');
  }

  // ---- indexes ---------------------------------------------------------------------------------------------
  var cellIndex = new Map(); // key → { cell, scenario index }
  var clientsUsed = new Set();
  var workloads = new Set();
  var features = [];
  run.scenarios.forEach(function (s, i) {
    if (features.indexOf(s.feature) < 0) features.push(s.feature);
    s.cells.forEach(function (c) {
      cellIndex.set(c.key, { cell: c, si: i });
      clientsUsed.add(c.client);
      workloads.add(c.workload);
    });
  });
  var clients = data.clients.filter(function (k) { return clientsUsed.has(k); });
  var changes = new Map(); // key → { kind, before }
  if (comparison) {
    comparison.regressions.forEach(function (x) { changes.set(x.key, { kind: 'regression', before: x.before }); });
    comparison.fixes.forEach(function (x) { changes.set(x.key, { kind: 'fix', before: x.before }); });
    comparison.otherChanges.forEach(function (x) { changes.set(x.key, { kind: 'other', before: x.before }); });
    comparison.added.forEach(function (x) { changes.set(x.key, { kind: 'added' }); });
  }

  // ---- header and overview ---------------------------------------------------------------------------------
  document.title = 'meshconform ' + run.runId + ' · ' + run.summary.failed + ' failed';
  var o = run.options;
  app.append(
    h('h1', null, 'meshconform report'),
    h('p', { class: 'meta', 'data-testid': 'run-meta' },
      'run ' + run.runId + ' · data plane ' + run.environment.dataPlane + ' · backend ' + run.environment.backend +
      ' · claim ' + (run.claim || 'istio') +
      ' · meshconform ' + run.harness.version + ' · ' + run.startedAt + ' · ' + secs(run.durationMs)),
    h('p', { class: 'meta' },
      'paths ' + o.paths.join(' ') + (o.grep !== undefined ? ' · grep ' + o.grep : '') + ' · retries ' + o.retries +
      ' · concurrency ' + o.concurrency + ' · timeout ' + o.timeoutMs + ' ms · node ' + run.environment.node + ' ' + run.environment.platform)
  );
  if (run.interrupted) {
    document.title += ' · INTERRUPTED';
    app.append(h('p', { class: 'banner interrupted', 'data-testid': 'interrupted', role: 'alert' },
      'Interrupted by ' + run.interrupted.signal + ' at ' + run.interrupted.at + ': cells of scenarios still running are errors, ' +
      'scenarios not started are missing. This run proves nothing as a whole.'));
  }

  var overview = h('section', { class: 'panel', 'data-testid': 'overview' }, h('h2', null, 'Overview'));
  var cards = h('div', { class: 'cards' }, h('div', { class: 'card', 'data-testid': 'count-cells' }, h('span', { class: 'n' }, run.summary.cells), h('span', { class: 'l' }, 'cells')));
  VERDICTS.forEach(function (v) {
    var n = run.summary[v === 'pass' ? 'passed' : v === 'fail' ? 'failed' : v === 'error' ? 'errors' : v];
    cards.append(h('div', { class: 'card v-' + v, 'data-testid': 'count-' + v }, h('span', { class: 'n' }, n), h('span', { class: 'l' }, VERDICT_LABEL[v])));
  });
  // --claim spec: passes whose outcome PeerAuthentication allows but Istio's Envoy/ztunnel does not give, counted apart.
  if (run.summary.differsFromIstio) cards.append(h('div', { class: 'card', 'data-testid': 'count-differs', title: 'conformant under --claim spec, but not the outcome Istio gives' }, h('span', { class: 'n' }, run.summary.differsFromIstio), h('span', { class: 'l' }, 'differ from Istio')));
  if (run.lintErrors > 0) cards.append(h('div', { class: 'card v-flaky', 'data-testid': 'count-lint' }, h('span', { class: 'n' }, run.lintErrors), h('span', { class: 'l' }, 'scenario lint errors')));
  overview.append(cards);

  function groupTable(title, rows, testid, withDescription) {
    var t = h('table', { class: 'grid', 'data-testid': testid },
      h('thead', null, h('tr', null, h('th', null, title), h('th', null, 'result'), h('th', null, 'tests'), h('th', null, 'passed'), h('th', null, 'failed'),
        h('th', null, 'errors'), h('th', null, 'skipped'), h('th', null, 'cells'), withDescription ? h('th', null, 'covers') : null)));
    var body = h('tbody');
    rows.forEach(function (g) {
      var st = g.statistics;
      var none = st.tests === 0;
      body.append(h('tr', { 'data-group': g.name },
        h('td', null, g.name),
        h('td', { class: none ? 'r-none' : 'r-' + g.result }, none ? 'not run' : g.result),
        h('td', { class: 'num' }, st.tests), h('td', { class: 'num' }, st.passed), h('td', { class: 'num' }, st.failed),
        h('td', { class: 'num' }, st.errors), h('td', { class: 'num' }, st.skipped), h('td', null, none ? '—' : summaryText(g.cells)),
        withDescription ? h('td', null, g.description) : null));
    });
    t.append(body);
    return t;
  }
  overview.append(h('h3', null, 'Profiles'), groupTable('profile', data.profiles, 'profiles', true));
  overview.append(h('h3', null, 'Features'), groupTable('feature', data.features, 'features', false));
  app.append(overview);

  // ---- comparison with a baseline -----------------------------------------------------------------------------
  if (comparison) {
    var cmp = h('section', { class: 'panel', 'data-testid': 'comparison' }, h('h2', null, 'Compared with the baseline'));
    cmp.append(h('p', { class: 'meta' }, 'baseline ' + comparison.file + ': run ' + comparison.before.runId + ' of ' + comparison.before.startedAt +
      ' (' + comparison.before.dataPlane + ', meshconform ' + comparison.before.harnessVersion + ') · ' + summaryText(comparison.before.summary)));
    var counts = h('div', { class: 'cards' });
    [['regressions', 'v-fail'], ['fixes', 'v-pass'], ['otherChanges', 'v-flaky'], ['added', ''], ['removed', ''], ['timeToEnforce', '']].forEach(function (p) {
      counts.append(h('div', { class: 'card ' + p[1], 'data-testid': 'comparison-count-' + p[0] },
        h('span', { class: 'n' }, comparison[p[0]].length),
        h('span', { class: 'l' }, { regressions: 'regressions', fixes: 'fixes', otherChanges: 'other changes', added: 'new cells', removed: 'removed cells', timeToEnforce: 'time-to-enforce changes' }[p[0]])));
    });
    counts.append(h('div', { class: 'card' }, h('span', { class: 'n' }, comparison.unchanged), h('span', { class: 'l' }, 'unchanged')));
    cmp.append(counts);
    var lists = [
      ['Regressions: passed before, fail now', comparison.regressions, function (x) { return x.before + ' → ' + x.after + ': ' + x.reason; }],
      ['Fixes: failed before, pass now', comparison.fixes, function (x) { return x.before + ' → ' + x.after; }],
      ['Other verdict changes', comparison.otherChanges, function (x) { return x.before + ' → ' + x.after; }],
      ['New cells', comparison.added, function (x) { return x.verdict; }],
      ['Removed cells', comparison.removed, function (x) { return 'was ' + x.verdict; }],
    ];
    lists.forEach(function (l) {
      if (!l[1].length) return;
      var ul = h('ul', { class: 'changes' });
      l[1].slice(0, 500).forEach(function (x) {
        var label = x.scenario + ' [' + x.meshMode + '] ' + where(x);
        var link = cellIndex.has(x.key) ? h('a', { class: 'cell-link', 'data-open-cell': x.key }, label) : h('span', null, label);
        ul.append(h('li', null, link, ': ' + l[2](x)));
      });
      if (l[1].length > 500) ul.append(h('li', { class: 'empty' }, '… and ' + (l[1].length - 500) + ' more'));
      cmp.append(h('h3', null, l[0] + ' (' + l[1].length + ')'), ul);
    });
    if (comparison.timeToEnforce.length) {
      var tte = h('ul', { class: 'changes' });
      comparison.timeToEnforce.forEach(function (x) {
        tte.append(h('li', null, x.scenario + ' [' + x.meshMode + ']: ' + secs(x.beforeMs) + ' → ' + secs(x.afterMs) + ' (' + (x.deltaMs > 0 ? '+' : '') + secs(x.deltaMs) + ')'));
      });
      cmp.append(h('h3', null, 'Time to enforce changed (' + comparison.timeToEnforce.length + ')'), tte);
    }
    app.append(cmp);
  }

  // ---- filters ---------------------------------------------------------------------------------------------
  function select(testid, allLabel, values, label) {
    var s = h('select', { 'data-testid': testid, onchange: applyFilters }, h('option', { value: '' }, allLabel));
    values.forEach(function (v) { s.append(h('option', { value: v }, label ? label(v) : v)); });
    return s;
  }
  var fProblems = h('input', { type: 'checkbox', 'data-testid': 'filter-failures', onchange: applyFilters });
  var fFeature = select('filter-feature', 'all features', features);
  var fWorkload = select('filter-workload', 'all workloads', Array.from(workloads).sort());
  var fClient = select('filter-client', 'all clients', clients);
  var status = h('span', { class: 'status', 'data-testid': 'filter-status' });
  var filters = h('nav', { class: 'filters', 'data-testid': 'filters' },
    h('label', null, fProblems, 'only failing, flaky or error cells'),
    h('label', null, 'feature', fFeature), h('label', null, 'workload', fWorkload), h('label', null, 'client', fClient),
    h('span', { class: 'legend' }, '✓ passed (names the expected outcome) · ^ passed with an outcome PeerAuthentication allows but Istio does not give · ✗ observed≠expected · * right outcome, wrong evidence · ~ flaky · E probe error · – skipped'),
    status);
  document.body.insertBefore(filters, document.body.firstChild);

  // ---- scenarios ---------------------------------------------------------------------------------------------
  var views = [];
  var buttons = new Map(); // cell key → its matrix button
  var container = h('div', { 'data-testid': 'scenarios' });
  var noMatch = h('p', { class: 'empty', 'data-testid': 'no-match', hidden: true }, 'No scenario matches the filters.');
  app.append(container, noMatch);

  function cellText(c) {
    var exp = OUT[c.expected.outcome];
    switch (c.verdict) {
      case 'pass': return c.differsFromIstio && c.observedOutcome ? '✓ ' + OUT[c.observedOutcome] + '^' : '✓ ' + exp;
      case 'fail':
        if (c.observedOutcome === undefined) return '✗ ?≠' + exp;
        return c.observedOutcome === c.expected.outcome ? '✗ ' + exp + '*' : '✗ ' + OUT[c.observedOutcome] + '≠' + exp;
      case 'flaky': return '~ ' + exp;
      case 'error': return 'E';
      default: return '–';
    }
  }

  function renderScenario(s, si) {
    var section = h('section', { class: 'panel scenario', 'data-testid': 'scenario', 'data-scenario': s.name, 'data-feature': s.feature, id: 'scenario-' + si });
    var state = s.error !== undefined ? 'error' : s.summary.failed > 0 ? 'fail' : s.summary.errors > 0 ? 'error' : s.skipped !== undefined ? 'skipped' : s.summary.flaky > 0 ? 'flaky' : 'pass';
    section.append(
      h('h2', null, verdictBadge(state), h('span', { 'data-testid': 'scenario-name' }, s.name), h('span', { class: 'mode' }, ' [' + s.meshMode + ']')),
      h('p', { class: 'meta' }, 'feature ' + s.feature + ' · ' + s.file + ' · ' + secs(s.durationMs) + ' · ' + summaryText(s.summary)));
    if (s.description) section.append(h('p', { 'data-testid': 'scenario-description' }, s.description));
    if (s.error !== undefined) section.append(h('div', { class: 'box error' }, 'Harness error: ' + s.error));
    if (s.skipped !== undefined) section.append(h('div', { class: 'box skip' }, 'Skipped: ' + s.skipped));
    s.lint.forEach(function (l) { section.append(h('div', { class: 'box lint' }, 'Scenario lint (the expectation is wrong, not the mesh): ' + l.file + ':' + l.line + ':' + l.column + ' ' + l.message)); });
    s.warnings.forEach(function (w) { section.append(h('div', { class: 'box warn' }, 'Warning: ' + w.source.file + ':' + w.source.line + ':' + w.source.column + ' ' + w.message)); });
    if (s.timeline) section.append(renderTimeline(s));

    var rows = [];
    if (s.cells.length) {
      var byRow = new Map();
      s.cells.forEach(function (c) {
        var k = c.workload + '\u0000' + c.port;
        var r = byRow.get(k);
        if (!r) { r = { workload: c.workload, port: c.port, protocol: c.protocol, mode: c.expected.mode, cells: {} }; byRow.set(k, r); rows.push(r); }
        r.cells[c.client] = c;
      });
      rows.sort(function (a, b) { return a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : a.port - b.port; });
      var head = h('tr', null, h('th', null, 'workload:port'), h('th', null, 'proto'), h('th', null, 'mode'));
      clients.forEach(function (k) { head.append(h('th', { 'data-client': k, title: k }, SHORT[k] || k)); });
      var body = h('tbody');
      rows.forEach(function (r) {
        var tr = h('tr', { 'data-workload': r.workload, 'data-port': r.port },
          h('th', { class: 'row', title: r.workload + ':' + r.port }, r.workload + ':' + r.port), h('td', { class: 'dim' }, r.protocol), h('td', { class: 'dim' }, r.mode));
        clients.forEach(function (k) {
          var c = r.cells[k];
          if (!c) { tr.append(h('td', { class: 'none', 'data-client': k }, '·')); return; }
          var ch = changes.get(c.key);
          var mismatch = c.observedOutcome !== undefined && c.observedOutcome !== c.expected.outcome && !c.differsFromIstio;
          var title = c.verdict + ': ' + c.reason;
          if (mismatch) title = 'expected ' + c.expected.outcome + ', observed ' + c.observedOutcome + ' — ' + title;
          var btn = h('button', {
            type: 'button',
            class: 'cell v-' + c.verdict + (mismatch ? ' mismatch' : '') + (ch ? ' ch-' + ch.kind : ''),
            'data-testid': 'cell', 'data-cell-key': c.key, 'data-verdict': c.verdict,
            'data-expected': c.expected.outcome, 'data-observed': c.observedOutcome, 'data-change': ch ? ch.kind : null,
            title: title,
          }, cellText(c));
          buttons.set(c.key, btn);
          if (ch) btn.append(h('span', { class: 'chg' }, ch.kind === 'added' ? 'new' : ch.kind === 'regression' ? '▼ was ' + ch.before : ch.kind === 'fix' ? '▲ was ' + ch.before : 'was ' + ch.before));
          tr.append(h('td', { 'data-client': k }, btn));
        });
        r.tr = tr;
        body.append(tr);
      });
      section.append(h('div', { class: 'matrix-wrap' }, h('table', { class: 'matrix', 'data-testid': 'matrix' }, h('thead', null, head), body)));
    }

    var yamlText = data.policyYaml[si];
    var policies = h('details', { 'data-testid': 'policies' },
      h('summary', null, 'Policies (' + s.policies.length + ') as YAML'),
      yamlText ? h('pre', { 'data-testid': 'policies-yaml' }, yamlText) : h('p', { class: 'empty' }, 'no PeerAuthentication: every port is PERMISSIVE by default'));
    section.append(policies);
    views.push({ s: s, section: section, rows: rows, problem: s.error !== undefined || s.lint.length > 0 });
    return section;
  }

  // ---- chaos timeline (uPlot) ----------------------------------------------------------------------------
  var CATEGORIES = [
    { id: 'ok', label: 'as expected', color: '#2e7d32', size: 6 },
    { id: 'open', label: 'FAIL-OPEN: allowed, expected deny', color: '#d50000', size: 11 },
    { id: 'closed', label: 'denied, expected allow', color: '#ef6c00', size: 8 },
    { id: 'other', label: 'other mismatch', color: '#f9a825', size: 8 },
    { id: 'error', label: 'probe error', color: '#8e24aa', size: 8 },
  ];
  function category(p) {
    // Chaos runs judge each probe against what was allowed at that moment (a transition, a fault window).
    if (p.judged === 'fail-open') return 'open';
    if (p.judged === 'match' || p.judged === 'transition') return 'ok';
    if (p.judged === 'error') return 'error';
    if (p.judged === 'tolerated') return p.expected === 'deny' ? 'ok' : 'closed';
    if (p.judged === 'unavailable') return 'closed';
    if (p.judged === 'mismatch') return 'other';
    if (p.observed === 'error') return 'error';
    if (p.observed === p.expected) return 'ok';
    if (p.expected === 'deny') return 'open';
    if (p.observed === 'deny') return 'closed';
    return 'other';
  }

  function renderTimeline(s) {
    var tl = s.timeline;
    var wrap = h('div', { class: 'timeline', 'data-testid': 'timeline' }, h('h3', null, 'Timeline'));
    var lanes = [];
    var laneOf = new Map();
    tl.probes.forEach(function (p) {
      if (!laneOf.has(p.key)) { laneOf.set(p.key, lanes.length); lanes.push(p.workload + ':' + p.port + ' ' + (SHORT[p.client] || p.client)); }
    });
    var failOpen = tl.probes.filter(function (p) { return category(p) === 'open'; });
    var lastChange = tl.events.length ? tl.events[tl.events.length - 1] : undefined;
    var summary = h('ul', { 'data-testid': 'timeline-summary' });
    tl.faults.forEach(function (f) { summary.append(h('li', null, 'fault ' + f.name + ': ' + secs(f.startMs) + ' – ' + (f.endMs === undefined ? 'end' : secs(f.endMs)))); });
    tl.events.forEach(function (e) { summary.append(h('li', null, secs(e.atMs) + ': ' + e.label)); });
    summary.append(h('li', { 'data-field': 'fail-open' }, failOpen.length ? failOpen.length + ' fail-open probe(s), first at ' + secs(failOpen[0].atMs) : 'no fail-open probe'));
    summary.append(h('li', { 'data-field': 'time-to-enforce' }, tl.timeToEnforceMs === undefined ? 'time to enforce: not measured' : 'time to enforce: ' + secs(tl.timeToEnforceMs)));
    var chart = h('div', { class: 'chart', 'data-testid': 'timeline-chart' });
    wrap.append(chart, summary);

    if (typeof uPlot !== 'function') { chart.append(h('p', { class: 'empty' }, 'chart library missing')); return wrap; }
    // uPlot wants strictly increasing x: probes fired in the same millisecond are spread by a microsecond each.
    var probes = tl.probes.slice().sort(function (a, b) { return a.atMs - b.atMs; });
    var xs = [];
    var series = CATEGORIES.map(function () { return []; });
    var last = -Infinity;
    probes.forEach(function (p) {
      var x = Math.max(p.atMs, last + 0.001);
      last = x;
      xs.push(x / 1000);
      var cat = category(p);
      CATEGORIES.forEach(function (c, i) { series[i].push(c.id === cat ? laneOf.get(p.key) : null); });
    });
    var dpr = uPlot.pxRatio || 1;
    function drawBands(u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.font = (11 * dpr) + 'px sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      tl.faults.forEach(function (f) {
        var x0 = u.valToPos(f.startMs / 1000, 'x', true);
        var x1 = u.valToPos((f.endMs === undefined ? tl.durationMs : f.endMs) / 1000, 'x', true);
        ctx.fillStyle = 'rgba(255, 152, 0, 0.20)';
        ctx.fillRect(x0, u.bbox.top, Math.max(dpr, x1 - x0), u.bbox.height);
        ctx.fillStyle = '#8a4b00';
        ctx.fillText('fault: ' + f.name, x0 + 4 * dpr, u.bbox.top + 12 * dpr);
      });
      ctx.restore();
    }
    function drawMarks(u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.font = (11 * dpr) + 'px sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      tl.events.forEach(function (e) {
        var x = u.valToPos(e.atMs / 1000, 'x', true);
        ctx.strokeStyle = '#1a56c4';
        ctx.setLineDash([4 * dpr, 3 * dpr]);
        ctx.lineWidth = dpr;
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.fillStyle = '#1a56c4';
        ctx.fillText(e.label, x + 4 * dpr, u.bbox.top + 26 * dpr);
      });
      if (lastChange && tl.timeToEnforceMs !== undefined) {
        var a = u.valToPos(lastChange.atMs / 1000, 'x', true);
        var b = u.valToPos((lastChange.atMs + tl.timeToEnforceMs) / 1000, 'x', true);
        var y = u.valToPos(-0.95, 'y', true);
        ctx.setLineDash([]);
        ctx.strokeStyle = '#1f2328'; ctx.lineWidth = 2 * dpr;
        ctx.beginPath(); ctx.moveTo(a, y); ctx.lineTo(b, y); ctx.moveTo(b, y - 5 * dpr); ctx.lineTo(b, y + 5 * dpr); ctx.stroke();
        ctx.fillStyle = '#1f2328';
        ctx.fillText('time to enforce ' + secs(tl.timeToEnforceMs), b + 4 * dpr, y + 4 * dpr);
      }
      ctx.restore();
    }
    var laneIdx = lanes.map(function (_, i) { return i; });
    var opts = {
      width: Math.max(600, Math.min(1400, (app.clientWidth || 1000) - 90)),
      height: Math.max(220, 140 + lanes.length * 24),
      scales: { x: { time: false, range: [0, Math.max(tl.durationMs, 1) / 1000] }, y: { range: [-1.4, Math.max(lanes.length, 1) + 0.4] } },
      axes: [
        { label: 'seconds since the scenario started' },
        { splits: function () { return laneIdx; }, values: function (u, splits) { return splits.map(function (v) { return lanes[v] === undefined ? '' : lanes[v].slice(0, 34); }); }, size: 210, gap: 4 },
      ],
      cursor: { drag: { x: true, y: false } },
      series: [{ label: 't', value: function (u, v) { return v === null || v === undefined ? '—' : v.toFixed(3) + ' s'; } }].concat(CATEGORIES.map(function (c) {
        return {
          label: c.label, stroke: c.color, width: 0, paths: function () { return null; },
          points: { show: true, size: c.size, stroke: c.color, fill: c.color },
          value: function (u, v) { return v === null || v === undefined ? '—' : lanes[v]; },
        };
      })),
      hooks: { drawClear: [drawBands], draw: [drawMarks] },
    };
    try {
      new uPlot(opts, [xs].concat(series), chart);
    } catch (err) {
      chart.append(h('p', { class: 'box error' }, 'the timeline could not be drawn: ' + (err && err.message)));
    }
    return wrap;
  }

  // ---- evidence panel ------------------------------------------------------------------------------------
  var panel = h('aside', { class: 'evidence', 'data-testid': 'evidence', hidden: true, 'aria-live': 'polite' });
  document.body.append(panel);
  var selected = null;

  function policyYaml(si, p) {
    var list = data.policyDocs[si] || [];
    for (var i = 0; i < list.length; i++) if (list[i].namespace === p.namespace && list[i].name === p.name) return list[i].yaml;
    return undefined;
  }

  function openEvidence(key) {
    var hit = cellIndex.get(key);
    if (!hit) return;
    var c = hit.cell;
    var s = run.scenarios[hit.si];
    if (selected) selected.classList.remove('selected');
    selected = buttons.get(key) || null;
    if (selected) selected.classList.add('selected');
    panel.replaceChildren();
    panel.setAttribute('data-cell-key', key);
    panel.append(
      h('button', { class: 'close', type: 'button', 'data-testid': 'evidence-close', title: 'close (Esc)', onclick: closeEvidence }, '×'),
      h('h2', { 'data-field': 'title' }, where(c)),
      h('p', { class: 'meta' }, s.name + ' [' + s.meshMode + '] · feature ' + s.feature + ' · protocol ' + c.protocol),
      h('p', null, verdictBadge(c.verdict), h('span', { 'data-field': 'reason' }, c.reason)));
    var ch = changes.get(key);
    if (ch) panel.append(h('p', { 'data-field': 'baseline' }, ch.kind === 'added' ? 'new since the baseline' : 'baseline verdict: ' + ch.before + ' (' + ch.kind + ')'));

    panel.append(h('h3', null, 'Expected'), kv([
      ['outcome', c.expected.outcome, 'expected-outcome'],
      ['effective mode', c.expected.mode, 'expected-mode'],
      ['rule', c.expected.rule, 'rule'],
    ].concat(c.expected.required ? [
      ['PeerAuthentication requires', c.expected.required.join(' or '), 'required-outcomes'],
      ['why', c.expected.requiredRule, 'required-rule'],
    ] : [])));
    if (c.differsFromIstio) panel.append(h('p', { class: 'note', 'data-field': 'differs-from-istio' }, 'Conformant, but not what Istio answers: observed ' + c.observedOutcome + ', Istio gives ' + c.expected.outcome + ' here.'));
    panel.append(h('h3', null, 'Why it was expected'));
    if (!c.decidedBy.length) {
      panel.append(h('p', { 'data-field': 'decided-by' }, 'No policy applies to this port: PERMISSIVE by default.'));
    } else {
      var chain = h('ol', { class: 'chain', 'data-field': 'decided-by' });
      c.decidedBy.forEach(function (p) { chain.append(h('li', null, p.level + ' level: ' + p.namespace + '/' + p.name)); });
      panel.append(h('p', { class: 'meta' }, 'Policies that decided the effective mode, outermost first (the last one wins):'), chain);
      c.decidedBy.forEach(function (p) {
        var y = policyYaml(hit.si, p);
        if (y) panel.append(h('details', null, h('summary', null, p.namespace + '/' + p.name + ' as YAML'), h('pre', null, y)));
      });
    }

    panel.append(h('h3', null, 'Observed'));
    var ob = c.observed;
    if (!ob) {
      panel.append(h('p', { 'data-field': 'observed-outcome', class: 'empty' }, 'nothing observed (' + c.verdict + ')'));
    } else {
      var rows = [['outcome', c.observedOutcome === undefined ? '(none: ' + ob.status + ')' : c.observedOutcome, 'observed-outcome'], ['status', ob.status, 'status']];
      if (ob.status === 'allowed') {
        rows.push(['path', ob.path, 'path']);
        rows.push(['answered by', ob.echo.workload + ':' + ob.echo.port + ' (app received ' + ob.echo.received + ', ' + ob.echo.protocol + ')', 'echo']);
        if (ob.echo.xfcc !== undefined) rows.push(['x-forwarded-client-cert', ob.echo.xfcc, 'xfcc']);
        if (ob.httpStatus !== undefined) rows.push(['HTTP status', ob.httpStatus, 'http-status']);
      } else if (ob.status === 'denied') {
        rows.push(['denied how', ob.how, 'denial']);
        if (ob.alert) rows.push(['TLS alert', ob.alert.name + (ob.alert.code !== undefined ? ' (' + ob.alert.code + ')' : ''), 'alert']);
        if (ob.httpStatus !== undefined) rows.push(['HTTP status', ob.httpStatus, 'http-status']);
        rows.push(['detail', ob.detail, 'detail']);
      } else {
        rows.push(['error', ob.message, 'error']);
      }
      rows.push(['TLS version', ob.tls ? (ob.tls.version || 'none') : 'no TLS', 'tls-version']);
      rows.push(['ALPN', ob.tls ? (ob.tls.alpn || 'none negotiated') : 'no TLS', 'alpn']);
      if (ob.tls) {
        rows.push(['server identity', ob.tls.serverIdentity || 'no SPIFFE ID', 'server-identity']);
        rows.push(['server certificate from', ob.tls.serverIssuer + ' CA', 'server-issuer']);
        rows.push(['identity as expected', ob.tls.serverIdentityOk ? 'yes' : 'no', 'server-identity-ok']);
      }
      // Envoy's TCP metadata exchange: the answering proxy named itself in its preamble.
      if (ob.mx) rows.push(['istio-peer-exchange', 'preamble from ' + (ob.mx.workload ? (ob.mx.namespace ? ob.mx.namespace + '/' : '') + ob.mx.workload : 'an unnamed proxy'), 'mx']);
      rows.push(['attempts', ob.attempts, 'attempts']);
      var t = ob.timings;
      rows.push(['timings', ['connect ' + (ms(t.connectMs) || '–'), 'handshake ' + (ms(t.handshakeMs) || '–')].concat(t.tunnelMs === undefined ? [] : ['HBONE CONNECT ' + ms(t.tunnelMs)], ['total ' + ms(t.totalMs)]).join(' · '), 'timings']);
      rows.push(['started', new Date(t.startedAt).toISOString(), 'started']);
      panel.append(kv(rows));
    }
    panel.append(h('p', { class: 'meta mono' }, 'cell ' + key));
    panel.hidden = false;
    try { history.replaceState(null, '', '#cell=' + encodeURIComponent(key)); } catch (e) { /* file: URLs may refuse */ }
  }
  function closeEvidence() {
    panel.hidden = true;
    if (selected) selected.classList.remove('selected');
    selected = null;
    try { history.replaceState(null, '', '#'); } catch (e) { /* ignore */ }
  }
  document.addEventListener('click', function (ev) {
    var t = ev.target instanceof Element ? ev.target.closest('[data-cell-key].cell, [data-open-cell]') : null;
    if (!t) return;
    openEvidence(t.getAttribute('data-cell-key') || t.getAttribute('data-open-cell'));
  });
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape' && !panel.hidden) closeEvidence(); });

  // ---- filtering -------------------------------------------------------------------------------------------
  function applyFilters() {
    var onlyProblems = fProblems.checked, feature = fFeature.value, workload = fWorkload.value, client = fClient.value;
    document.querySelectorAll('table.matrix [data-client]').forEach(function (e) { e.hidden = client !== '' && e.getAttribute('data-client') !== client; });
    var shownScenarios = 0, shownCells = 0;
    views.forEach(function (v) {
      var show = feature === '' || v.s.feature === feature;
      var visibleRows = 0;
      v.rows.forEach(function (r) {
        var cells = client === '' ? Object.values(r.cells) : r.cells[client] ? [r.cells[client]] : [];
        var rowShow = show && (workload === '' || r.workload === workload) && cells.length > 0 &&
          (!onlyProblems || cells.some(function (c) { return PROBLEM[c.verdict]; }));
        r.tr.hidden = !rowShow;
        if (rowShow) { visibleRows++; shownCells += cells.length; }
      });
      if (show && visibleRows === 0) {
        var narrowed = onlyProblems || workload !== '' || client !== '';
        show = !narrowed || (onlyProblems && workload === '' && client === '' && v.problem);
      }
      v.section.hidden = !show;
      if (show) shownScenarios++;
    });
    status.textContent = 'showing ' + shownScenarios + ' of ' + views.length + ' scenario runs · ' + shownCells + ' cells';
    noMatch.hidden = shownScenarios > 0;
  }

  // Render in one fragment: one layout for thousands of cells.
  var frag = document.createDocumentFragment();
  run.scenarios.forEach(function (s, i) { frag.append(renderScenario(s, i)); });
  container.append(frag);
  applyFilters();
  var m = /^#cell=(.+)$/.exec(location.hash);
  if (m) { try { openEvidence(decodeURIComponent(m[1])); } catch (e) { /* a bad link */ } }
  document.documentElement.setAttribute('data-ready', 'true');
  window.__meshconformReady = performance.now();
})();
