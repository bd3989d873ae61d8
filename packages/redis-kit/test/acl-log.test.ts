import { describe, expect, it } from 'vitest';
import { parseAclLog } from '../src/acl-audit/acl-log.js';

describe('parseAclLog', () => {
  it('reads ACL LOG field/value arrays into entries (Redis 7.0 fields; 7.2 adds ids and timestamps)', () => {
    const reply = [
      [
        'count',
        3,
        'reason',
        'key',
        'context',
        'toplevel',
        'object',
        'order:x',
        'username',
        'catalog',
        'age-seconds',
        '1.5',
        'client-info',
        'id=4 addr=127.0.0.1:36112 laddr=127.0.0.1:6499 fd=8 name= cmd=get user=catalog',
        'entry-id',
        7,
      ],
      [
        'count',
        1,
        'reason',
        'auth',
        'context',
        'toplevel',
        'object',
        'AUTH',
        'username',
        'order',
        'age-seconds',
        '0.01',
        'client-info',
        '',
      ],
    ];
    expect(parseAclLog(reply, '127.0.0.1:7000')).toEqual([
      {
        node: '127.0.0.1:7000',
        username: 'catalog',
        reason: 'key',
        context: 'toplevel',
        object: 'order:x',
        count: 3,
        ageSeconds: 1.5,
        clientAddress: '127.0.0.1:36112',
      },
      {
        node: '127.0.0.1:7000',
        username: 'order',
        reason: 'auth',
        context: 'toplevel',
        object: 'AUTH',
        count: 1,
        ageSeconds: 0.01,
        clientAddress: null,
      },
    ]);
    expect(parseAclLog('not an array', 'x')).toEqual([]);
  });
});
