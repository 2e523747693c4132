// @ts-check
/**
 * Apache Kafka in KRaft mode (one node that is both broker and controller), from Maven Central jars:
 * fetched once into the git-ignored cache by Maven's dependency plugin, storage formatted once, bounded
 * heap, loopback only. No Docker and no download from outside the registries this machine reaches.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeKeyValueFile } from '../lib/key-value-file.mjs';
import { kafkaApiVersions } from '../lib/probes.mjs';
import { ensureAptPackages, log, run, runningPid, startDetached, stopProcess, waitFor, which } from '../lib/proc.mjs';

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/** @param {import('../config.mjs').StackConfig} cfg */
function paths(cfg) {
  const dist = join(cfg.cacheDir, `kafka-${cfg.kafka.version}`);
  return {
    dist,
    libs: join(dist, 'libs'),
    complete: join(dist, '.complete'),
    home: join(cfg.localDir, 'kafka'),
    properties: join(cfg.localDir, 'kafka', 'server.properties'),
    data: join(cfg.dataDir, 'kafka'),
  };
}

/** Fetches the broker's jars once; a partial fetch (no `.complete`) is redone. Returns their folder. */
export function ensureJars(/** @type {import('../config.mjs').StackConfig} */ cfg) {
  const p = paths(cfg);
  if (existsSync(p.complete)) return p.libs;
  ensureAptPackages([
    { pkg: 'openjdk-17-jre-headless', probe: () => which('java') !== null },
    { pkg: 'maven', probe: () => which('mvn') !== null },
  ]);
  log(`fetching Kafka ${cfg.kafka.version} jars from Maven Central into ${p.dist}`);
  rmSync(p.dist, { recursive: true, force: true });
  run('mvn', [
    '-q',
    '-B',
    '-f',
    join(cfg.root, 'ops/local/kafka/pom.xml'),
    `-Dmaven.repo.local=${join(cfg.cacheDir, 'm2')}`,
    `-Dkafka.version=${cfg.kafka.version}`,
    `${DEPENDENCY_PLUGIN}:copy-dependencies`,
    `-DoutputDirectory=${p.libs}`,
    '-DincludeScope=runtime',
  ]);
  writeFileSync(p.complete, new Date().toISOString());
  return p.libs;
}

/** What every local broker has in common: this single node and the fault suite's cluster (kafka-cluster.mjs). */
export const SHARED_SETTINGS = {
  'num.partitions': '3',
  // Topics are created explicitly (ops/kafka/topics.ts) with the partitioning the design wants.
  'auto.create.topics.enable': 'false',
  'offsets.topic.num.partitions': '10',
  // Consumers join a group without the 3 s wait meant for rolling restarts of many members.
  'group.initial.rebalance.delay.ms': '0',
  'log.retention.hours': '24',
  // Expired segments are looked for every minute (the default, 5, lets short retentions overshoot).
  'log.retention.check.interval.ms': '60000',
  // A group's committed offsets outlive the topics' messages (7 days): a group whose offsets expired
  // then finds only messages it never processed, which is what lets retention drop dedup records once
  // the groups have committed past them (gateway/src/retention.ts).
  'offsets.retention.minutes': String(30 * 24 * 60),
  'log.segment.bytes': String(64 * 1024 * 1024),
};

/**
 * Replication of the broker's own topics (consumer offsets, transaction state, share-group state): the
 * same five settings for the single node and the chaos cluster, only the numbers differ.
 * @param {number} replicas @param {number} minIsr
 */
export function internalTopicSettings(replicas, minIsr) {
  return {
    'offsets.topic.replication.factor': String(replicas),
    'transaction.state.log.replication.factor': String(replicas),
    'transaction.state.log.min.isr': String(minIsr),
    'share.coordinator.state.topic.replication.factor': String(replicas),
    'share.coordinator.state.topic.min.isr': String(minIsr),
  };
}

/** Writes a broker's `server.properties`. @param {string} file @param {Record<string, string>} props */
export function writeProperties(file, props) {
  writeKeyValueFile(file, props);
}

/** @param {import('../config.mjs').StackConfig} cfg */
function writeNodeProperties(cfg) {
  const p = paths(cfg);
  const { host } = cfg;
  const { port, controllerPort } = cfg.kafka;
  mkdirSync(p.home, { recursive: true });
  const props = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@${host}:${controllerPort}`,
    listeners: `PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${host}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': p.data,
    // One node: internal topics cannot be replicated.
    ...internalTopicSettings(1, 1),
    ...SHARED_SETTINGS,
  };
  writeProperties(p.properties, props);
  return p.properties;
}

/**
 * A Kafka cluster id: 16 random bytes, base64url without padding (what `StorageTool random-uuid` prints).
 * Never one starting with `-`, as Kafka's own `Uuid.randomUuid()` avoids: the storage tool's argument parser
 * reads `-t -abc…` as an option and refuses to format (one fresh clone in 64 failed to start its stack).
 */
export function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** @param {import('../config.mjs').StackConfig} cfg @param {string} mainClass @param {string[]} args */
function javaArgs(cfg, mainClass, ...args) {
  return kafkaJavaArgs(cfg, cfg.kafka.heapMb, mainClass, ...args);
}

/**
 * The JVM command line for one of Kafka's main classes from the cached jars, with a bounded heap.
 * @param {import('../config.mjs').StackConfig} cfg @param {number} heapMb @param {string} mainClass @param {string[]} args
 */
export function kafkaJavaArgs(cfg, heapMb, mainClass, ...args) {
  const p = paths(cfg);
  return [
    `-Xms${Math.min(256, heapMb)}m`,
    `-Xmx${heapMb}m`,
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(cfg.root, 'ops/local/kafka/log4j2.properties')}`,
    '-cp',
    `${p.libs}/*`,
    mainClass,
    ...args,
  ];
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function up(cfg) {
  const { host } = cfg;
  const { port } = cfg.kafka;
  if (runningPid(cfg, 'kafka') === null && (await kafkaApiVersions(host, port).catch(() => false))) {
    log(`a Kafka broker already answers on ${host}:${port}; using it`);
    return 0;
  }
  ensureJars(cfg);
  const p = paths(cfg);
  const properties = writeNodeProperties(cfg);
  if (!existsSync(join(p.data, 'meta.properties'))) {
    const id = clusterId();
    log(`formatting Kafka storage (cluster ${id})`);
    mkdirSync(p.data, { recursive: true });
    run('java', javaArgs(cfg, 'kafka.tools.StorageTool', 'format', '-t', id, '-c', properties, '--ignore-formatted'));
  }
  let logPath = join(cfg.logDir, 'kafka.log');
  if (runningPid(cfg, 'kafka') === null) {
    ({ logPath } = startDetached(cfg, 'kafka', 'java', javaArgs(cfg, 'kafka.Kafka', properties)));
  }
  return waitFor('Kafka', () => kafkaApiVersions(host, port), {
    timeoutMs: 90_000,
    logPath,
    alive: () => runningPid(cfg, 'kafka') !== null,
  });
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function down(cfg) {
  // A controlled shutdown moves leadership and flushes logs; give it time before SIGKILL.
  return stopProcess(cfg, 'kafka', 30_000);
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function wipe(cfg) {
  rmSync(paths(cfg).data, { recursive: true, force: true });
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function status(cfg) {
  const ok = await kafkaApiVersions(cfg.host, cfg.kafka.port).catch(() => false);
  const pid = runningPid(cfg, 'kafka');
  const meta = join(paths(cfg).data, 'meta.properties');
  const cluster = existsSync(meta) ? /cluster\.id=(.*)/.exec(readFileSync(meta, 'utf8'))?.[1] : undefined;
  return `${ok ? 'answering' : 'not answering'} on port ${cfg.kafka.port}${pid ? ` (pid ${pid})` : ''}${cluster ? `, cluster ${cluster}` : ''}`;
}
