// The dashboard page: renders each snapshot pushed over server-sent events.
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
};
const post = async (url, body, method = 'POST') => {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  return { status: res.status, body: await res.json().catch(() => ({})) };
};

let control = null;

const renderRegistry = (instances) => {
  $('registry').replaceChildren(
    ...Object.entries(instances).map(([service, list]) =>
      el(
        'div',
        { class: 'service' },
        el('strong', {}, `${service} (${list.length})`),
        ...list.map((i) =>
          el(
            'div',
            { class: 'instance', 'data-instance': i.instanceId },
            el('span', {}, i.instanceId),
            el(
              'span',
              { class: 'bar', title: 'time left on its registry TTL' },
              el('span', { style: `width:${Math.max(0, Math.min(100, i.expiresInMs / 50))}%` }),
            ),
            ...(control
              ? [el('button', { class: 'danger', onclick: () => post(`/api/control/kill/${i.instanceId}`) }, 'kill')]
              : []),
          ),
        ),
        ...(control
          ? [el('button', { onclick: () => post(`/api/control/restart/${service}`) }, `start another ${service}`)]
          : []),
      ),
    ),
  );
};

const render = (s) => {
  control = s.control;
  renderRegistry(s.instances);
  const ratio = s.cache.hitRatio === null ? '—' : `${Math.round(s.cache.hitRatio * 100)}%`;
  $('cache').replaceChildren(
    el('div', { class: 'big' }, ratio),
    el(
      'div',
      {},
      Object.entries(s.cache.tiers)
        .map(([tier, n]) => `${tier}: ${n}`)
        .join(' · '),
    ),
  );
  $('breakers').replaceChildren(
    ...(s.breakers.length ? s.breakers : [{ instanceId: '—', breaker: 'none yet', state: 'closed' }]).map((b) =>
      el('div', { class: b.state === 'open' ? 'breaker-open' : '' }, `${b.breaker} @ ${b.instanceId}: ${b.state}`),
    ),
  );
  $('stock').tBodies[0].replaceChildren(
    ...s.stock.map((p) =>
      el(
        'tr',
        {},
        el('td', {}, p.id),
        el('td', {}, String(p.stock)),
        el('td', {}, (p.priceCents / 100).toFixed(2)),
        el('td', {}, el('button', { 'data-order': p.id, onclick: () => post('/api/orders', { productId: p.id }) }, 'order 1')),
      ),
    ),
  );
  $('queues').tBodies[0].replaceChildren(
    ...Object.entries(s.queues).map(([name, c]) =>
      el('tr', {}, ...[name, c.waiting, c.active, c.delayed, c.completed, c.failed].map((v) => el('td', {}, String(v ?? 0)))),
    ),
  );
  // On a Redis Cluster: which primary holds which queue, registry, lock and cache entry.
  $('shards-section').hidden = !s.shards;
  $('shards').tBodies[0].replaceChildren(
    ...(s.shards ?? []).map((shard) =>
      el(
        'tr',
        { 'data-primary': shard.primary, class: shard.failed ? 'failed' : '' },
        el('td', {}, shard.failed ? `${shard.primary} (failed)` : shard.primary),
        el('td', {}, shard.slots),
        el('td', {}, shard.replicas.join(', ') || '—'),
        el('td', {}, shard.holds.join(', ')),
      ),
    ),
  );
  renderCharts(s.history ?? []);
  // Live rankings (sorted sets in Redis, served by catalog): what sells, what is watched, orders per minute.
  const ranked = (list) =>
    list?.length
      ? list.map((r) =>
          el('li', { 'data-product': r.productId, 'data-score': String(r.score) }, `${r.name ?? r.productId}: ${r.score}`),
        )
      : [el('li', { class: 'muted' }, 'nothing yet')];
  $('best-selling').replaceChildren(...ranked(s.rankings?.bestSelling));
  $('most-watched').replaceChildren(...ranked(s.rankings?.mostWatched));
  const minutes = s.rankings?.ordersPerMinute ?? [];
  const last = minutes.at(-1);
  const placed = minutes.reduce((n, m) => n + m.placed, 0);
  $('orders-per-minute').textContent = s.rankings
    ? `orders this minute: ${last?.placed ?? 0} placed, ${last?.paid ?? 0} paid · ${placed} placed in ${minutes.length} min`
    : 'rankings unavailable';
  $('orders-per-minute').dataset.placed = String(placed);
  // ACL LOG: failed AUTHs and refused commands, keys and channels, per user.
  $('acl-totals').textContent = s.aclAudit
    ? Object.entries(s.aclAudit.byUser)
        .map(([user, n]) => `${user}: ${n}`)
        .join(' · ') || 'no refusals'
    : 'ACL LOG unreadable';
  $('acl').tBodies[0].replaceChildren(
    ...(s.aclAudit?.entries ?? []).map((e) =>
      el(
        'tr',
        { 'data-acl-user': e.user, 'data-acl-reason': e.reason },
        ...[e.user, e.reason, e.object, e.count, `${e.ageSeconds} s`].map((v) => el('td', {}, String(v))),
      ),
    ),
  );
  $('events').replaceChildren(
    ...s.events.map((e) => el('li', { 'data-type': e.type }, `${e.at.slice(11, 19)} ${e.type} — ${e.summary}`)),
  );
  $('steps-section').hidden = !control;
  if (control && $('steps').childElementCount === 0) {
    $('steps').replaceChildren(
      ...control.steps.map((step) =>
        el(
          'button',
          {
            onclick: async () =>
              ($('step-result').textContent = JSON.stringify(await post(`/api/control/steps/${step}`), null, 2)),
          },
          step,
        ),
      ),
    );
  }
};

// Charts: one point per refresh (the server keeps the last minutes), drawn as SVG lines.
const SVG = 'http://www.w3.org/2000/svg';
const svgEl = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};
const CHARTS = [
  { id: 'orders', title: 'orders/s', series: { 'orders/s': (p) => p.ordersPerSec } },
  { id: 'latency', title: 'POST /orders latency (ms)', series: { p50: (p) => p.orderP50Ms, p99: (p) => p.orderP99Ms } },
  {
    id: 'cache',
    title: 'cache reads by tier (%)',
    series: {
      l1: (p) => (p.cacheShare ? p.cacheShare.l1 * 100 : null),
      l2: (p) => (p.cacheShare ? p.cacheShare.l2 * 100 : null),
      miss: (p) => (p.cacheShare ? p.cacheShare.miss * 100 : null),
    },
  },
  {
    id: 'locks',
    title: 'stock locks',
    series: { 'wait p99 ms': (p) => p.lockWaitP99Ms, 'contended/s': (p) => p.lockContentionPerSec },
  },
  {
    id: 'queues',
    title: 'queue depth',
    series: { notifications: (p) => p.queueDepth.notifications ?? 0, 'order-expiry': (p) => p.queueDepth['order-expiry'] ?? 0 },
  },
  { id: 'jobs', title: 'notification job (ms)', series: { mean: (p) => p.jobMs } },
  { id: 'registry', title: 'registry size', series: { instances: (p) => p.registrySize } },
];
const COLORS = ['#3b6fd8', '#c77700', '#1f8a4c', '#b3261e'];
const W = 300;
const H = 60;

const renderCharts = (history) => {
  if (!history.length) return;
  const t0 = history[0].at;
  const t1 = Math.max(history[history.length - 1].at, t0 + 1);
  const x = (at) => ((at - t0) / (t1 - t0)) * W;
  $('charts').replaceChildren(
    ...CHARTS.map((chart) => {
      const values = Object.fromEntries(Object.entries(chart.series).map(([name, f]) => [name, history.map((p) => f(p))]));
      const peak = Math.max(
        1e-9,
        ...Object.values(values)
          .flat()
          .filter((v) => v !== null),
      );
      const y = (v) => H - 2 - (v / peak) * (H - 6);
      const lastValues = Object.fromEntries(Object.entries(values).map(([name, list]) => [name, list[list.length - 1]]));
      const svg = svgEl('svg', {
        'data-last': JSON.stringify(lastValues),
        viewBox: `0 0 ${W} ${H}`,
        preserveAspectRatio: 'none',
        'data-chart': chart.id,
        'data-peak': String(peak),
      });
      Object.entries(values).forEach(([name, list], i) => {
        // A gap (no orders, no reads in that second) breaks the line rather than bridging it.
        let pen = 'M';
        const d = list
          .map((v, j) => {
            if (v === null) {
              pen = 'M';
              return '';
            }
            const step = `${pen}${x(history[j].at).toFixed(1)},${y(v).toFixed(1)}`;
            pen = 'L';
            return step;
          })
          .join('');
        svg.append(
          svgEl('path', { d, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': '1.5', 'data-series': name }),
        );
      });
      // A click opens the trace that started nearest that moment.
      svg.addEventListener('click', async (event) => {
        const box = svg.getBoundingClientRect();
        const at = Math.round(t0 + ((event.clientX - box.left) / box.width) * (t1 - t0));
        const answer = await fetch(`/api/traces?around=${at}&limit=1`);
        const found = answer.status === 200 ? (await answer.json()).items[0] : undefined;
        if (found) openTrace(found.traceId);
        else $('waterfall').textContent = 'No trace from that moment (is tracing exported to this dashboard?)';
      });
      const last = Object.entries(values).map(([name, list]) => {
        const v = list[list.length - 1];
        return `${name} ${v === null ? '—' : Math.round(v * 10) / 10}`;
      });
      return el('div', { class: 'chart' }, el('h3', {}, chart.title), svg, el('div', { class: 'legend' }, last.join(' · ')));
    }),
  );
};

// Traces: the dashboard receives the services' spans (OTLP) and draws one trace as a waterfall.
const renderTraceList = async () => {
  const answer = await fetch('/api/traces?limit=25');
  if (answer.status !== 200) return;
  const { items } = await answer.json();
  $('trace-list').replaceChildren(
    ...items.map((t) =>
      el(
        'li',
        { class: t.error ? 'error' : '', 'data-trace': t.traceId, onclick: () => openTrace(t.traceId) },
        `${new Date(t.startMs).toISOString().slice(11, 19)} ${t.name} · ${t.services.join('+')} · ${Math.round(t.durationMs)} ms`,
      ),
    ),
  );
};

const openTrace = async (traceId) => {
  const answer = await fetch(`/api/traces/${traceId}`);
  if (answer.status !== 200) {
    $('waterfall').textContent = `Trace ${traceId} not found (${answer.status})`;
    return;
  }
  const trace = await answer.json();
  const spans = trace.items;
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const total = Math.max(1, ...spans.map((s) => s.startMs + s.durationMs - t0));
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s) => {
    let d = 0;
    for (let p = byId.get(s.parentSpanId); p && d < 30; p = byId.get(p.parentSpanId)) d++;
    return d;
  };
  // Depth-first from the roots, children by start time: each span under its parent.
  const children = new Map();
  for (const s of spans) {
    const parent = byId.has(s.parentSpanId) ? s.parentSpanId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const ordered = [];
  const walk = (parent) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs)) {
      ordered.push(s);
      walk(s.spanId);
    }
  };
  walk(null);
  const known = new Set(['order', 'catalog', 'notifier']);
  $('waterfall').replaceChildren(
    el(
      'h3',
      { 'data-trace-open': traceId },
      `${trace.name} — ${Math.round(trace.durationMs)} ms, ${spans.length} spans, trace ${traceId}`,
    ),
    ...ordered.map((s) =>
      el(
        'div',
        {
          class: `span-row${s.error ? ' error' : ''}`,
          'data-service': s.service,
          'data-span': s.name,
          title: JSON.stringify(s.attributes, null, 1),
        },
        el(
          'span',
          { class: 'label', style: `padding-left:${depth(s) * 10}px` },
          `${s.service}: ${s.name} (${s.durationMs.toFixed(1)} ms)`,
        ),
        el(
          'span',
          { class: 'track' },
          el('span', {
            class: known.has(s.service) ? `svc-${s.service}` : 'svc-other',
            style: `left:${((s.startMs - t0) / total) * 100}%;width:${(s.durationMs / total) * 100}%`,
          }),
        ),
      ),
    ),
  );
};

$('trace-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const value = $('trace-id').value.trim().toLowerCase();
  if (/^[0-9a-f]{32}$/.test(value)) return openTrace(value);
  const answer = await fetch(`/api/traces?orderId=${encodeURIComponent(value)}`);
  const found = answer.status === 200 ? (await answer.json()).items[0] : undefined;
  if (found) openTrace(found.traceId);
  else $('waterfall').textContent = `No trace for ${value} yet`;
});

// Sign-in: the session is an HttpOnly cookie holding the user's token. `pnpm demo` prints a
// link with an admin token in the URL fragment (never sent to a server); it is exchanged for
// the cookie here and removed from the address bar.
const signIn = async (token) => {
  const answer = await post('/api/session', { token });
  if (answer.status !== 200) $('signin-error').textContent = answer.body.detail ?? `sign-in failed (${answer.status})`;
  return answer.status === 200;
};

const showSession = (session) => {
  $('signin').hidden = session !== null;
  $('dashboard').hidden = session === null;
  $('whoami').textContent = session ? `${session.subject}${session.admin ? ' (admin)' : ''}` : '';
  $('signout').hidden = session === null;
};

const start = async () => {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLink = fragment.get('token');
  // `#trace=<id>` (the links `pnpm demo` prints) opens that trace once signed in.
  const traceLink = fragment.get('trace');
  if (fromLink) {
    history.replaceState(null, '', traceLink ? `${location.pathname}#trace=${traceLink}` : location.pathname);
    await signIn(fromLink);
  }
  const res = await fetch('/api/session');
  const session = res.status === 200 ? await res.json() : null;
  showSession(session);
  if (session) {
    connect();
    void renderTraceList();
    setInterval(() => void renderTraceList(), 3000);
    if (traceLink && /^[0-9a-f]{32}$/.test(traceLink)) void openTrace(traceLink);
  }
};
window.addEventListener('hashchange', () => {
  const traceLink = new URLSearchParams(location.hash.slice(1)).get('trace');
  if (traceLink && /^[0-9a-f]{32}$/.test(traceLink)) void openTrace(traceLink);
});

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (await signIn($('signin-token').value.trim())) location.reload();
});
$('signout').addEventListener('click', async () => {
  await post('/api/session', {}, 'DELETE');
  location.reload();
});

const connect = () => {
  const source = new EventSource('/api/stream');
  source.onopen = () => {
    $('status').textContent = 'live';
    $('status').className = 'pill ok';
  };
  source.onmessage = (message) => render(JSON.parse(message.data));
  source.onerror = () => {
    $('status').textContent = 'reconnecting…';
    $('status').className = 'pill bad';
  };
};
void start();
