/** The shared fragments: the deployment stage's rename, and that a fragment spreads into a spec as declared. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseEnv } from './env';
import { commonSpec, kafkaSpec, redisSpec } from './fragments';

describe('DEPLOY_STAGE (formerly STAGE)', () => {
  it('defaults to prod and reads DEPLOY_STAGE', () => {
    assert.equal(parseEnv(commonSpec, {}).DEPLOY_STAGE, 'prod');
    assert.equal(parseEnv(commonSpec, { DEPLOY_STAGE: 'dev' }).DEPLOY_STAGE, 'dev');
  });

  it('stops start-up when only the old STAGE is set, instead of running as prod', () => {
    assert.throws(
      () => parseEnv(commonSpec, { STAGE: 'dev' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, ['STAGE was renamed DEPLOY_STAGE: set DEPLOY_STAGE instead (STAGE is no longer read)']);
        return true;
      },
    );
  });

  it('accepts the old name beside the new one only when both say the same', () => {
    assert.equal(parseEnv(commonSpec, { STAGE: 'staging', DEPLOY_STAGE: 'staging' }).DEPLOY_STAGE, 'staging');
  });

  it('stops start-up when the old and the new name disagree (an image default must not win silently)', () => {
    assert.throws(
      () => parseEnv(commonSpec, { STAGE: 'staging', DEPLOY_STAGE: 'prod' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'STAGE was renamed DEPLOY_STAGE, and the two disagree (STAGE="staging", DEPLOY_STAGE="prod"): remove STAGE',
        ]);
        return true;
      },
    );
  });
});

describe('fragments', () => {
  it('spread into a service spec with their defaults', () => {
    const env = parseEnv({ ...redisSpec, ...kafkaSpec('orders-test') }, {});
    assert.equal(env.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.deepEqual(env.REDIS_CLUSTER_NODES, []);
    assert.deepEqual(env.KAFKA_BROKERS, ['127.0.0.1:9092']);
    assert.equal(env.KAFKA_CLIENT_ID, 'orders-test');
    assert.equal(env.SCHEMA_REGISTRY_URL, '');
  });
});
