import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throwaway CA and one certificate it signed for 127.0.0.1 / localhost (files and PEM text). */
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

/**
 * Make a CA and a certificate for `127.0.0.1` and `localhost` (P-256, valid one day) with
 * openssl, in a fresh private directory. The same certificate serves the Redis servers and,
 * when they ask for one, the clients. Keys never leave the directory's files; nothing goes
 * on a command line but paths and names.
 */
export const createTestCertificates = async (): Promise<TestCertificates> => {
  const dir = await mkdtemp(join(tmpdir(), 'storefront-tls-'));
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
      '1',
      '-subj',
      '/CN=Storefront test CA',
    );
    await openssl('req', ...ec, '-keyout', file('redis.key'), '-out', file('redis.csr'), '-subj', '/CN=127.0.0.1');
    await writeFile(
      file('ext.cnf'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
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
      '1',
      '-extfile',
      file('ext.cnf'),
    );
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
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
};

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
