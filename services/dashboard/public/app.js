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
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromLink) {
    history.replaceState(null, '', location.pathname);
    await signIn(fromLink);
  }
  const res = await fetch('/api/session');
  const session = res.status === 200 ? await res.json() : null;
  showSession(session);
  if (session) connect();
};

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
