// @ts-check
/**
 * What a compose stage reads from outside the repository, prepared when it is missing: the secret files
 * (copies the containers' users can read), a self-signed certificate (staging and prod terminate TLS at
 * nginx), the rendered nginx.conf, and an env file generated from the local secrets unless a `.env`
 * exists at the repository root.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterId } from '../local/components/kafka.mjs';
import { jwtKeyFiles, localSecret, pgPassword, webhookKeyFile } from '../local/config.mjs';
import { writeKeyValueFile } from '../local/lib/key-value-file.mjs';
import { run } from '../local/lib/proc.mjs';
import { colorState, nginxConf } from './deployment.mjs';

/** @typedef {import('./deployment.mjs').Deployment} Deployment */

/**
 * Secret files for the containers: the services run as unprivileged users (uid 1000, postgres), and
 * Compose mounts file secrets as they are on the host, so the copies it mounts must be readable to them.
 * Kept apart from the local stack's own (0600) files, under .local/compose/secrets.
 * @param {import('../local/config.mjs').StackConfig} cfg
 */
function composeSecrets(cfg) {
  jwtKeyFiles(cfg);
  webhookKeyFile(cfg);
  pgPassword(cfg);
  localSecret(cfg, 'pg-replication-password');
  localSecret(cfg, 'grafana-admin-password');
  localSecret(cfg, 'redis-password');
  // The folder is 0700 (no other host user gets in); the files 0644 so the containers' users can read the
  // bind-mounted copies. Only the files docker-compose.yml names as secrets.
  const dir = join(cfg.localDir, 'compose', 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const f of COMPOSE_SECRET_FILES) {
    copyFileSync(join(cfg.secretsDir, f), join(dir, f));
    chmodSync(join(dir, f), 0o644);
  }
  return dir;
}

const COMPOSE_SECRET_FILES = [
  'jwt-signing.jwk.json',
  'jwt-public.jwks.json',
  'webhook-secret.key',
  'pg-password',
  'pg-replication-password',
  'grafana-admin-password',
];

/** A self-signed certificate for localhost (staging and prod terminate TLS at nginx). */
function certificates(/** @type {import('../local/config.mjs').StackConfig} */ cfg) {
  const dir = join(cfg.localDir, 'certs');
  if (!existsSync(join(dir, 'tls.crt'))) {
    mkdirSync(dir, { recursive: true });
    run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'tls.key'),
      '-out',
      join(dir, 'tls.crt'),
    ]);
  }
  // The key stays 0600: nginx's master process reads it as root before dropping privileges.
  return dir;
}

/**
 * @param {import('../local/config.mjs').StackConfig} cfg @param {Deployment} d
 * @param {Record<string, string>} [overrides] values that win over the generated ones (ports, limits)
 */
export function prepareStage(cfg, d, overrides = {}, keepNginx = false) {
  const { stage } = d;
  const conf = d.nginx;
  // Rendered from the recorded live color (written in place: nginx's container mounts this very file),
  // except while a blue-green switch owns it (keepNginx).
  if (!keepNginx || !existsSync(conf)) writeFileSync(conf, nginxConf(stage, colorState(d).live));
  let envFile = join(cfg.root, '.env');
  // With overrides (the container suite's ports and limits) the generated file is used even beside a
  // developer's .env, so the suite runs the same everywhere.
  if (!existsSync(envFile) || Object.keys(overrides).length > 0) {
    const secrets = composeSecrets(cfg);
    const pg = pgPassword(cfg);
    const values = {
      DEPLOY_STAGE: stage,
      TAG: 'dev',
      LOG_LEVEL: 'info',
      PG_PASSWORD: pg,
      DATABASE_URL: `postgres://orders:${encodeURIComponent(pg)}@postgres:5432/orders`,
      SECRETS_DIR: secrets,
      CERTS_DIR: certificates(cfg),
      TRUSTED_PROXIES: '172.30.0.2',
      REDIS_PASSWORD: localSecret(cfg, 'redis-password'),
      KAFKA_CLUSTER_ID: localSecret(cfg, 'kafka-cluster-id', clusterId),
      // dev and staging run the simulator; prod must be told its real provider (prod.yml refuses to start
      // without PAYMENT_PROVIDER_URL).
      ...(stage === 'prod' ? {} : { PAYMENT_PROVIDER_URL: 'http://payment-provider:8070' }),
      ...overrides,
    };
    envFile = d.env;
    writeKeyValueFile(envFile, values, 0o600);
  }
  return { envFile, nginxConf: conf };
}
