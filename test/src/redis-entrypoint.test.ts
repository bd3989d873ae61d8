import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCertificates, freePort, stopChild, type TestCertificates, track, waitFor } from '@storefront/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * docker-compose's Redis entrypoint (infra/redis/entrypoint.sh) and its templates without a
 * container engine: the same script, the shipped redis.conf, sentinel.conf and users.acl
 * (with /data and the compose host names and ports replaced by temp dirs and loopback
 * ports), real redis-server and Sentinel processes. Every node is named `localhost` and
 * Sentinel resolves it to 127.0.0.1 — a name and an IP for each node, as in compose.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const entrypoint = join(root, 'infra/redis/entrypoint.sh');
// Passwords with the characters that broke the sed-based renderer (/ & \) and more.
const passwords = {
  CATALOG_REDIS_PASSWORD: 'cat/a&l\\og|1',
  ORDER_REDIS_PASSWORD: 'or&&der/2',
  NOTIFIER_REDIS_PASSWORD: 'n\\o/t&3',
  DASHBOARD_REDIS_PASSWORD: 'dash$board4',
  REPLICA_REDIS_PASSWORD: 'rep/li&ca\\5',
  SENTINEL_REDIS_PASSWORD: 's/en&ti\\nel6',
  OPS_REDIS_PASSWORD: 'o&p/s7',
};

let work: string;
const children: ChildProcess[] = [];

/** Run the entrypoint as compose does, with `env` and a data dir of its own. */
const runEntrypoint = (data: string, args: string[], env: Record<string, string>): ChildProcess => {
  const child = track(
    spawn('sh', [entrypoint, ...args], {
      env: { PATH: process.env.PATH, ...passwords, STOREFRONT_TEMPLATES: join(work, 'templates'), STOREFRONT_DATA: data, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  Object.defineProperty(child, 'stderrText', { get: () => stderr });
  children.push(child);
  return child;
};
const stderrOf = (child: ChildProcess) => (child as ChildProcess & { stderrText: string }).stderrText;

const ops = (port: number) => {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    username: 'ops',
    password: passwords.OPS_REDIS_PASSWORD,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  return client;
};
const withOps = async <T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> => {
  const client = ops(port);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
};
const sentinelCommand = async (port: number, ...args: string[]) => {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call('SENTINEL', ...args);
  } finally {
    client.disconnect();
  }
};
const role = (port: number) => withOps(port, (c) => c.call('ROLE') as Promise<[string, ...unknown[]]>).catch(() => ['down']);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'storefront-entrypoint-'));
  await mkdir(join(work, 'templates'));
}, 30_000);

afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  if (work) await rm(work, { recursive: true, force: true });
});

describe('infra/redis/entrypoint.sh with the shipped templates', () => {
  interface Node {
    name: string;
    port: number;
    data: string;
    child?: ChildProcess;
  }
  let nodes: Node[];
  let sentinels: { port: number; data: string; child?: ChildProcess }[];

  /** Start (or restart) data node `n` through the entrypoint, as its compose service does. */
  const startNode = async (n: Node, env: Record<string, string> = {}) => {
    n.child = runEntrypoint(
      n.data,
      [join(work, 'templates', `${n.name}.conf`), '--port', String(n.port), '--bind', '127.0.0.1', '-::1'],
      {
        ANNOUNCE_HOSTNAME: 'localhost',
        ANNOUNCE_PORT: String(n.port),
        SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(' '),
        ...env,
      },
    );
    await waitFor(async () => (await role(n.port))[0] !== 'down', { timeoutMs: 10_000, description: `${n.name} up` });
  };
  const kill = async (n: Node) => {
    n.child?.kill('SIGKILL');
    if (n.child && n.child.exitCode === null && n.child.signalCode === null) await once(n.child, 'exit');
  };
  /** The primary every Sentinel names, once they agree. */
  const agreedPrimary = async () => {
    const named = await Promise.all(
      sentinels.map((s) => sentinelCommand(s.port, 'get-master-addr-by-name', 'storefront').catch(() => null)),
    );
    const ports = new Set(named.map((a) => (a ? Number((a as string[])[1]) : 0)));
    return ports.size === 1 && !ports.has(0) ? [...ports][0]! : undefined;
  };
  /** Every node in sync: one primary with one replica whose link is up, seen so by every Sentinel. */
  const settled = async (primaryPort: number) => {
    if ((await agreedPrimary()) !== primaryPort) return false;
    const replica = nodes.find((n) => n.port !== primaryPort)!;
    const info = await withOps(replica.port, (c) => c.info('replication')).catch(() => '');
    if (!/master_link_status:up/.test(info) || !new RegExp(`master_port:${primaryPort}\\b`).test(info)) return false;
    for (const s of sentinels) {
      const replicas = (await sentinelCommand(s.port, 'replicas', 'storefront').catch(() => [])) as string[][];
      // Exactly the one replica, known by its announced name (never also by IP).
      if (replicas.length !== 1) return false;
      const fields = Object.fromEntries(replicas[0]!.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]]])));
      if (fields.ip !== 'localhost' || Number(fields.port) !== replica.port || fields.flags !== 'slave') return false;
    }
    return true;
  };
  /** Every Sentinel names `n` as the primary. */
  const promoted = (n: Node, description: string) =>
    waitFor(async () => (await agreedPrimary()) === n.port, { timeoutMs: 30_000, intervalMs: 100, description });
  const writeAs = (port: number, key: string) =>
    withOps(port, async (c) => {
      await c.set(key, '1');
      return Number(await c.call('WAIT', '1', '2000'));
    });

  beforeAll(async () => {
    const shipped = {
      redis: await readFile(join(root, 'infra/redis/redis.conf'), 'utf8'),
      sentinel: await readFile(join(root, 'infra/redis/sentinel.conf'), 'utf8'),
      acl: await readFile(join(root, 'infra/redis/users.acl'), 'utf8'),
    };
    await writeFile(join(work, 'templates', 'users.acl'), shipped.acl);
    nodes = [];
    for (const name of ['redis-primary', 'redis-replica']) {
      const data = join(work, name);
      await mkdir(data);
      nodes.push({ name, port: await freePort(), data });
      await writeFile(join(work, 'templates', `${name}.conf`), shipped.redis.replaceAll('/data', data));
    }
    sentinels = [];
    for (let i = 0; i < 3; i++) {
      const data = join(work, `sentinel-${i + 1}`);
      await mkdir(data);
      sentinels.push({ port: await freePort(), data });
    }
    // One sentinel.conf template per Sentinel: its own dir, the primary by name, quick timings.
    const sentinelTemplate = (data: string) =>
      shipped.sentinel
        .replaceAll('/data', data)
        .replace('redis-primary 6379', `localhost ${nodes[0]!.port}`)
        .replace(/down-after-milliseconds storefront \d+/, 'down-after-milliseconds storefront 1000')
        .replace(/failover-timeout storefront \d+/, 'failover-timeout storefront 5000');
    await startNode(nodes[0]!, { SENTINELS: '' });
    await startNode(nodes[1]!, { SENTINELS: '', REPLICA_OF: `localhost ${nodes[0]!.port}` });
    for (const [i, s] of sentinels.entries()) {
      await writeFile(join(work, 'templates', 'sentinel.conf'), sentinelTemplate(s.data));
      s.child = runEntrypoint(s.data, ['sentinel', '--port', String(s.port), '--bind', '127.0.0.1', '-::1'], {
        ANNOUNCE_HOSTNAME: '127.0.0.1',
        ANNOUNCE_PORT: String(s.port),
      });
      await waitFor(
        () =>
          sentinelCommand(s.port, 'masters').then(
            () => true,
            () => false,
          ),
        {
          timeoutMs: 10_000,
          description: `sentinel ${i + 1} up`,
        },
      );
    }
    await waitFor(() => settled(nodes[0]!.port), { timeoutMs: 30_000, intervalMs: 200, description: 'topology settled' });
  }, 90_000);

  it('renders every password literally, whatever characters it holds: each user signs in with its own', async () => {
    for (const [variable, password] of Object.entries(passwords)) {
      const user = variable.replace('_REDIS_PASSWORD', '').toLowerCase();
      const client = new Redis({ host: '127.0.0.1', port: nodes[0]!.port, username: user, password, lazyConnect: true });
      client.on('error', () => {});
      try {
        await client.connect();
        expect(await client.ping(), user).toBe('PONG');
      } finally {
        client.disconnect();
      }
    }
    // The replica authenticated to the primary with masterauth from the same renderer.
    expect((await role(nodes[1]!.port))[0]).toBe('slave');
    const sentinelConf = await readFile(join(sentinels[0]!.data, 'sentinel.conf'), 'utf8');
    expect(sentinelConf).toContain(`auth-pass storefront ${passwords.SENTINEL_REDIS_PASSWORD}`);
  });

  it('refuses to start with a password unset, naming it', async () => {
    const data = join(work, 'unset');
    await mkdir(data);
    const child = runEntrypoint(data, [join(work, 'templates', 'redis-primary.conf')], { OPS_REDIS_PASSWORD: '' });
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(stderrOf(child)).toContain('OPS_REDIS_PASSWORD is not set');
  });

  it('fails over and back: the old primary returns as a replica, the next failover promotes it, each node listed once', async () => {
    const [first, second] = nodes as [Node, Node];
    expect(await writeAs(first.port, 'before')).toBe(1);
    // Failover: the primary dies; Sentinel promotes the replica.
    await kill(first);
    await promoted(second, 'the replica promoted');
    // The old primary restarts: it asks the Sentinels and comes back as the new primary's replica.
    await startNode(first);
    expect(stderrOf(first.child!)).toContain(`starting as replicaof localhost ${second.port}`);
    await waitFor(() => settled(second.port), { timeoutMs: 30_000, intervalMs: 200, description: 'old primary in sync' });
    expect(await writeAs(second.port, 'between')).toBe(1);
    // Fail-back: the new primary dies; the old one is promoted and takes writes.
    await kill(second);
    await promoted(first, 'the old primary promoted again');
    await waitFor(async () => (await role(first.port))[0] === 'master', { timeoutMs: 10_000, description: 'a primary' });
    await withOps(first.port, async (c) => {
      expect(await c.get('before')).toBe('1');
      expect(await c.get('between')).toBe('1');
      await c.set('after', '1');
    });
    // And the second node comes back as its replica: both ways, every node named once.
    await startNode(second);
    await waitFor(() => settled(first.port), { timeoutMs: 30_000, intervalMs: 200, description: 'second node in sync' });
    expect(await writeAs(first.port, 'last')).toBe(1);
  }, 120_000);

  it('keeps what Sentinel learnt across its own restart (its config lives in the volume)', async () => {
    const [s] = sentinels as [(typeof sentinels)[number]];
    const primaryPort = (await agreedPrimary())!;
    const id = await sentinelCommand(s.port, 'myid');
    s.child?.kill('SIGKILL');
    await once(s.child!, 'exit');
    s.child = runEntrypoint(s.data, ['sentinel', '--port', String(s.port), '--bind', '127.0.0.1', '-::1'], {
      ANNOUNCE_HOSTNAME: '127.0.0.1',
      ANNOUNCE_PORT: String(s.port),
    });
    await waitFor(
      async () => {
        const addr = (await sentinelCommand(s.port, 'get-master-addr-by-name', 'storefront').catch(() => null)) as
          | string[]
          | null;
        return addr !== null && Number(addr[1]) === primaryPort;
      },
      { timeoutMs: 10_000, description: 'restarted Sentinel names the current primary' },
    );
    // The same Sentinel (its id and knowledge come from the file it rewrote, not from the template)...
    expect(await sentinelCommand(s.port, 'myid')).toEqual(id);
    // ...with the password from the environment renewed.
    expect(await readFile(join(s.data, 'sentinel.conf'), 'utf8')).toContain(
      `auth-pass storefront ${passwords.SENTINEL_REDIS_PASSWORD}`,
    );
  }, 30_000);
});

describe('infra/redis/entrypoint.sh with REDIS_TLS=on (docker-compose.tls.yml)', () => {
  let certs: TestCertificates;
  const tlsEnv = () => ({ REDIS_TLS: 'on', STOREFRONT_TLS: certs.dir });
  /** A TLS client as `ops` (or without a user, for a Sentinel); `tls: false` tries plaintext. */
  const tlsClient = (port: number, { user = 'ops', tls = true }: { user?: string | null; tls?: boolean } = {}) => {
    const client = new Redis({
      host: '127.0.0.1',
      port,
      ...(user ? { username: user, password: passwords.OPS_REDIS_PASSWORD } : {}),
      ...(tls ? { tls: { ca: certs.ca } } : {}),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1000,
    });
    client.on('error', () => {});
    return client;
  };
  const call = async (port: number, args: string[], options?: Parameters<typeof tlsClient>[1]) => {
    const client = tlsClient(port, options);
    try {
      await client.connect();
      return await client.call(args[0]!, ...args.slice(1));
    } finally {
      client.disconnect();
    }
  };
  const ports = { primary: 0, replica: 0, sentinel: 0 };
  const dirs = { primary: '', replica: '', sentinel: '' };

  beforeAll(async () => {
    certs = await createCertificates({ dir: join(work, 'tls'), hosts: ['localhost', '127.0.0.1'] });
    const shipped = await readFile(join(root, 'infra/redis/redis.conf'), 'utf8');
    for (const name of ['primary', 'replica', 'sentinel'] as const) {
      ports[name] = await freePort();
      dirs[name] = join(work, `tls-${name}`);
      await mkdir(dirs[name]);
    }
    await writeFile(join(work, 'templates', 'users.acl'), await readFile(join(root, 'infra/redis/users.acl'), 'utf8'));
    for (const name of ['primary', 'replica'] as const) {
      await writeFile(join(work, 'templates', `tls-${name}.conf`), shipped.replaceAll('/data', dirs[name]));
      runEntrypoint(
        dirs[name],
        [join(work, 'templates', `tls-${name}.conf`), '--tls-port', String(ports[name]), '--bind', '127.0.0.1', '-::1'],
        {
          ...tlsEnv(),
          ANNOUNCE_HOSTNAME: 'localhost',
          ANNOUNCE_PORT: String(ports[name]),
          SENTINELS: '',
          ...(name === 'replica' ? { REPLICA_OF: `localhost ${ports.primary}` } : {}),
        },
      );
      await waitFor(
        () =>
          call(ports[name], ['PING']).then(
            (r) => r === 'PONG',
            () => false,
          ),
        {
          timeoutMs: 10_000,
          description: `TLS ${name} up`,
        },
      );
    }
    await writeFile(
      join(work, 'templates', 'sentinel.conf'),
      (await readFile(join(root, 'infra/redis/sentinel.conf'), 'utf8'))
        .replaceAll('/data', dirs.sentinel)
        .replace('redis-primary 6379', `localhost ${ports.primary}`)
        .replace(/ 2$/m, ' 1'),
    );
    runEntrypoint(dirs.sentinel, ['sentinel', '--tls-port', String(ports.sentinel), '--bind', '127.0.0.1', '-::1'], {
      ...tlsEnv(),
      ANNOUNCE_HOSTNAME: '127.0.0.1',
      ANNOUNCE_PORT: String(ports.sentinel),
    });
  }, 60_000);

  it('serves TLS only: ops signs in over TLS, a plaintext client gets nothing', async () => {
    expect(await call(ports.primary, ['PING'])).toBe('PONG');
    await expect(call(ports.primary, ['PING'], { tls: false })).rejects.toThrow();
    const conf = await readFile(join(dirs.primary, 'storefront.conf'), 'utf8');
    expect(conf).toMatch(/^port 0$/m);
    expect(conf).toMatch(/^tls-replication yes$/m);
  });

  it('replicates over TLS, and the Sentinel (TLS too) monitors the primary and sees the replica', async () => {
    await waitFor(async () => /master_link_status:up/.test(String(await call(ports.replica, ['INFO', 'replication']))), {
      timeoutMs: 15_000,
      description: 'replica in sync over TLS',
    });
    await waitFor(
      async () => {
        const addr = (await call(ports.sentinel, ['SENTINEL', 'get-master-addr-by-name', 'storefront'], { user: null }).catch(
          () => null,
        )) as string[] | null;
        const replicas = (await call(ports.sentinel, ['SENTINEL', 'replicas', 'storefront'], { user: null }).catch(
          () => [],
        )) as unknown[];
        return addr?.[1] === String(ports.primary) && replicas.length === 1;
      },
      { timeoutMs: 15_000, description: 'the TLS Sentinel to see the primary and its replica' },
    );
    await expect(call(ports.sentinel, ['PING'], { user: null, tls: false })).rejects.toThrow();
  }, 40_000);

  it('refuses to start with REDIS_TLS=on and no certificates, naming the missing file', async () => {
    const data = join(work, 'tls-missing');
    await mkdir(data);
    const child = runEntrypoint(data, [join(work, 'templates', 'tls-primary.conf')], {
      REDIS_TLS: 'on',
      STOREFRONT_TLS: join(work, 'no-such-dir'),
    });
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(stderrOf(child)).toContain(`REDIS_TLS=on but ${join(work, 'no-such-dir')}/ca.crt is missing`);
  });
});
