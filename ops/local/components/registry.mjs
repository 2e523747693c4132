// @ts-check
/**
 * A schema registry with a Confluent-compatible API: Apicurio Registry 3.x, whose Quarkus app Maven
 * Central serves as an `all` tar.gz. It keeps its schemas in the local PostgreSQL (its own database),
 * so schema ids survive restarts: messages already in Kafka stay decodable.
 *
 * Apicurio 3.3 is compiled for Java 21. When no JDK that new is on the machine the registry is skipped
 * with a clear message and the services use the pinned schema-id table in contracts/avro (see
 * contracts/README.md); nothing else changes.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgPassword } from '../config.mjs';
import { httpOk } from '../lib/probes.mjs';
import { ensureAptPackages, log, run, runningPid, startDetached, stopProcess, waitFor, which } from '../lib/proc.mjs';

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/** @param {import('../config.mjs').StackConfig} cfg */
function paths(cfg) {
  const dist = join(cfg.cacheDir, `apicurio-registry-${cfg.registry.version}`);
  return { dist, jar: join(dist, 'quarkus-run.jar'), complete: join(dist, '.complete') };
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function subjectsUrl(cfg) {
  return `http://${cfg.host}:${cfg.registry.port}/apis/ccompat/v7/subjects`;
}

/** @param {string} javaHome @returns {number} */
function javaMajor(javaHome) {
  try {
    const release = readFileSync(join(javaHome, 'release'), 'utf8');
    const v = /JAVA_VERSION="(\d+)/.exec(release)?.[1];
    return v ? Number(v) : 0;
  } catch {
    return 0;
  }
}

/**
 * A JDK at least `min`: SCHEMA_REGISTRY_JAVA_HOME, then JAVA_HOME, then the JDKs under /usr/lib/jvm.
 * @param {number} min @returns {string | null} the java binary
 */
export function findJava(min) {
  const candidates = [process.env.SCHEMA_REGISTRY_JAVA_HOME, process.env.JAVA_HOME].filter((x) => typeof x === 'string' && x !== '');
  if (existsSync('/usr/lib/jvm')) candidates.push(...readdirSync('/usr/lib/jvm').map((d) => join('/usr/lib/jvm', d)));
  const found = candidates
    .map((home) => ({ home: /** @type {string} */ (home), major: javaMajor(/** @type {string} */ (home)) }))
    .filter((j) => j.major >= min && existsSync(join(j.home, 'bin/java')))
    .sort((a, b) => b.major - a.major)[0];
  return found ? join(found.home, 'bin/java') : null;
}

/**
 * Fetches the registry's distribution once, when it will be started here (a Java that can run it, no
 * registry answering already). Blocking (Maven, tar): call it before anything waits on a clock.
 * @param {import('../config.mjs').StackConfig} cfg
 */
export async function ensureDist(cfg) {
  const p = paths(cfg);
  if (existsSync(p.complete) || !findJava(cfg.registry.minJava)) return;
  if (runningPid(cfg, 'registry') === null && (await httpOk(subjectsUrl(cfg)).catch(() => false))) return;
  fetchDist(cfg);
}

/**
 * The registry's Quarkus app from Maven Central, fetched once into the cache (also for its container
 * image, which brings its own Java). Returns its folder.
 * @param {import('../config.mjs').StackConfig} cfg
 */
export function fetchDist(cfg) {
  const p = paths(cfg);
  if (existsSync(p.complete)) return p.dist;
  ensureAptPackages([{ pkg: 'maven', probe: () => which('mvn') !== null }]);
  log(`fetching Apicurio Registry ${cfg.registry.version} from Maven Central into ${p.dist}`);
  rmSync(p.dist, { recursive: true, force: true });
  const download = join(cfg.cacheDir, 'downloads');
  run('mvn', [
    '-q',
    '-B',
    `-Dmaven.repo.local=${join(cfg.cacheDir, 'm2')}`,
    `${DEPENDENCY_PLUGIN}:copy`,
    `-Dartifact=io.apicurio:apicurio-registry-app:${cfg.registry.version}:tar.gz:all`,
    `-DoutputDirectory=${download}`,
  ]);
  run('mkdir', ['-p', p.dist]);
  run('tar', ['xzf', join(download, `apicurio-registry-app-${cfg.registry.version}-all.tar.gz`), '-C', p.dist]);
  rmSync(download, { recursive: true, force: true });
  writeFileSync(p.complete, new Date().toISOString());
  return p.dist;
}

/**
 * @param {import('../config.mjs').StackConfig} cfg
 * @returns {Promise<{ available: true, ms: number } | { available: false, why: string }>}
 */
export async function up(cfg) {
  const url = subjectsUrl(cfg);
  if (runningPid(cfg, 'registry') === null && (await httpOk(url).catch(() => false))) {
    log(`a schema registry already answers at ${url}; using it`);
    return { available: true, ms: 0 };
  }
  const java = findJava(cfg.registry.minJava);
  if (!java) {
    return {
      available: false,
      why: `Apicurio Registry ${cfg.registry.version} needs Java ${cfg.registry.minJava}+ and none was found (set SCHEMA_REGISTRY_JAVA_HOME); services use the pinned schema-id table`,
    };
  }
  await ensureDist(cfg);
  let logPath = join(cfg.logDir, 'registry.log');
  if (runningPid(cfg, 'registry') === null) {
    const env = {
      ...process.env,
      QUARKUS_HTTP_HOST: cfg.host,
      QUARKUS_HTTP_PORT: String(cfg.registry.port),
      QUARKUS_HTTP_ACCESS_LOG_ENABLED: 'false',
      QUARKUS_LOG_LEVEL: 'WARN',
      APICURIO_STORAGE_KIND: 'sql',
      APICURIO_STORAGE_SQL_KIND: 'postgresql',
      APICURIO_DATASOURCE_URL: `jdbc:postgresql://${cfg.host}:${cfg.postgres.port}/${cfg.postgres.registryDatabase}`,
      APICURIO_DATASOURCE_USERNAME: cfg.postgres.user,
      APICURIO_DATASOURCE_PASSWORD: pgPassword(cfg),
    };
    ({ logPath } = startDetached(cfg, 'registry', java, [`-Xmx${cfg.registry.heapMb}m`, '-XX:+UseSerialGC', '-jar', paths(cfg).jar], {
      env,
    }));
  }
  const ms = await waitFor('schema registry', () => httpOk(url), {
    timeoutMs: 120_000,
    logPath,
    alive: () => runningPid(cfg, 'registry') !== null,
  });
  return { available: true, ms };
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function down(cfg) {
  return stopProcess(cfg, 'registry', 15_000);
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function status(cfg) {
  const ok = await httpOk(subjectsUrl(cfg)).catch(() => false);
  const pid = runningPid(cfg, 'registry');
  return `${ok ? 'answering' : 'not answering'} on port ${cfg.registry.port}${pid ? ` (pid ${pid})` : ''}`;
}
