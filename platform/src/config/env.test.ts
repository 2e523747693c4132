import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bool, ConfigError, int, list, oneOf, parseEnv, port, str, url } from './env';

describe('parseEnv', () => {
  const spec = {
    PORT: port({ default: 8080 }),
    DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'] }),
    BROKERS: list(),
    DEBUG: bool({ default: false }),
    LEVEL: oneOf(['info', 'debug'] as const, { default: 'info' }),
    SECRET: str({ secret: true, minLength: 16 }),
    BATCH: int({ default: 10, min: 1, max: 100 }),
  };

  it('parses, converts and applies defaults', () => {
    const env = parseEnv(spec, {
      DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
      BROKERS: ' a:9092, b:9092 ,',
      SECRET: 'x'.repeat(16),
      DEBUG: 'yes',
    });
    assert.equal(env.PORT, 8080);
    assert.deepEqual(env.BROKERS, ['a:9092', 'b:9092']);
    assert.equal(env.DEBUG, true);
    assert.equal(env.LEVEL, 'info');
    assert.equal(env.BATCH, 10);
    assert.ok(Object.isFrozen(env));
  });

  it('reports every problem at once, and never echoes a secret', () => {
    assert.throws(
      () => parseEnv(spec, { PORT: '99999', DATABASE_URL: 'mysql://x', LEVEL: 'loud', SECRET: 'hunter2', BATCH: '1.5' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'PLATFORM_INVALID_CONFIG');
        assert.deepEqual(
          err.problems.map((p) => p.split(' ')[0]),
          ['PORT', 'DATABASE_URL', 'BROKERS', 'LEVEL', 'SECRET', 'BATCH'],
        );
        assert.match(err.message, /PORT must be ≤ 65535 \(got "99999"\)/);
        assert.match(err.message, /BROKERS is required/);
        assert.ok(!err.message.includes('hunter2'), 'secret value leaked');
        return true;
      },
    );
  });
});
