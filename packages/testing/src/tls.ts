import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A CA and one certificate it signed (files and PEM text). */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM text of the CA certificate, the server (and client) certificate and its key. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** Remove the files. */
  remove(): Promise<void>;
}

/** Options for {@link createCertificates}. */
export interface CertificateOptions {
  /** Names and IPs the certificate is for (subject alternative names). Default 127.0.0.1 and localhost. */
  hosts?: readonly string[];
  /** Validity in days. Default 1. */
  days?: number;
  /** Directory to write to (created if missing). Default a fresh private temp dir. */
  dir?: string;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Make a CA and one certificate it signs for `hosts` (P-256) with openssl, in a private
 * directory: `ca.crt`, `redis.crt`, `redis.key`. The same certificate serves the Redis
 * servers and, when they ask for one, the clients. The CA's key is deleted once it has
 * signed (nobody can mint more; renewing means making a new set). Nothing goes on a command
 * line but paths and names.
 */
export const createCertificates = async (options: CertificateOptions = {}): Promise<TestCertificates> => {
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost'];
  const days = String(options.days ?? 1);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'storefront-tls-')));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) =>
    run('openssl', args).catch((error: NodeJS.ErrnoException & { stderr?: string }) => {
      throw new Error(
        error.code === 'ENOENT'
          ? 'openssl not found: install it (apt-get install -y openssl) to run the TLS tests'
          : `openssl ${args[0]} failed: ${error.stderr ?? error.message}`,
      );
    });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      days,
      '-subj',
      '/CN=Storefront CA',
    );
    await openssl('req', ...ec, '-keyout', file('redis.key'), '-out', file('redis.csr'), '-subj', `/CN=${hosts[0]}`);
    const names = hosts.map((h) => (IPV4.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    await writeFile(
      file('ext.cnf'),
      `subjectAltName=${names}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`,
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      file('redis.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('redis.crt'),
      '-days',
      days,
      '-extfile',
      file('ext.cnf'),
    );
    await Promise.all(['ca.key', 'ca.srl', 'redis.csr', 'ext.cnf'].map((n) => rm(file(n), { force: true })));
    const [ca, cert, key] = await Promise.all(['ca.crt', 'redis.crt', 'redis.key'].map((n) => readFile(file(n), 'utf8')));
    return {
      dir,
      caFile: file('ca.crt'),
      certFile: file('redis.crt'),
      keyFile: file('redis.key'),
      ca: ca!,
      cert: cert!,
      key: key!,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    if (!options.dir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
};

/** A throwaway CA and certificate for 127.0.0.1 / localhost, valid one day, in a temp dir (tests). */
export const createTestCertificates = (): Promise<TestCertificates> => createCertificates();

/** redis.conf lines for a TLS-only server (or Sentinel) on `port`: no plaintext port, replication over TLS. */
export const tlsConfig = (port: number, certs: TestCertificates): string[] => [
  'port 0',
  `tls-port ${port}`,
  `tls-cert-file ${certs.certFile}`,
  `tls-key-file ${certs.keyFile}`,
  `tls-ca-cert-file ${certs.caFile}`,
  // Clients need no certificate of their own (tests of `yes` pass one); replication and
  // Sentinel's connections run over TLS with this certificate.
  'tls-auth-clients optional',
  'tls-replication yes',
];
