import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * Fill `${NAME}` placeholders in an ACL template (infra/redis/users.acl) from `vars`,
 * dropping comment and blank lines (Redis' ACL file format has no comments). A
 * placeholder without a value is an error, so no user is ever created with an empty or
 * literal password.
 */
export const renderAcl = (template: string, vars: Record<string, string | undefined>): string =>
  template
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
      const value = vars[name];
      if (!value) throw new Error(`ACL template needs ${name}`);
      if (/\s/.test(value)) throw new Error(`${name} must not contain whitespace`);
      return value;
    });

/** Read and render an ACL template file. */
export const renderAclFile = async (path: string, vars: Record<string, string | undefined>): Promise<string> =>
  renderAcl(await readFile(path, 'utf8'), vars);

/** A fresh random password for every `${NAME}` placeholder in an ACL template. */
export const randomAclPasswords = (template: string): Record<string, string> =>
  Object.fromEntries([...template.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map(([, name]) => [name!, randomBytes(12).toString('hex')]));
