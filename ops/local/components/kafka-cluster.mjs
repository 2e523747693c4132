// @ts-check
/**
 * A 3-node Kafka cluster (KRaft, every node broker and controller) on loopback for the fault-injection
 * suite: replication 3 with `min.insync.replicas=2` for every topic, the internal ones included, so a
 * lost broker loses no acknowledged message and the cluster goes on with two. `npm start` keeps its
 * single broker (ops/local/components/kafka.mjs); this one runs only when the chaos suite asks.
 *
 * Node i listens for clients on base+10i but advertises base+10i+5: the port of its Toxiproxy proxy, so
 * every client connection (services, tests) runs through the fault proxy, while the brokers talk to each
 * other (base+10i+1) and to the controllers (base+10i+2) directly.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaApiVersions } from '../lib/probes.mjs';
import { log, run, runningPid, startDetached, stopProcess, waitFor } from '../lib/proc.mjs';
import { clusterId, ensureJars, internalTopicSettings, kafkaJavaArgs, SHARED_SETTINGS, writeProperties } from './kafka.mjs';

export const NODES = 3;

/** @param {import('../config.mjs').StackConfig} cfg @param {number} i */
export function nodePorts(cfg, i) {
  const base = cfg.chaos.kafkaBase + 10 * i;
  return { client: base, internal: base + 1, controller: base + 2, proxy: base + cfg.chaos.proxyOffset };
}

/** @param {number} i */
export const nodeName = (i) => `chaos-kafka-${i + 1}`;

/** @param {import('../config.mjs').StackConfig} cfg @param {number} i */
function nodePaths(cfg, i) {
  const home = join(cfg.localDir, 'chaos', nodeName(i));
  return { home, properties: join(home, 'server.properties'), data: join(cfg.dataDir, 'chaos', nodeName(i)) };
}

/** @param {import('../config.mjs').StackConfig} cfg @param {number} i */
function writeNodeProperties(cfg, i) {
  const { host } = cfg;
  const p = nodePaths(cfg, i);
  const ports = nodePorts(cfg, i);
  const voters = Array.from({ length: NODES }, (_, n) => `${n + 1}@${host}:${nodePorts(cfg, n).controller}`).join(',');
  mkdirSync(p.home, { recursive: true });
  const props = {
    'process.roles': 'broker,controller',
    'node.id': String(i + 1),
    'controller.quorum.voters': voters,
    listeners: `CLIENT://${host}:${ports.client},INTERNAL://${host}:${ports.internal},CONTROLLER://${host}:${ports.controller}`,
    'advertised.listeners': `CLIENT://${host}:${ports.proxy},INTERNAL://${host}:${ports.internal}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'INTERNAL',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,CLIENT:PLAINTEXT',
    'log.dirs': p.data,
    'default.replication.factor': '3',
    'min.insync.replicas': '2',
    'unclean.leader.election.enable': 'false',
    ...internalTopicSettings(3, 2),
    // A broker that stops heartbeating is fenced (its partitions get new leaders) after 4 s instead of 9 s,
    // so the suite's broker kills (6-10 s) exercise the failover rather than end before it starts.
    'broker.session.timeout.ms': '4000',
    'broker.heartbeat.interval.ms': '1000',
    ...SHARED_SETTINGS,
  };
  writeProperties(p.properties, props);
  return p.properties;
}

/**
 * Formats (once, one cluster id for all nodes) and starts the nodes that are not running. Clients can
 * reach them only once the proxies exist: `ready` probes the nodes' own client ports.
 * @param {import('../config.mjs').StackConfig} cfg
 */
export async function up(cfg) {
  ensureJars(cfg);
  const idFile = join(cfg.dataDir, 'chaos', 'kafka-cluster.id');
  mkdirSync(join(cfg.dataDir, 'chaos'), { recursive: true });
  if (!existsSync(idFile)) writeFileSync(idFile, clusterId());
  const id = readFileSync(idFile, 'utf8').trim();
  for (let i = 0; i < NODES; i++) {
    const properties = writeNodeProperties(cfg, i);
    const p = nodePaths(cfg, i);
    if (!existsSync(join(p.data, 'meta.properties'))) {
      mkdirSync(p.data, { recursive: true });
      run('java', kafkaJavaArgs(cfg, 128, 'kafka.tools.StorageTool', 'format', '-t', id, '-c', properties, '--ignore-formatted'));
    }
  }
  const started = Date.now();
  for (let i = 0; i < NODES; i++) startNode(cfg, i);
  await Promise.all(Array.from({ length: NODES }, (_, i) => ready(cfg, i)));
  return Date.now() - started;
}

/** Starts node i unless it runs (also how a killed node comes back). @param {import('../config.mjs').StackConfig} cfg @param {number} i */
export function startNode(cfg, i) {
  if (runningPid(cfg, nodeName(i)) !== null) return runningPid(cfg, nodeName(i));
  const { properties } = nodePaths(cfg, i);
  return startDetached(cfg, nodeName(i), 'java', kafkaJavaArgs(cfg, cfg.chaos.heapMb, 'kafka.Kafka', properties)).pid;
}

/** @param {import('../config.mjs').StackConfig} cfg @param {number} i */
export function ready(cfg, i) {
  return waitFor(nodeName(i), () => kafkaApiVersions(cfg.host, nodePorts(cfg, i).client), {
    timeoutMs: 90_000,
    logPath: join(cfg.logDir, `${nodeName(i)}.log`),
    alive: () => runningPid(cfg, nodeName(i)) !== null,
  });
}

/** @param {import('../config.mjs').StackConfig} cfg */
export async function down(cfg) {
  const stopped = await Promise.all(Array.from({ length: NODES }, (_, i) => stopProcess(cfg, nodeName(i), 30_000)));
  if (stopped.some(Boolean)) log('stopped the chaos Kafka cluster');
  return stopped.some(Boolean);
}

/** @param {import('../config.mjs').StackConfig} cfg */
export function wipe(cfg) {
  for (let i = 0; i < NODES; i++) rmSync(nodePaths(cfg, i).data, { recursive: true, force: true });
  rmSync(join(cfg.dataDir, 'chaos', 'kafka-cluster.id'), { force: true });
}
