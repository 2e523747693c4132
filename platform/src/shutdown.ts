/**
 * Graceful shutdown, the same in every process: on the first SIGTERM or SIGINT, run the registered
 * steps in order (stop accepting, drain in-flight work, commit, disconnect), then exit. The whole
 * sequence runs under one timeout; a step that hangs cannot keep the process alive forever. Later
 * signals are logged and ignored: the first one is already being honoured.
 */
import type { Logger } from 'pino';

export interface Shutdown {
  /** Adds a step; steps run in the order they were added. */
  add(name: string, step: () => Promise<void> | void): void;
  /** Installs the signal handlers. */
  listen(): void;
  /** Runs the steps now (what a signal does). Resolves with the exit code. */
  run(reason: string): Promise<number>;
  readonly stopping: boolean;
}

export interface ShutdownOptions {
  logger: Logger;
  timeoutMs: number;
  exit?: (code: number) => void;
}

export function createShutdown(opts: ShutdownOptions): Shutdown {
  const steps: { name: string; step: () => Promise<void> | void }[] = [];
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let running: Promise<number> | undefined;
  let current: string | undefined;

  async function runSteps(reason: string): Promise<number> {
    const started = Date.now();
    opts.logger.info({ reason, steps: steps.map((s) => s.name) }, 'shutting down');
    let code = 0;
    const timings: Record<string, number> = {};
    for (const { name, step } of steps) {
      const t0 = Date.now();
      current = name;
      opts.logger.debug({ step: name }, 'shutdown step');
      try {
        await step();
      } catch (err) {
        code = 1;
        opts.logger.error({ err, step: name }, 'shutdown step failed; continuing with the next');
      }
      timings[name] = Date.now() - t0;
    }
    opts.logger.info({ ms: Date.now() - started, code, steps: timings }, 'shutdown complete');
    return code;
  }

  const shutdown: Shutdown = {
    add(name, step) {
      steps.push({ name, step });
    },
    listen() {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.on(signal, () => {
          if (running) {
            opts.logger.warn({ signal }, 'already shutting down');
            return;
          }
          void shutdown.run(signal).then(exit);
        });
      }
      // A bug that escapes every handler still drains and exits non-zero, instead of dying mid-batch or
      // carrying on in an unknown state.
      for (const event of ['unhandledRejection', 'uncaughtException'] as const) {
        process.on(event, (err: unknown) => {
          opts.logger.fatal({ err, event }, 'unhandled failure; shutting down');
          void shutdown.run(event).then(() => exit(1));
        });
      }
    },
    run(reason) {
      if (!running) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<number>((resolve) => {
          timer = setTimeout(() => {
            opts.logger.error({ timeoutMs: opts.timeoutMs, step: current }, 'shutdown timed out; exiting with work possibly undrained');
            resolve(1);
          }, opts.timeoutMs);
        });
        running = Promise.race([runSteps(reason), timeout]).finally(() => clearTimeout(timer));
      }
      return running;
    },
    get stopping() {
      return running !== undefined;
    },
  };
  return shutdown;
}
