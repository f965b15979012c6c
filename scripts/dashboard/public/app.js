/*
 * The dashboard page: one EventSource (/api/events) brings the topology and a snapshot a second; the page
 * keeps the latest snapshot and renders at most once per animation frame, touching only what changed.
 * No framework and no build step; uPlot (served from node_modules) draws the charts.
 */
'use strict';

(() => {
  const HISTORY = 600;
  const TOP = 30; // room above the columns for the arcs of edges that go back (a consumer publishing to the topic)
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const QUEUE_COLORS = ['#1f6feb', '#d9822b', '#2e8540', '#7b3fb0', '#c2185b', '#0a9396', '#9b6a00', '#5c6bc0', '#6d4c41'];

  const state = {
    topology: undefined,
    queueIds: [],
    byId: new Map(),
    texts: new Map(),
    pending: undefined,
    previous: undefined,
    scheduled: false,
    series: { x: [], accepted: [], completed: [], depths: [], dlq: [] },
    charts: {},
    ordersKey: '',
    dlqKey: '',
    iamKey: '',
    confirmPurge: undefined,
  };

  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (n === undefined || n === null || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
  const rate = (n) => (n >= 10 ? Math.round(n).toString() : (Math.round(n * 10) / 10).toString());
  const bytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} B`);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const depthOf = (q) => (q ? q[0] + q[1] + q[2] : 0);

  function setText(key, value) {
    const el = state.texts.get(key);
    if (el && el.textContent !== value) el.textContent = value;
  }

  function setLive(on) {
    const el = $('live');
    el.className = `live ${on ? 'on' : 'off'}`;
    el.textContent = on ? 'live' : 'reconnecting…';
  }

  // ---------------------------------------------------------------- topology

  function svg(tag, attrs, parent) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs ?? {})) el.setAttribute(key, String(value));
    if (parent) parent.appendChild(el);
    return el;
  }

  function text(parent, key, attrs, content) {
    const el = svg('text', attrs, parent);
    el.textContent = content ?? '';
    if (key) state.texts.set(key, el);
    return el;
  }

  /** What the topic, a bucket or an event source says about a queue's input, for its detail line. */
  function queueDetail(node, topology) {
    const incoming = topology.edges.filter((e) => e.to === node.id && e.kind === 'delivers');
    const parts = incoming.map((e) => {
      const from = state.byId.get(e.from);
      if (from?.kind === 'topic') return e.label ? e.label : 'every event';
      if (from?.kind === 'bucket') return `S3 ${e.label ?? 'ObjectCreated'}`;
      return e.label ?? '';
    });
    if (node.failureDestination) parts.push('Kinesis on-failure records');
    return parts.join('; ');
  }

  function edgePath(a, b, index) {
    if (b.row === -1) {
      const ax = a.x + a.width / 2;
      const ay = a.y + a.height + TOP;
      const bx = b.x + b.width / 2;
      const by = b.y + TOP;
      const mid = (ay + by) / 2;
      return `M${ax},${ay} C${ax},${mid} ${bx},${mid} ${bx},${by}`;
    }
    if (b.column > a.column) {
      const ax = a.x + a.width;
      const ay = a.y + 22 + TOP;
      const bx = b.x;
      const by = b.y + 22 + TOP;
      const dx = Math.max(16, (bx - ax) / 2);
      return `M${ax},${ay} C${ax + dx},${ay} ${bx - dx},${by} ${bx},${by}`;
    }
    // Back (or sideways): an arc over the columns, each a little higher than the last.
    const ax = a.x + a.width / 2 + 12;
    const ay = a.y + TOP;
    const bx = b.x + b.width / 2 + 12 + (index % 3) * 6;
    const by = b.y + TOP;
    const top = Math.max(4, Math.min(a.y, b.y) + TOP - 18 - (index % 3) * 6);
    return `M${ax},${ay} C${ax},${top} ${bx},${top} ${bx},${by}`;
  }

  function drawTopology(topology) {
    state.texts.clear();
    state.byId = new Map(topology.nodes.map((n) => [n.id, n]));
    const root = svg('svg', { viewBox: `0 0 ${topology.width} ${topology.height + TOP}`, role: 'img', 'aria-label': 'topology' });
    const defs = svg('defs', {}, root);
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, defs);
    svg('path', { d: 'M0,0 L8,4 L0,8 z', fill: '#8d99a8' }, marker);

    const edgesLayer = svg('g', { class: 'edges' }, root);
    state.edgeEls = [];
    let back = 0;
    for (const edge of topology.edges) {
      if (edge.kind === 'reads') continue;
      const a = state.byId.get(edge.from);
      const b = state.byId.get(edge.to);
      if (!a || !b) continue;
      const isBack = b.row !== -1 && b.column <= a.column;
      const path = svg('path', { d: edgePath(a, b, isBack ? back++ : 0), class: `edge ${edge.kind}`, 'marker-end': 'url(#arrow)' }, edgesLayer);
      const title = svg('title', {}, path);
      title.textContent = `${a.label} → ${b.label} (${edge.kind}${edge.label ? `: ${edge.label}` : ''})`;
      state.edgeEls.push({ el: path, edge });
    }

    const nodesLayer = svg('g', { class: 'nodes' }, root);
    for (const node of topology.nodes) {
      const g = svg('g', { class: `node ${node.kind}`, 'data-node': node.id, transform: `translate(${node.x},${node.y + TOP})` }, nodesLayer);
      node.el = g;
      const tip = svg('title', {}, g);
      tip.textContent = `${node.name}${node.details.length ? `\n${node.details.join('\n')}` : ''}`;
      svg('rect', { class: 'box', x: 0, y: 0, width: node.width, height: node.height, rx: 6 }, g);
      svg('rect', { class: 'stripe', x: 0, y: 0, width: 4, height: node.height, rx: 2 }, g);
      const w = node.width;
      text(g, null, { class: 'title', x: 10, y: 15 }, node.label.length > 22 ? `${node.label.slice(0, 21)}…` : node.label);
      const tag = node.kind === 'queue' || node.kind === 'topic' ? node.details.join(' · ') : node.kind === 'firehose' ? 'Firehose' : node.kind === 'stream' ? 'Kinesis' : '';
      // The kind's colour already says "function"; a tag only where it fits beside the title.
      if (tag && node.label.length * 7 + tag.length * 5.5 < w - 18) text(g, null, { class: 'tag', x: w - 6, y: 15, 'text-anchor': 'end' }, tag);
      switch (node.kind) {
        case 'function':
          text(g, `${node.id}:a`, { class: 'metric', x: 10, y: 30 });
          text(g, `${node.id}:b`, { class: 'metric', x: 10, y: 43 });
          text(g, `${node.id}:c`, { class: 'metric', x: 10, y: 56 });
          break;
        case 'queue': {
          text(g, `${node.id}:a`, { class: 'metric', x: 10, y: 30 });
          const detail = queueDetail(node, topology);
          text(g, `${node.id}:d`, { class: 'detail', x: 10, y: 43 }, detail.length > 30 ? `${detail.slice(0, 29)}…` : detail);
          svg('rect', { class: 'bar-bg', x: 10, y: 49, width: w - 20, height: 5, rx: 2 }, g);
          node.bars = ['ready', 'inflight', 'delayed'].map((k) => svg('rect', { class: `bar-${k}`, x: 10, y: 49, width: 0, height: 5 }, g));
          node.dlqs.forEach((dlq, i) => {
            const row = svg('g', { class: 'dlqrow', 'data-dlq': dlq.logicalId, transform: `translate(6,${62 + i * 19})` }, g);
            svg('rect', { x: 0, y: 0, width: w - 12, height: 15, rx: 3 }, row);
            const label = dlq.of === 'subscription' ? 'subscription DLQ' : `DLQ${dlq.maxReceiveCount ? ` (after ${dlq.maxReceiveCount} tries)` : ''}`;
            text(row, null, { x: 5, y: 11 }, label);
            text(row, `${dlq.logicalId}:n`, { x: w - 17, y: 11, 'text-anchor': 'end' }, '0');
            const t = svg('title', {}, row);
            t.textContent = dlq.name;
            dlq.el = row;
          });
          break;
        }
        case 'api':
          node.details.slice(0, 2).forEach((route, i) => text(g, null, { class: 'detail', x: 10, y: 30 + i * 13 }, route));
          text(g, `${node.id}:a`, { class: 'metric', x: 10, y: 64 });
          break;
        default:
          text(g, `${node.id}:a`, { class: 'metric', x: 10, y: 32 });
      }
    }
    const container = $('topology');
    container.replaceChildren(root);
  }

  function renderTopology(s, prev) {
    const topology = state.topology;
    if (!topology) return;
    const fnActive = (id) => (s.functions[id]?.perSecond ?? 0) > 0 || (s.functions[id]?.running ?? 0) > 0;
    const active = new Set();
    const routesOf = new Map();
    for (const e of topology.edges) if (e.kind === 'invokes') routesOf.set(e.from, [...(routesOf.get(e.from) ?? []), e.to]);
    const published = prev ? s.stream.put !== prev.stream.put : false;
    for (const node of topology.nodes) {
      const id = node.id;
      switch (node.kind) {
        case 'function': {
          const f = s.functions[id];
          if (!f) break;
          setText(`${id}:a`, `${fmt(f.invocations)} inv · ${rate(f.perSecond)}/s`);
          setText(`${id}:b`, `${fmt(f.durationMs)} ms avg · ${fmt(f.maxMs)} max`);
          const failures = f.errors + f.timeouts;
          setText(`${id}:c`, `${fmt(failures)} err${f.throttles ? ` · ${fmt(f.throttles)} thr` : ''} · ${f.running} running`);
          state.texts.get(`${id}:c`)?.classList.toggle('err', failures > 0);
          node.el.classList.toggle('busy', fnActive(id));
          node.el.classList.toggle('failing', prev ? failures > ((prev.functions[id]?.errors ?? 0) + (prev.functions[id]?.timeouts ?? 0)) : false);
          if (fnActive(id)) active.add(id);
          break;
        }
        case 'queue': {
          const q = s.queues[id];
          const delayed = q && q[2] > 0 ? ` · ${fmt(q[2])} delayed` : '';
          setText(`${id}:a`, q ? `${fmt(q[0])} ready · ${fmt(q[1])} in flight${delayed}` : '–');
          const total = depthOf(q);
          // Log scale: 1 message shows, 10,000 fills the bar.
          const full = node.width - 20;
          const scale = total > 0 ? Math.min(1, Math.log10(total + 1) / 4) * full : 0;
          let x = 10;
          node.bars.forEach((bar, i) => {
            const width = total > 0 && q ? (q[i] / total) * scale : 0;
            bar.setAttribute('x', String(x));
            bar.setAttribute('width', String(width));
            x += width;
          });
          if (total > 0) active.add(id);
          for (const dlq of node.dlqs) {
            const n = depthOf(s.queues[dlq.logicalId]);
            setText(`${dlq.logicalId}:n`, fmt(n));
            dlq.el.classList.toggle('full', n > 0);
          }
          if (node.failureDestination) node.el.classList.toggle('failing', total > 0);
          break;
        }
        case 'api': {
          const fns = routesOf.get(id) ?? [];
          const total = fns.reduce((sum, f) => sum + (s.functions[f]?.invocations ?? 0) + (s.functions[f]?.throttles ?? 0), 0);
          const perSecond = fns.reduce((sum, f) => sum + (s.functions[f]?.perSecond ?? 0), 0);
          setText(`${id}:a`, `${fmt(total)} requests · ${rate(perSecond)}/s`);
          if (perSecond > 0) active.add(id);
          break;
        }
        case 'topic': {
          setText(`${id}:a`, `${fmt(s.published)} Publish calls`);
          break;
        }
        case 'stream':
          setText(`${id}:a`, `${fmt(s.stream.put)} put · ${fmt(s.stream.read)} read`);
          if (published) active.add(id);
          break;
        case 'firehose': {
          const lake = topology.edges.find((e) => e.from === id && e.kind === 'writes');
          const b = lake ? s.buckets[lake.to] : undefined;
          const objects = b?.byPrefix?.[(lake?.label ?? 'events/').replace(/\/$/, '')] ?? b?.objects;
          const errors = b?.byPrefix?.errors ?? 0;
          setText(`${id}:a`, b ? `${fmt(objects)} objects written${errors ? ` · ${fmt(errors)} errors` : ''}` : '–');
          if (published) active.add(id);
          break;
        }
        case 'bucket': {
          const b = s.buckets[id];
          setText(`${id}:a`, b ? `${b.capped ? '≥ ' : ''}${fmt(b.objects)} objects · ${bytes(b.bytes)}` : '–');
          break;
        }
        case 'table': {
          const t = s.tables[id];
          // Counted only while the cloud is idle (dynalite keeps no ItemCount): "≥" while busy.
          setText(`${id}:a`, t && t.items !== undefined ? `${t.stale ? '≥ ' : ''}${fmt(t.items)} items` : 'items: counted when idle');
          break;
        }
        default:
          break;
      }
    }
    for (const { el, edge } of state.edgeEls) {
      const from = state.byId.get(edge.from);
      const on = edge.kind === 'invokes' ? fnActive(edge.to) : from?.kind === 'topic' ? active.has(edge.to) : active.has(edge.from);
      el.classList.toggle('active', on);
    }
  }

  // ---------------------------------------------------------------- charts

  function chartWidth(id) {
    return Math.max(300, $(id).clientWidth - 4);
  }

  function makeCharts() {
    for (const chart of Object.values(state.charts)) chart.destroy();
    const axes = [{ stroke: '#6b7788', grid: { stroke: '#eef1f5' } }, { stroke: '#6b7788', grid: { stroke: '#eef1f5' }, size: 50 }];
    const cursor = { drag: { x: false, y: false } };
    const legend = { live: false };
    state.charts.orders = new uPlot(
      {
        width: chartWidth('chart-orders'),
        height: 190,
        cursor,
        legend,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.1)] } },
        axes,
        series: [
          {},
          { label: 'accepted/s', stroke: '#1f6feb', width: 2, fill: 'rgba(31,111,235,0.08)', points: { show: false } },
          { label: 'completed/s', stroke: '#1a7f37', width: 2, points: { show: false } },
        ],
      },
      [state.series.x, state.series.accepted, state.series.completed],
      $('chart-orders'),
    );
    const labelOf = (id) => state.byId.get(id)?.label ?? id;
    state.charts.queues = new uPlot(
      {
        width: chartWidth('chart-queues'),
        height: 190,
        cursor,
        legend,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.1)] } },
        axes,
        series: [
          {},
          ...state.queueIds.map((id, i) => ({ label: labelOf(id), stroke: QUEUE_COLORS[i % QUEUE_COLORS.length], width: 1.6, points: { show: false } })),
          { label: 'DLQs', stroke: '#d1242f', width: 2, dash: [6, 4], points: { show: false } },
        ],
      },
      [state.series.x, ...state.queueIds.map((_, i) => state.series.depths[i] ?? []), state.series.dlq],
      $('chart-queues'),
    );
  }

  function pushPoint(p) {
    const s = state.series;
    s.x.push(p.t / 1000);
    s.accepted.push(p.accepted);
    s.completed.push(p.completed);
    state.queueIds.forEach((_, i) => (s.depths[i] ??= []).push(p.depths[i] ?? 0));
    s.dlq.push(p.dlq);
    if (s.x.length > HISTORY) {
      s.x.shift();
      s.accepted.shift();
      s.completed.shift();
      s.depths.forEach((d) => d.shift());
      s.dlq.shift();
    }
  }

  function renderCharts() {
    const s = state.series;
    state.charts.orders?.setData([s.x, s.accepted, s.completed]);
    state.charts.queues?.setData([s.x, ...state.queueIds.map((_, i) => s.depths[i] ?? []), s.dlq]);
  }

  // ---------------------------------------------------------------- orders

  function timeline(order) {
    const t0 = order.placedAt ? Date.parse(order.placedAt) : undefined;
    const offset = (at) => (at && t0 !== undefined ? `+${Math.max(0, Date.parse(at) - t0)} ms` : '');
    const steps = [
      ['PLACED', order.placedAt, ''],
      ['CHARGED', order.chargedAt, offset(order.chargedAt)],
      ...(order.fulfillment === 'digital' ? [] : [['SHIPPED', order.shippedAt, offset(order.shippedAt)]]),
      ['COMPLETED', order.completedAt ?? (order.status === 'COMPLETED' ? 'yes' : undefined), order.completedAt ? offset(order.completedAt) : ''],
    ];
    return `<span class="steps">${steps
      .map(([name, at, off], i) => `<span class="step${at ? ' done' : ''}${i === steps.length - 1 ? ' last' : ''}" title="${esc(at ?? 'not yet')}">${name.slice(0, 1) + name.slice(1).toLowerCase()}${off ? ` ${off}` : ''}</span>`)
      .join('')}</span>`;
  }

  function renderOrders(s) {
    const rows = s.orders.recent;
    const key = JSON.stringify(rows);
    if (key === state.ordersKey) return;
    state.ordersKey = key;
    $('orders').innerHTML =
      rows.length === 0
        ? '<tr><td colspan="5" class="muted">no orders yet: place one above, or run <code>npm run load:spike</code></td></tr>'
        : rows
            .map(
              (o) => `<tr data-order-id="${esc(o.orderId)}"${o.mine ? ' class="mine" title="placed from this page"' : ''}>
  <td><code title="${esc(o.orderId)}">${esc(o.orderId.slice(0, 8))}</code></td>
  <td>${esc(o.customerId ?? '')}</td>
  <td>${esc(o.fulfillment ?? '')}</td>
  <td><span class="status ${esc(o.status)}" data-status="${esc(o.status)}">${esc(o.status)}</span></td>
  <td>${timeline(o)}</td></tr>`,
            )
            .join('');
  }

  async function placeOrder(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const fulfillment = String(form.get('fulfillment'));
    const body = {
      customerId: String(form.get('customerId')).trim(),
      items: [{ sku: String(form.get('sku')).trim(), quantity: Number(form.get('quantity')), unitPriceCents: Number(form.get('unitPriceCents')) }],
      fulfillment,
      ...(fulfillment === 'physical' ? { shippingAddress: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' } } : {}),
    };
    const result = $('order-result');
    const button = $('place-order');
    button.disabled = true;
    try {
      const response = await fetch('/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await response.json();
      if (response.status === 202) {
        result.textContent = `202 ${answer.status}: ${answer.orderId}`;
        result.dataset.orderId = answer.orderId;
        result.dataset.customer = body.customerId;
      } else {
        result.textContent = `${response.status} ${answer.error ?? ''} ${(answer.fields ?? []).map((f) => `${f.field}: ${f.message}`).join('; ')}`;
        delete result.dataset.orderId;
        delete result.dataset.customer;
      }
    } catch (error) {
      result.textContent = `failed: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- DLQs

  function dlqList() {
    const out = [];
    for (const node of state.topology?.nodes ?? []) {
      for (const dlq of node.dlqs) out.push({ id: dlq.logicalId, name: dlq.name, source: node.label, of: dlq.of });
      if (node.failureDestination) out.push({ id: node.id, name: node.name, source: 'Kinesis consumer', of: 'on-failure' });
    }
    return out;
  }

  function renderDlq(s) {
    const queues = dlqList().map((q) => ({ ...q, depth: depthOf(s.queues[q.id]) })).filter((q) => q.depth > 0);
    const key = JSON.stringify([queues, s.dlq.messages, s.dlq.error, state.confirmPurge]);
    if (key === state.dlqKey) return;
    state.dlqKey = key;
    const container = $('dlq');
    if (queues.length === 0) {
      container.innerHTML = `<p class="empty-ok">✓ every DLQ is empty${s.dlq.error ? ` <span class="muted">(${esc(s.dlq.error)})</span>` : ''}</p>`;
      return;
    }
    container.innerHTML = queues
      .map((q) => {
        const messages = s.dlq.messages.filter((m) => m.queue === q.id);
        const rows = messages
          .map(
            (m) => `<div class="dlq-msg" data-message-id="${esc(m.messageId)}" data-order-id="${esc(m.orderId ?? '')}">
  <code title="message ${esc(m.messageId)}">${esc(m.messageId.slice(0, 8))}</code>
  ${m.orderId ? `order <code title="${esc(m.orderId)}">${esc(m.orderId.slice(0, 8))}</code>` : ''}
  ${m.customerId ? `· ${esc(m.customerId)}` : ''} ${m.type ? `· ${esc(m.type)}` : ''} ${m.receiveCount ? `· received ${m.receiveCount}×` : ''}
  <div class="reason">${m.reason ? esc(m.reason) : '<span class="muted">no failure recorded since this local cloud started</span>'}</div>
</div>`,
          )
          .join('');
        const confirming = state.confirmPurge === q.id;
        return `<div class="dlq-queue" data-dlq="${esc(q.id)}">
  <header><b>${fmt(q.depth)}</b> in <code>${esc(q.name)}</code> <span class="muted">${q.of === 'subscription' ? 'undeliverable from the topic to' : q.of === 'on-failure' ? 'from the' : 'failed in'} ${esc(q.source)}</span>
    <span class="actions"><button class="secondary" data-action="redrive" data-queue="${esc(q.id)}">Redrive</button>
    <button class="danger" data-action="purge" data-queue="${esc(q.id)}">${confirming ? 'Confirm purge' : 'Purge'}</button></span></header>
  ${rows || '<div class="muted">reading…</div>'}
  ${q.depth > messages.length && messages.length > 0 ? `<div class="muted">and ${fmt(q.depth - messages.length)} more</div>` : ''}
</div>`;
      })
      .join('');
  }

  async function dlqAction(event) {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const { action, queue } = button.dataset;
    if (action === 'purge' && state.confirmPurge !== queue) {
      state.confirmPurge = queue;
      state.dlqKey = '';
      schedule();
      setTimeout(() => {
        if (state.confirmPurge === queue) {
          state.confirmPurge = undefined;
          state.dlqKey = '';
          schedule();
        }
      }, 4000);
      return;
    }
    state.confirmPurge = undefined;
    button.disabled = true;
    const result = $('dlq-result');
    try {
      const response = await fetch(`/api/dlq/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queue }) });
      const answer = await response.json();
      result.textContent = response.ok ? `${action} ${answer.queue}: ${summary(answer)}` : `${action} failed: ${answer.error}`;
    } catch (error) {
      result.textContent = `${action} failed: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }

  function summary(answer) {
    return Object.entries(answer)
      .filter(([k, v]) => k !== 'queue' && (typeof v === 'number' || typeof v === 'string'))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  }

  // ---------------------------------------------------------------- IAM

  function clock(iso) {
    return esc(new Date(iso).toLocaleTimeString());
  }

  function renderIam(s) {
    const iam = s.iam;
    if (!iam) return;
    const key = JSON.stringify(iam);
    if (key === state.iamKey) return;
    state.iamKey = key;
    $('iam-mode').textContent = `--iam ${iam.mode} · ${fmt(iam.evaluated)} request(s) evaluated`;
    const container = $('iam');
    if (iam.mode === 'off') {
      container.innerHTML = '<p class="muted">IAM is not evaluated (--iam off): every request is allowed, every delivery made.</p>';
      return;
    }
    const verdict = (refused) => (refused ? '<b class="refused">refused</b>' : '<span class="warned">allowed (--iam warn)</span>');
    const denials = iam.denials
      .map(
        (d) => `<tr class="iam-denial" data-function="${esc(d.functionName)}" data-action="${esc(d.action)}">
  <td>${clock(d.at)}</td><td><code>${esc(d.functionName)}</code><div class="muted">role ${esc(d.roleName)}</div></td><td><code>${esc(d.action)}</code></td>
  <td class="resource"><code>${esc(d.resource)}</code><div class="muted">${d.kind === 'explicit' ? 'a Deny statement matches' : 'no statement allows it'}</div></td><td>${verdict(d.refused)}</td></tr>`,
      )
      .join('');
    const deliveries = iam.deliveryDenials
      .map(
        (d) => `<tr class="iam-delivery" data-source="${esc(d.sourceArn)}" data-target="${esc(d.queueArn)}">
  <td>${clock(d.at)}</td><td><code>${esc(d.service)}</code></td><td><code>${esc(d.sourceArn)}</code> → <code>${esc(d.queueArn)}</code><div class="reason">${esc(d.reason)}</div></td>
  <td>${d.dropped ? '<b class="refused">dropped</b>' : '<span class="warned">delivered (--iam warn)</span>'}</td></tr>`,
      )
      .join('');
    const mappings = iam.mappingRefusals.map((refusal) => `<li class="iam-mapping">${esc(refusal)}</li>`).join('');
    const more = (shown, total) => (total > shown ? `<div class="muted">the newest ${shown} of ${fmt(total)}</div>` : '');
    container.innerHTML =
      denials || deliveries || mappings
        ? `${denials ? `<table class="rows"><thead><tr><th>when</th><th>function (role)</th><th>action</th><th>resource</th><th>${esc(iam.mode)}</th></tr></thead><tbody>${denials}</tbody></table>${more(iam.denials.length, iam.deniedTotal)}` : ''}
${deliveries ? `<table class="rows"><thead><tr><th>when</th><th>service</th><th>delivery</th><th>${esc(iam.mode)}</th></tr></thead><tbody>${deliveries}</tbody></table>${more(iam.deliveryDenials.length, iam.deliveriesTotal)}` : ''}
${mappings ? `<p>Event source mappings AWS would not create:</p><ul>${mappings}</ul>` : ''}`
        : '<p class="empty-ok">✓ nothing refused: every request was within its role, every delivery allowed by its policy</p>';
  }

  // ---------------------------------------------------------------- reports

  async function loadReports() {
    try {
      const reports = await (await fetch('/api/reports')).json();
      const list = $('reports');
      const html = reports.length
        ? reports
            .slice(0, 20)
            .map((r) => `<li><a href="${esc(r.url)}" target="_blank" rel="noopener">${esc(r.name)}</a> <span class="muted">${esc(new Date(r.modifiedAt).toLocaleString())} · ${bytes(r.bytes)}</span></li>`)
            .join('')
        : '<li class="muted">none yet: <code>npm run load:spike</code> writes one</li>';
      if (list.innerHTML !== html) list.innerHTML = html;
    } catch {
      // The next attempt will do.
    }
  }

  // ---------------------------------------------------------------- frame

  function renderHeader(s) {
    const backlog = state.queueIds.reduce((sum, id) => sum + depthOf(s.queues[id]), 0);
    $('k-accepted').textContent = fmt(s.orders.accepted);
    $('k-completed').textContent = fmt(s.orders.completed);
    $('k-rate').textContent = `${rate(s.orders.acceptedPerSecond)}/s`;
    $('k-backlog').textContent = fmt(backlog);
    $('k-dlq').textContent = fmt(s.dlq.total);
    $('k-dlq').parentElement.classList.toggle('alert', s.dlq.total > 0);
    $('k-aws').textContent = `${fmt(s.aws.perSecond)}/s`;
    $('k-rss').textContent = `${Math.round(s.memory.rssBytes / 1048576)} MB (${Math.round(s.memory.peakRssBytes / 1048576)})`;
  }

  function render() {
    state.scheduled = false;
    const s = state.pending;
    if (!s) return;
    renderHeader(s);
    renderTopology(s, state.previous);
    renderCharts();
    renderOrders(s);
    renderDlq(s);
    renderIam(s);
    state.previous = s;
  }

  function schedule() {
    if (state.scheduled) return;
    state.scheduled = true;
    requestAnimationFrame(render);
  }

  function hello(data) {
    state.topology = data.topology;
    state.queueIds = data.queueIds;
    $('stack').textContent = `${data.topology.stackName} · API ${data.api} · edge ${data.edge}`;
    state.series = { x: [], accepted: [], completed: [], depths: [], dlq: [] };
    for (const point of data.history) pushPoint(point);
    drawTopology(data.topology);
    makeCharts();
    state.ordersKey = '';
    state.dlqKey = '';
    state.iamKey = '';
    if (data.snapshot) {
      state.pending = data.snapshot;
      schedule();
    }
  }

  function connect() {
    const source = new EventSource('/api/events');
    source.addEventListener('hello', (e) => hello(JSON.parse(e.data)));
    source.addEventListener('snapshot', (e) => {
      const snapshot = JSON.parse(e.data);
      pushPoint({
        t: snapshot.t,
        accepted: snapshot.orders.acceptedPerSecond,
        completed: snapshot.orders.completedPerSecond,
        depths: state.queueIds.map((id) => depthOf(snapshot.queues[id])),
        dlq: snapshot.dlq.total,
      });
      state.pending = snapshot;
      schedule();
    });
    source.onopen = () => setLive(true);
    source.onerror = () => setLive(false);
  }

  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      state.charts.orders?.setSize({ width: chartWidth('chart-orders'), height: 190 });
      state.charts.queues?.setSize({ width: chartWidth('chart-queues'), height: 190 });
    }, 150);
  });
  $('order-form').addEventListener('submit', placeOrder);
  $('dlq').addEventListener('click', dlqAction);
  connect();
  loadReports();
  setInterval(loadReports, 15000);
})();
