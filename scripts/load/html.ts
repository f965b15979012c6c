/**
 * The load report as one self-contained HTML page: uPlot (its minified script and stylesheet) and the
 * report's data are inlined, so the page opens offline, from a CI artifact or an e-mail attachment.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NOT_ON_AWS, formatEventLoops, type LoadReport } from './report.ts';

const require = createRequire(import.meta.url);

function uplotAssets(): { js: string; css: string } {
  const dist = join(dirname(require.resolve('uplot/package.json')), 'dist');
  return { js: readFileSync(join(dist, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dist, 'uPlot.min.css'), 'utf8') };
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** JSON inside a <script> element: `<` escaped so no `</script>` can end it early. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

const fmt = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toLocaleString('en-US', { maximumFractionDigits: digits });

const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? 'n/a' : `${fmt(ms / 1000, 1)} s`);

function table(headers: string[], rows: (string | number)[][], className = ''): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${typeof cell === 'number' ? fmt(cell, 3) : cell}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${className}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function badge(pass: boolean | undefined): string {
  if (pass === undefined) return '<span class="badge na">n/a</span>';
  return pass ? '<span class="badge pass">met</span>' : '<span class="badge fail">missed</span>';
}

/** The AWS prediction beside the local run: per queue and function, throttles, the run's cost, the assumptions. */
function predictionSection(report: LoadReport): string {
  const p = report.prediction;
  if (!p) return '<p class="note">No prediction: the compiled template was not found (see the notes).</p>';
  const queues = table(
    ['queue', 'consumer', 'max concurrency', 'batch', 'ms per message', 'peak depth: AWS', 'local', `drain after ${p.drainFromS} s: AWS`, 'local'],
    p.queues.map((q) => [
      escapeHtml(q.queue + (q.fifo ? ' (FIFO)' : '')),
      escapeHtml(q.fn),
      q.maxConcurrency,
      q.batchSize,
      q.perMessageMs,
      q.predicted.peakDepth,
      q.local ? q.local.peakDepth : 'n/a',
      `${fmt(q.predicted.drainTimeS, 0)} s`,
      q.local ? (q.local.drainTimeS === null ? 'not drained' : `${fmt(q.local.drainTimeS, 1)} s`) : 'n/a',
    ]),
  );
  const functions = table(
    ['function', 'peak concurrency on AWS', 'local mean duration (ms)', 'local invocations'],
    p.functions.map((f) => [escapeHtml(f.fn), f.predictedPeakConcurrency, f.localMeanDurationMs ?? 'n/a', f.localInvocations ?? 'n/a']),
  );
  const throttles =
    p.throttles.length === 0
      ? '<p>AWS would throttle nowhere with these arrivals.</p>'
      : table(
          ['where', 'limit', 'peak demand', 'seconds over', 'from (s)', 'consequence'],
          p.throttles.map((t) => [escapeHtml(t.where), escapeHtml(t.limit), t.peak, t.seconds, t.firstAtS, escapeHtml(t.consequence)]),
        );
  const cost =
    'usd' in p.cost
      ? `<p>Cost of the scenario's ${fmt(p.cost.orders, 0)} orders on AWS: <b>$${p.cost.usd.toFixed(4)}</b> (${escapeHtml(p.cost.note)}).${p.cost.unpriced.length > 0 ? ` Not priced: ${escapeHtml(p.cost.unpriced.join('; '))}.` : ''}</p>${table(['service', 'item', 'USD'], p.cost.lines.map((l) => [escapeHtml(l.service), escapeHtml(l.item), `$${l.usd.toFixed(5)}`]))}`
      : `<p>Cost: ${escapeHtml(p.cost.unavailable)}</p>`;
  return `<p class="note">${p.inputs.map(escapeHtml).join('; ')}. Predicted peak Lambda concurrency ${fmt(p.predictedPeakTotalConcurrency, 1)}${p.api ? `; API Gateway would answer ${fmt(p.api.throttled, 0)} request(s) 429` : ''}.</p>
${queues}
<div id="prediction-depth" class="chart"></div>
${functions}
<div id="prediction-concurrency" class="chart"></div>
<h3>Where AWS would throttle</h3>
${throttles}
<h3>Cost</h3>
${cost}
<h3>Assumptions</h3>
<ul>${p.assumptions.map((a) => `<li>${escapeHtml(a)}</li>`).join('\n')}</ul>`;
}

/**
 * @example
 * await writeFile('reports/spike-2026-11-22T01-00-00Z.html', renderHtml(report));
 */
function renderHtml(report: LoadReport): string {
  const { js, css } = uplotAssets();
  const c = report.counts;
  const latencyRow = (label: string, s: LoadReport['latency']['api']): (string | number)[] =>
    s ? [label, fmt(s.p50, 2), fmt(s.p90, 2), fmt(s.p95, 2), fmt(s.p99, 2), fmt(s.p999, 2), fmt(s.max, 2), fmt(s.count, 0)] : [label, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', '0'];
  const requests =
    report.aws.requestsPerOrder === NOT_ON_AWS
      ? `<p>${NOT_ON_AWS}: the counters live in the local cloud's edge.</p>`
      : table(
          ['service', 'requests per order', 'operations (total in the run)'],
          Object.entries(report.aws.requestsPerOrder)
            .sort((a, b) => b[1] - a[1])
            .map(([svc, perOrder]) => [
              escapeHtml(svc),
              perOrder,
              escapeHtml(
                Object.entries((report.aws.requestsByOperation as Record<string, Record<string, number>>)[svc] ?? {})
                  .sort((a, b) => b[1] - a[1])
                  .map(([op, n]) => `${op} ${n}`)
                  .join(', '),
              ),
            ]),
        );
  const functions =
    report.functions === NOT_ON_AWS
      ? `<p>${NOT_ON_AWS}: see the functions' CloudWatch metrics.</p>`
      : table(
          ['function', 'invocations', 'per order', 'errors', 'timeouts', 'throttles', 'mean duration (ms)', 'memory (MB)'],
          Object.entries(report.functions).map(([name, fn]) => [escapeHtml(name), fn.invocations, fn.invocationsPerOrder, fn.errors, fn.timeouts, fn.throttles, fn.meanDurationMs, fn.memoryMb]),
        );
  const phases = table(
    ['#', 'type', 'from (s)', 'to (s)', 'arrivals', 'rate (/s)', 'ended'],
    report.phases.map((p) => [p.phase, p.type, fmt(p.startMs / 1000, 1), fmt(p.endMs / 1000, 1), p.arrivals, fmt(p.arrivals / Math.max(0.001, (p.endMs - p.startMs) / 1000), 1), p.endedByDrain ? 'backlog drained' : 'at its length']),
  );
  const queues = table(
    ['queue', 'role', 'consumer', 'peak waiting', 'peak in flight', 'peak delayed'],
    report.queues.list.map((q) => [escapeHtml(q.name), q.role, escapeHtml(q.consumer ?? ''), q.peakVisible, q.peakInFlight, q.peakDelayed]),
  );
  const aims = table(
    ['aim', 'target', 'measured', ''],
    report.aims.map((a) => [escapeHtml(a.name), escapeHtml(a.aim), escapeHtml(a.value), badge(a.pass)]),
  );
  const prediction = predictionSection(report);
  const memory = report.memory === NOT_ON_AWS ? NOT_ON_AWS : `${fmt(report.memory.peakRssBytes / 1024 ** 2, 0)} MiB`;
  const verdict = report.verdict.pass
    ? '<p class="verdict pass">PASS: nothing lost, nothing duplicated, no 5xx.</p>'
    : `<p class="verdict fail">FAIL: ${report.verdict.failures.map(escapeHtml).join('; ')}</p>`;
  const lostList = c.lostIds.length > 0 ? `<details><summary>lost order ids (first ${c.lostIds.length})</summary><pre>${escapeHtml(c.lostIds.join('\n'))}</pre></details>` : '';
  const dupList = c.duplicates.length > 0 ? `<details><summary>duplicated (first ${c.duplicates.length})</summary><pre>${escapeHtml(c.duplicates.map((d) => `${d.orderId} invoiceWrites=${d.invoiceWrites} labelWrites=${d.labelWrites}`).join('\n'))}</pre></details>` : '';
  const data = {
    timeseries: report.timeseries,
    queues: report.queues.list.map((q) => ({ name: q.name, role: q.role })),
    memory: report.memory === NOT_ON_AWS ? null : report.memory.samples,
    phases: report.phases,
    drain: report.drain,
    prediction: report.prediction ? report.prediction.series : null,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`${report.scenario.name} load report, ${report.run.startedAt}`)}</title>
<style>${css}</style>
<style>
body { font: 14px/1.45 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 24px auto; max-width: 1180px; padding: 0 16px; color: #1d2330; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #dde2ea; padding-bottom: 4px; }
.sub { color: #5a6478; margin-top: 0; } table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #dde2ea; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f6fa; } .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px; }
.card { border: 1px solid #dde2ea; border-radius: 6px; padding: 8px 10px; } .card b { display: block; font-size: 20px; } .card span { color: #5a6478; font-size: 12px; }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 12px; } .pass { background: #dff5e3; color: #13622b; } .fail { background: #fde2e1; color: #8a1c17; } .na { background: #eef0f4; color: #5a6478; }
.verdict { padding: 8px 12px; border-radius: 6px; font-weight: 600; } .chart { margin: 12px 0 4px; } .note { color: #5a6478; font-size: 13px; } pre { white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Load report: ${escapeHtml(report.scenario.name)}</h1>
<p class="sub">${escapeHtml(report.scenario.description)}<br>${escapeHtml(report.run.target.description)} · started ${escapeHtml(report.run.startedAt)} · ${seconds(report.run.durationMs)} · run ${escapeHtml(report.run.id)} · Node ${escapeHtml(report.run.host.node)}, ${report.run.host.cpus} CPUs, load average ${escapeHtml(report.run.host.loadAverageAtStart.join(' '))} at start<br><code>${escapeHtml(report.run.command)}</code></p>
${verdict}
<div class="grid">
<div class="card"><b>${fmt(c.offered, 0)}</b><span>orders offered</span></div>
<div class="card"><b>${fmt(c.accepted, 0)}</b><span>accepted (202)</span></div>
<div class="card"><b>${fmt(c.completed, 0)}</b><span>completed</span></div>
<div class="card"><b>${fmt(c.lost, 0)}</b><span>lost</span></div>
<div class="card"><b>${c.duplicated === null ? 'n/a' : fmt(c.duplicated, 0)}</b><span>duplicated side effects</span></div>
<div class="card"><b>${fmt(c.rejected, 0)}</b><span>rejected (4xx; ${fmt(c.throttled429, 0)} × 429)</span></div>
<div class="card"><b>${fmt(c.http5xx, 0)}</b><span>HTTP 5xx</span></div>
<div class="card"><b>${fmt(c.notSent, 0)}</b><span>not sent (in-flight cap ${fmt(report.scenario.limits.maxInFlight, 0)})</span></div>
<div class="card"><b>${fmt(c.networkErrors, 0)}</b><span>no answer (network, timeout)</span></div>
<div class="card"><b>${fmt(c.placedDespiteError, 0)}</b><span>placed despite a 5xx / no answer</span></div>
<div class="card"><b>${seconds(report.drain.drainTimeMs)}</b><span>drain time after ${escapeHtml(report.drain.fromWhat)}</span></div>
<div class="card"><b>${fmt(report.queues.peakBacklog, 0)}</b><span>peak backlog (messages)</span></div>
<div class="card"><b>${memory}</b><span>local cloud peak RSS</span></div>
<div class="card"><b>${report.cpu === NOT_ON_AWS ? NOT_ON_AWS : `${fmt(report.cpu.msPerOrder, 1)} ms`}</b><span>local cloud CPU per order</span></div>
<div class="card"><b>${escapeHtml(report.eventLoops === NOT_ON_AWS ? NOT_ON_AWS : formatEventLoops(report.eventLoops))}</b><span>event loops busy: run / spike / drain</span></div>
</div>

<p class="note">HTTP answers: ${Object.entries(c.statusCodes).map(([code, n]) => `${code === '0' ? 'no answer' : escapeHtml(code)} × ${fmt(n, 0)}`).join(', ') || 'none'}.${c.networkErrorMessages.length > 0 ? ` No answer: ${c.networkErrorMessages.map((e) => `${escapeHtml(e.message)} × ${fmt(e.count, 0)}`).join('; ')}.` : ''}</p>

<h2>Aims</h2>
${aims}

<h2>Arrivals and completions</h2>
<div id="flow" class="chart"></div>
<p class="note">Per second of the run: orders offered (intended send times), accepted (202 received), not sent (in-flight cap), errors (5xx and no answer), and orders reaching COMPLETED (their completedAt).</p>
${phases}

<h2>Queues</h2>
<div id="queues" class="chart"></div>
<p class="note">Messages per queue (waiting + in flight + delayed), sampled every ${fmt(report.queues.sampleIntervalMs / 1000, 1)} s; backlog = waiting + in flight over the work queues. Peak backlog ${fmt(report.queues.peakBacklog, 0)} at ${seconds(report.queues.peakBacklogAtMs)}; DLQ peak ${fmt(report.queues.peakDlq, 0)}. Drain: queues empty at ${seconds(report.drain.queuesDrainedAtMs)}, last completion of an order accepted before the ${escapeHtml(report.drain.fromWhat)} at ${seconds(report.drain.lastCompletionMs)}.</p>
${queues}

<h2>Latency</h2>
<div id="latency" class="chart"></div>
<p class="note">API latency by second of intended send (open loop: from the intended send time to the answer, so waiting to be sent counts). Completion: from the 202 to the order's completedAt (${escapeHtml(report.latency.completionTimeSource)}; clock offset ${report.latency.clockOffsetMs === null ? 'n/a' : `${fmt(report.latency.clockOffsetMs, 1)} ms`}${report.latency.clockOffsetApplied ? ', applied' : ', same machine, not applied'}). The load generator sent at most ${fmt(report.latency.maxSendLagMs, 1)} ms late.</p>
${table(['latency (ms)', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'count'], [latencyRow('API (intended send → answer)', report.latency.api), latencyRow('API service time (sent → answer)', report.latency.apiService), latencyRow('order → COMPLETED', report.latency.orderToCompleted)])}

<h2>Throughput</h2>
${table(['measure', 'orders/s'], [['offered', report.throughput.offeredPerSecond], ['accepted', report.throughput.acceptedPerSecond], ['accepted during the spike', report.throughput.spikeAcceptedPerSecond ?? 'n/a'], ['completed (whole run)', report.throughput.completedPerSecond], ['completed, peak second', report.throughput.peakCompletionsPerSecond], ['pipeline completion rate (every order of the run)', report.throughput.pipelineCompletionRatePerSecond]])}

<h2>AWS requests per order</h2>
<p class="note">${escapeHtml(report.aws.source)}; the load runner's own requests (queue sampling, table scans) are not counted.</p>
${requests}

<h2>Functions</h2>
${functions}

<h2>On AWS: the capacity model's prediction</h2>
${prediction}

<h2>Memory</h2>
<div id="memory" class="chart"></div>

<h2>Notes</h2>
<ul>${report.notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('\n')}</ul>
${lostList}${dupList}
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${js}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById('report-data').textContent);
  var ts = d.timeseries;
  var width = Math.min(1140, document.body.clientWidth - 20);
  var palette = ['#2f6fdf', '#13a35a', '#e0902b', '#c8362f', '#7b4fd6', '#1aa3b8', '#8a6d3b', '#d6459c', '#5a6478', '#9bbb2b', '#333'];
  function plot(id, title, x, series, yLabel, log) {
    var el = document.getElementById(id);
    if (!el || x.length === 0) return;
    var opts = {
      title: title, width: width, height: 300,
      scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
      axes: [{ label: 'seconds from start' }, { label: yLabel }],
      series: [{ label: 's' }].concat(series.map(function (s, i) { return { label: s.label, stroke: s.color || palette[i % palette.length], width: 1.5, spanGaps: true, fill: s.fill }; })),
    };
    new uPlot(opts, [x].concat(series.map(function (s) { return s.data; })), el);
  }
  plot('flow', 'Orders per second', ts.second, [
    { label: 'offered', data: ts.offered, color: '#5a6478' },
    { label: 'accepted', data: ts.accepted, color: '#2f6fdf' },
    { label: 'completed', data: ts.completions, color: '#13a35a' },
    { label: 'completed (placed despite a 5xx)', data: ts.completionsPlacedDespiteError, color: '#7b4fd6' },
    { label: 'not sent', data: ts.notSent, color: '#e0902b' },
    { label: 'errors', data: ts.errors, color: '#c8362f' },
  ], 'orders/s');
  var qs = d.queues.map(function (q, i) { return { label: q.name + (q.role === 'dlq' ? ' (DLQ)' : ''), data: ts.queueDepth[q.name] || [], color: palette[i % palette.length] }; })
    .filter(function (s) { return s.data.some(function (v) { return v > 0; }); });
  plot('queues', 'Queue depth', ts.queueT, [{ label: 'backlog (work queues)', data: ts.backlog, color: '#1d2330' }].concat(qs), 'messages');
  plot('latency', 'API latency percentiles (by second of intended send)', ts.second, [
    { label: 'p50', data: ts.apiP50, color: '#2f6fdf' },
    { label: 'p95', data: ts.apiP95, color: '#e0902b' },
    { label: 'p99', data: ts.apiP99, color: '#c8362f' },
  ], 'ms (log)', true);
  if (d.prediction) {
    var px = d.prediction.total.map(function (_, i) { return i; });
    plot('prediction-depth', 'Predicted queue depth on AWS', px, Object.keys(d.prediction.depth).filter(function (q) { return d.prediction.depth[q].some(function (v) { return v > 0; }); }).map(function (q) { return { label: q, data: d.prediction.depth[q] }; }), 'messages');
    plot('prediction-concurrency', 'Predicted Lambda concurrency on AWS', px, [{ label: 'total', data: d.prediction.total, color: '#1d2330' }].concat(Object.keys(d.prediction.concurrency).map(function (f) { return { label: f, data: d.prediction.concurrency[f] }; })), 'concurrent executions');
  }
  if (d.memory && d.memory.length > 0) {
    plot('memory', 'Local cloud resident memory', d.memory.map(function (m) { return m.t / 1000; }), [
      { label: 'RSS (MiB)', data: d.memory.map(function (m) { return m.rssBytes / 1048576; }), color: '#7b4fd6' },
      { label: 'peak RSS (MiB)', data: d.memory.map(function (m) { return m.peakRssBytes / 1048576; }), color: '#d6459c' },
    ], 'MiB');
  } else {
    document.getElementById('memory').textContent = '${NOT_ON_AWS}';
  }
})();
</script>
</body>
</html>
`;
}

export { renderHtml, scriptJson };
