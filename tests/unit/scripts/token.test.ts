import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTokenArgs } from '../../../scripts/local/token.ts';

describe('Script: npm run token', () => {
  it('takes a customer name, one hour by default, the data directory of npm start (LOCAL_DATA_DIR or .local)', () => {
    // Assess
    expect(parseTokenArgs(['alice'], {})).toEqual({ customer: 'alice', expiresInSeconds: 3600, dataDir: resolve('.local') });
    expect(parseTokenArgs(['bob', '--expires-in', '600', '--scope', 'orders/read'], { LOCAL_DATA_DIR: '/tmp/x' })).toEqual({ customer: 'bob', expiresInSeconds: 600, scope: 'orders/read', dataDir: '/tmp/x' });
  });

  it('refuses a missing or unprintable name, two names, a validity that is not 1-86400 whole seconds, naming the argument and the usage', () => {
    // Assess
    for (const argv of [[], ['a b'], ['alice', 'bob'], ['alice', '--expires-in', '0'], ['alice', '--expires-in', '1.5'], ['alice', '--expires-in', '86401'], ['alice', '--nope']]) {
      expect(() => parseTokenArgs(argv, {}), JSON.stringify(argv)).toThrow(/usage: npm run -s token --/);
    }
    expect(() => parseTokenArgs(['alice', '--expires-in', '0'], {})).toThrow('--expires-in');
  });
});
