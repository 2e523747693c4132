// @ts-check
/**
 * PostgreSQL from Debian's packages: installed if missing, the cluster started if stopped (through the
 * Debian wrapper, which runs the server as the postgres user even when we are root), the project's role
 * and databases created. Works where PostgreSQL already runs, and with whatever major version the
 * distribution ships.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pgPassword } from '../config.mjs';
import { asRoot, asUser, ensureAptPackages, log, run, waitFor, which } from '../lib/proc.mjs';

/** @returns {string | null} */
function installedMajor() {
  if (!existsSync('/usr/lib/postgresql')) return null;
  const majors = readdirSync('/usr/lib/postgresql')
    .filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/postgres`))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ?? null;
}

/** `pg_lsclusters` rows: version, name, port, status. */
function clusters() {
  const out = run('pg_lsclusters', ['-h'], { allowFail: true }).stdout;
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [version, name, port, status] = line.trim().split(/\s+/);
      return { version: String(version), name: String(name), port: Number(port), status: String(status) };
    });
}

/**
 * Runs psql as the postgres superuser over the local socket.
 * @param {number} port @param {string[]} args @param {string} [input]
 */
function superPsql(port, args, input) {
  const [bin, ...rest] = [...asUser('postgres'), 'psql', '-X', '-q', '-p', String(port), '-v', 'ON_ERROR_STOP=1', ...args];
  return run(/** @type {string} */ (bin), rest, { input });
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function up(cfg) {
  ensureAptPackages([{ pkg: 'postgresql', probe: () => installedMajor() !== null && which('pg_ctlcluster') !== null }]);
  const port = cfg.postgres.port;
  let cluster = clusters().find((c) => c.port === port);
  if (!cluster) {
    const existing = clusters();
    const major = installedMajor();
    if (existing.some((c) => c.name === 'main' && c.version === major)) {
      throw new Error(
        `the PostgreSQL cluster ${major}/main listens on port ${existing.find((c) => c.name === 'main')?.port}, not ${port}: set PG_PORT to that port`,
      );
    }
    log(`creating PostgreSQL cluster ${major}/main on port ${port}`);
    const [bin, ...rest] = [...asRoot(), 'pg_createcluster', String(major), 'main', '--port', String(port)];
    run(/** @type {string} */ (bin), rest);
    cluster = clusters().find((c) => c.port === port);
    if (!cluster) throw new Error('pg_createcluster did not produce a cluster');
  }
  const tuned = tune(cluster);
  if (cluster.status === 'online' && tuned) {
    // Reload takes the WAL and checkpoint settings now; shared_buffers waits for the next restart.
    log(`PostgreSQL settings for the platform written to ${TUNING_FILE}; reloading (shared_buffers applies at the next restart)`);
    const [bin, ...rest] = [...asRoot(), 'pg_ctlcluster', '--skip-systemctl-redirect', cluster.version, cluster.name, 'reload'];
    run(/** @type {string} */ (bin), rest);
  }
  if (cluster.status !== 'online') {
    log(`starting PostgreSQL ${cluster.version}/${cluster.name}`);
    const [bin, ...rest] = [...asRoot(), 'pg_ctlcluster', '--skip-systemctl-redirect', cluster.version, cluster.name, 'start'];
    run(/** @type {string} */ (bin), rest);
    // Remember that we started it, so `down` stops only a cluster this stack brought up.
    mkdirSync(cfg.runDir, { recursive: true });
    writeFileSync(startedMarker(cfg), `${cluster.version} ${cluster.name}`);
  }
  const took = await waitFor('PostgreSQL', async () => superPsql(port, ['-tAc', 'select 1']).stdout.trim() === '1', {
    timeoutMs: 30_000,
  });
  ensureRoleAndDatabases(cfg, [cfg.postgres.database, cfg.postgres.testDatabase, cfg.postgres.registryDatabase]);
  return took;
}

const TUNING_FILE = 'conf.d/orders-platform.conf';

/**
 * Settings for the write rate the pipeline makes (every order is ~40 row writes across its stages),
 * sized for this kind of machine (24 GB). At the defaults (128 MB of shared buffers, 1 GB of WAL between
 * checkpoints) the pipeline benchmark forced a checkpoint every minute or two, each followed by a burst
 * of full-page images in the WAL, and backends wrote out their own buffers. Durability is untouched:
 * fsync and synchronous commit stay on. Returns whether the file changed.
 * @param {{ version: string, name: string }} cluster
 */
function tune(cluster) {
  const file = `/etc/postgresql/${cluster.version}/${cluster.name}/${TUNING_FILE}`;
  const text = [
    "# Written by the order platform's local stack (ops/local/components/postgres.mjs); edits are overwritten.",
    'shared_buffers = 1GB',
    'max_wal_size = 8GB',
    'min_wal_size = 1GB',
    'checkpoint_timeout = 15min',
    'checkpoint_completion_target = 0.9',
    'wal_compression = lz4',
    '',
  ].join('\n');
  if (!existsSync(dirname(file))) return false;
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileSync(file, text);
  return true;
}

/**
 * Idempotent: the role exists with the current local password, each database exists and is owned by it.
 * @param {import('../config.mjs').StackConfig} cfg @param {string[]} databases
 */
export function ensureRoleAndDatabases(cfg, databases) {
  const { user, port } = { user: cfg.postgres.user, port: cfg.postgres.port };
  const vars = ['-v', `role=${user}`];
  // The password goes through stdin: command lines are visible to every local user in /proc.
  superPsql(
    port,
    vars,
    `\\set pw '${pgPassword(cfg)}'
     SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pw')
       WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \\gexec
     SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pw') \\gexec\n`,
  );
  for (const db of databases) {
    superPsql(
      port,
      [...vars, '-v', `db=${db}`],
      `SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
         WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec\n`,
    );
  }
}

/**
 * Drops and recreates one database (the test database before each `npm test`).
 * @param {import('../config.mjs').StackConfig} cfg @param {string} db
 */
export function recreateDatabase(cfg, db) {
  superPsql(cfg.postgres.port, ['-v', `db=${db}`], `SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \\gexec\n`);
  ensureRoleAndDatabases(cfg, [db]);
}

/**
 * Drops and recreates the project's databases (the cluster itself may hold other people's data).
 * @param {import('../config.mjs').StackConfig} cfg
 */
export function wipe(cfg) {
  const dbs = [cfg.postgres.database, cfg.postgres.testDatabase, cfg.postgres.registryDatabase];
  const running = clusters().find((c) => c.port === cfg.postgres.port && c.status === 'online');
  if (!running) {
    log('PostgreSQL is not running; its databases are wiped the next time reset runs with it up');
    return;
  }
  for (const db of dbs)
    superPsql(cfg.postgres.port, ['-v', `db=${db}`], `SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \\gexec\n`);
  ensureRoleAndDatabases(cfg, dbs);
}

/** @param {import('../config.mjs').StackConfig} cfg */
function startedMarker(cfg) {
  return join(cfg.runDir, 'postgres.started');
}

/**
 * The cluster belongs to the machine: `down` stops it only if this stack started it.
 * @param {import('../config.mjs').StackConfig} cfg
 */
export function down(cfg) {
  const c = clusters().find((x) => x.port === cfg.postgres.port);
  if (!c || c.status !== 'online' || !existsSync(startedMarker(cfg))) return false;
  const [bin, ...rest] = [...asRoot(), 'pg_ctlcluster', '--skip-systemctl-redirect', c.version, c.name, 'stop', '-m', 'fast'];
  run(/** @type {string} */ (bin), rest);
  rmSync(startedMarker(cfg), { force: true });
  return true;
}

export function status(/** @type {import('../config.mjs').StackConfig} */ cfg) {
  const c = clusters().find((x) => x.port === cfg.postgres.port);
  return c ? `${c.version}/${c.name} ${c.status} on port ${c.port}` : 'no cluster';
}

/**
 * A second cluster of the installed PostgreSQL, for the fault-injection suite, which stops it with
 * `-m immediate` (no checkpoint: the restart runs crash recovery) while nothing else depends on it.
 * Created on first use, started if stopped; the project's role and `database` exist in it.
 * @param {import('../config.mjs').StackConfig} cfg @param {string} name @param {number} port @param {string} database
 */
export async function upNamed(cfg, name, port, database) {
  ensureAptPackages([{ pkg: 'postgresql', probe: () => installedMajor() !== null && which('pg_ctlcluster') !== null }]);
  const major = String(installedMajor());
  let cluster = clusters().find((c) => c.name === name && c.version === major);
  if (!cluster) {
    log(`creating PostgreSQL cluster ${major}/${name} on port ${port}`);
    const [bin, ...rest] = [...asRoot(), 'pg_createcluster', major, name, '--port', String(port)];
    run(/** @type {string} */ (bin), rest);
    cluster = clusters().find((c) => c.name === name && c.version === major);
    if (!cluster) throw new Error('pg_createcluster did not produce a cluster');
  }
  if (cluster.port !== port) throw new Error(`the PostgreSQL cluster ${major}/${name} listens on port ${cluster.port}, not ${port}`);
  if (cluster.status !== 'online') ctlNamed(name, 'start');
  await waitFor(`PostgreSQL ${name}`, async () => superPsql(port, ['-tAc', 'select 1']).stdout.trim() === '1', { timeoutMs: 30_000 });
  ensureRoleAndDatabases({ ...cfg, postgres: { ...cfg.postgres, port } }, [database]);
}

/**
 * pg_ctlcluster on a named cluster of the installed major: `stop` takes a mode (`immediate`: a crash).
 * @param {string} name @param {'start' | 'stop'} action @param {'fast' | 'immediate'} [mode]
 */
export function ctlNamed(name, action, mode = 'fast') {
  const major = String(installedMajor());
  const extra = action === 'stop' ? ['-m', mode] : [];
  const [bin, ...rest] = [...asRoot(), 'pg_ctlcluster', '--skip-systemctl-redirect', major, name, action, ...extra];
  run(/** @type {string} */ (bin), rest);
}

/** @param {string} name */
export function namedOnline(name) {
  const major = String(installedMajor());
  return clusters().some((c) => c.name === name && c.version === major && c.status === 'online');
}

/**
 * Drops and recreates one database of a named cluster.
 * @param {import('../config.mjs').StackConfig} cfg @param {number} port @param {string} db
 */
export function recreateNamedDatabase(cfg, port, db) {
  superPsql(port, ['-v', `db=${db}`], `SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \\gexec\n`);
  ensureRoleAndDatabases({ ...cfg, postgres: { ...cfg.postgres, port } }, [db]);
}
