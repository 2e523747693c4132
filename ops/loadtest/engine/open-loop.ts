/**
 * Open-loop load: requests leave on a schedule set by the offered rate alone, never by the answers. The
 * schedule integrates the rate profile (constant, or flash-sale's ramp), so request k is due when the
 * expected count reaches k; its latency counts from that due time, so a stalled server shows as latency
 * and not as fewer requests (no coordinated omission). A request due while `maxInFlight` are outstanding is
 * dropped and counted as such: the client never queues in secret.
 *
 * Why not autocannon's `overallRate`: autocannon is closed-loop per connection (a connection sends its next
 * request only after the last answer), and its rate is a per-second budget spent at once: measured here
 * (Bun, 100 ms server), 100/s offered on 5 connections achieved 48/s, and on a fast server all 100 requests
 * of each second arrived in its first 100 ms. It stays for the closed-loop attackers (hammer.ts).
 */
import type { HttpClient, HttpRequest, HttpResult } from './http';
import type { Recorder } from './recorder';

export interface Pick {
  cls: string;
  req: HttpRequest;
  /** Called with the answer (after it is recorded). */
  onAnswer?: (res: Extract<HttpResult, { ok: true }>) => void;
}

export interface OpenLoopOptions {
  client: HttpClient;
  recorder: Recorder;
  durationS: number;
  /** Requests per second at `t` seconds into the run. */
  rateAt: (t: number) => number;
  /** The request due at `t` seconds (chosen when due: the mix, the ids known so far). */
  pick: (t: number) => Pick;
  maxInFlight: number;
  signal?: AbortSignal;
}

export async function runOpenLoop(o: OpenLoopOptions): Promise<void> {
  const { recorder } = o;
  const pending = new Set<Promise<void>>();
  let inFlight = 0;
  let due = 0; // expected arrivals so far (the integral of the rate)
  let next = 0; // index of the next arrival
  let prevT = 0;

  const emit = (tk: number) => {
    const second = Math.floor(tk);
    const scheduledAt = recorder.startedAt + tk * 1000;
    const pick = o.pick(tk);
    recorder.offer(pick.cls, second);
    if (inFlight >= o.maxInFlight) {
      recorder.drop(pick.cls, second);
      return;
    }
    inFlight++;
    recorder.send(pick.cls, second, performance.now() - scheduledAt);
    const p = o.client.send(pick.req).then((res) => {
      inFlight--;
      if (res.ok) {
        recorder.answer(pick.cls, second, res.status, performance.now() - scheduledAt);
        pick.onAnswer?.(res);
      } else recorder.fail(pick.cls, second, res.kind);
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  for (;;) {
    const t = Math.min(recorder.elapsedMs() / 1000, o.durationS);
    const added = ((o.rateAt(prevT) + o.rateAt(t)) / 2) * (t - prevT);
    // Arrivals whose expected count falls inside this step, placed by linear interpolation within it.
    // The epsilon keeps float noise in the integral from adding an arrival at the very end.
    while (next <= due + added - 1e-9 && added > 0) {
      const tk = prevT + ((next - due) / added) * (t - prevT);
      if (tk >= o.durationS) break;
      emit(Math.max(prevT, tk));
      next++;
    }
    due += added;
    prevT = t;
    if (t >= o.durationS || o.signal?.aborted) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  // Every request sent ends within the client's timeout: wait for all of them.
  await Promise.all(pending);
}
