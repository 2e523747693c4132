/** What a ws-storm run returns (`WsStormResult`): the summary's shape, and the summary as text. */
import type { LatencySummary, Phase, WsSecond } from './stats';

export interface PhaseUsage {
  phase: Phase;
  seconds: number;
  /** Machine-wide CPU busy, % of one core (200 % = both cores of this machine); undefined off Linux. */
  machineCpuPct?: number;
  /** Per client process, % of one core. */
  clientCpuPct: number[];
  /** Per edge (same order as summary.edges), % of one core; undefined when it was restarted or did not answer. */
  edgeCpuPct: (number | undefined)[];
  parentCpuPct: number;
}

export interface WsStormSummary {
  /** The headline figures, flat (the report's targets read these). */
  opened: number;
  deliveryP50Ms: number | null;
  deliveryP99Ms: number | null;
  /** Sockets the wave dropped, and how many of them resumed (resync: see wave.resync); null without a wave. */
  resumeExpected: number | null;
  resumed: number | null;
  lost: number;
  target: {
    gatewayUrl: string;
    namespace: string;
    connections: number;
    users: number;
    socketsPerUser: number;
    clientProcesses: number;
    publishRate: number;
    durationS: number;
    short: boolean;
    tokens: 'dev-token' | 'file';
    /** Times every user's token was minted again, and `auth` frames the edges accepted for them. */
    tokenRefreshes: number;
    socketsReauthenticated: number;
  };
  /** Sockets: authenticated at the end (its /metrics); memory: at the end and the peak seen (its own high-water mark when local). */
  edges: {
    url: string;
    started: boolean;
    restarted: boolean;
    pid?: number;
    sockets?: number;
    /** Updates its sockets received (live and replayed). */
    delivered: number;
    rssMiB?: number;
    peakRssMiB?: number;
  }[];
  connect: { peakOpen: number; allOpen: boolean; seconds: number; attempts: number };
  /**
   * Latency: the steady phase's live deliveries. Counts: the whole run's updates (after the seed), and
   * deliveries owed (each update once per socket of its user) against received (each sequence once per
   * socket, live or replayed); equal when nothing was lost and every socket was open to the end.
   */
  delivery: LatencySummary & { published: number; expected: number; delivered: number; publishFailures: number };
  wave:
    | { skipped: string }
    | {
        edge: string;
        dropped: number;
        drainMs?: number;
        edgeRestartMs?: number;
        /** From SIGTERM until every dropped socket was open again. */
        allOpenMs: number | null;
        /** …and had its `resumed` (or `resync`). */
        allResumedMs: number | null;
        resumed: number;
        resync: number;
        /** Updates replayed by resumes, and their publish → receive latency (the outage included). */
        replay: LatencySummary;
        /** Live deliveries during the wave. */
        live: LatencySummary;
        completed: boolean;
      };
  /** Every open socket's sequences against what was published to its user, after publishing stopped (all 0 when interrupted: not compared). */
  loss: { checked: number; lost: number; socketsWithLoss: number; resynced: number; notOpen: number; repeats: number };
  /** Stopped early by SIGINT/SIGTERM or the caller's signal: the figures are what was measured until then. */
  interrupted: boolean;
  errors: {
    total: number;
    byKind: Record<string, number>;
    closesByCode: Record<string, number>;
    /** Reconnection attempts refused while their edge was down, retried (not errors). */
    reconnectRetries: number;
  };
  processes: {
    clients: { pid: number; sockets: number; peakRssMiB: number; cpuSeconds: number }[];
    parent: { rssMiB: number; cpuSeconds: number };
  };
  usage: PhaseUsage[];
  /** Per phase, the most any client process's event loop lagged (ms): the load generator's own share of the latencies. */
  clientLagMs: Partial<Record<Phase, number>>;
  cores: number;
  seconds: number;
}

export interface WsStormResult {
  summary: WsStormSummary;
  perSecond: WsSecond[];
}

/** The summary as a few lines of text (for a terminal or a report). */
export function formatWsStorm({ summary: s }: WsStormResult): string {
  const lat = (l: LatencySummary) => `p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, p99.9 ${l.p999Ms} ms, max ${l.maxMs} ms (${l.count} samples)`;
  const out: string[] = [];
  out.push(
    `ws-storm: ${s.target.connections.toLocaleString('en')} sockets (${s.target.users.toLocaleString('en')} users × ${s.target.socketsPerUser}) over ${s.edges.length} edges from ${s.target.clientProcesses} client processes; ${s.target.publishRate}/s for ${s.target.durationS} s`,
  );
  out.push(
    `connect: ${s.connect.peakOpen.toLocaleString('en')} open (peak)${s.connect.allOpen ? ', all' : ', NOT all'} in ${s.connect.seconds} s, ${s.connect.attempts.toLocaleString('en')} handshakes`,
  );
  out.push(
    `delivery: ${s.delivery.published.toLocaleString('en')} published (${s.delivery.publishFailures} failed), ${s.delivery.delivered.toLocaleString('en')} of ${s.delivery.expected.toLocaleString('en')} owed deliveries received; steady live latency ${lat(s.delivery)}`,
  );
  if ('skipped' in s.wave) out.push(`wave: skipped (${s.wave.skipped})`);
  else {
    const w = s.wave;
    out.push(
      `wave: ${w.edge} restarted (drain ${w.drainMs ?? '?'} ms, back in ${w.edgeRestartMs ?? '?'} ms); ${w.dropped.toLocaleString('en')} dropped; all open again after ${w.allOpenMs ?? 'NOT'} ms, all resumed after ${w.allResumedMs ?? 'NOT'} ms; ${w.resumed} resumed, ${w.resync} resync`,
    );
    out.push(`  replayed updates: ${lat(w.replay)}; live during the wave: ${lat(w.live)}`);
  }
  if (s.interrupted) out.push('INTERRUPTED: the figures are those measured until then; sequences not compared');
  if (!s.interrupted)
    out.push(
      `loss: ${s.loss.lost} updates lost (on ${s.loss.socketsWithLoss} sockets); ${s.loss.checked.toLocaleString('en')} sockets checked, ${s.loss.resynced} resynced, ${s.loss.notOpen} not open; ${s.loss.repeats} repeats`,
    );
  out.push(
    `errors: ${s.errors.total} ${JSON.stringify(s.errors.byKind)}; closes ${JSON.stringify(s.errors.closesByCode)}; reconnections retried ${s.errors.reconnectRetries}`,
  );
  for (const e of s.edges)
    out.push(
      `edge ${e.url}${e.started ? ' (started by the run)' : ''}${e.restarted ? ' (restarted)' : ''}: ${e.sockets ?? '?'} sockets at the end, RSS ${e.rssMiB ?? '?'} MiB (peak ${e.peakRssMiB ?? '?'} MiB)`,
    );
  for (const c of s.processes.clients)
    out.push(`client pid ${c.pid}: ${c.sockets} sockets, peak RSS ${c.peakRssMiB} MiB, CPU ${c.cpuSeconds} s`);
  out.push(`parent: RSS ${s.processes.parent.rssMiB} MiB, CPU ${s.processes.parent.cpuSeconds} s`);
  for (const u of s.usage)
    out.push(
      `CPU ${u.phase} (${u.seconds} s): machine ${u.machineCpuPct ?? '?'} % of one core (${s.cores} cores); clients ${u.clientCpuPct.join(' / ')} %; edges ${u.edgeCpuPct.map((x) => x ?? '–').join(' / ')} %; parent ${u.parentCpuPct} %`,
    );
  out.push(
    `client event-loop lag, max per phase: ${Object.entries(s.clientLagMs)
      .map(([p, ms]) => `${p} ${ms} ms`)
      .join(', ')}`,
  );
  out.push(`took ${s.seconds} s`);
  return out.join('\n');
}
