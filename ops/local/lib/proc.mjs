// @ts-check
/**
 * Process plumbing for the local stack: run a command, start a long-lived one detached with a pidfile
 * and a log file, stop it, wait for a real readiness check. Dependency-free (runs before `npm ci`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** @param {string} msg */
export function log(msg) {
  process.stdout.write(`[stack] ${msg}\n`);
}

/**
 * Runs a command to completion; throws with its output when it fails.
 * @param {string} cmd @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, input?: string, quiet?: boolean, allowFail?: boolean }} [opts]
 */
export function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    input: opts.input,
    encoding: 'utf8',
    stdio: opts.quiet === false ? ['pipe', 'inherit', 'inherit'] : 'pipe',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) {
    if (opts.allowFail) return { ok: false, stdout: '', stderr: String(res.error.message) };
    throw new Error(`${cmd} could not be run: ${res.error.message}`);
  }
  const ok = res.status === 0;
  if (!ok && !opts.allowFail) {
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status}):\n${out}`);
  }
  return { ok, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
}

/** @param {string} cmd */
export function which(cmd) {
  const res = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : null;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Prefix for commands that need root: nothing when we are root, `sudo -n` when it is available. */
export function asRoot() {
  if (isRoot) return [];
  if (which('sudo')) return ['sudo', '-n'];
  throw new Error('installing system packages needs root (or passwordless sudo)');
}

/**
 * Prefix that runs a command as another local user (the postgres superuser, typically).
 * @param {string} user
 */
export function asUser(user) {
  if (isRoot) return ['runuser', '-u', user, '--'];
  if (which('sudo')) return ['sudo', '-n', '-u', user, '--'];
  throw new Error(`running a command as ${user} needs root (or passwordless sudo)`);
}

let aptUpdated = false;
/**
 * Installs Debian packages that are missing. `probe` decides whether a package is already usable, so
 * a machine that has the program from elsewhere is left alone.
 * @param {{ pkg: string, probe: () => boolean }[]} wanted
 */
export function ensureAptPackages(wanted) {
  const missing = wanted.filter((w) => !w.probe()).map((w) => w.pkg);
  if (missing.length === 0) return;
  log(`installing Debian packages: ${missing.join(' ')}`);
  const prefix = asRoot();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (/** @type {string[]} */ args) => {
    const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
    run(/** @type {string} */ (cmd), rest, { env });
  };
  if (!aptUpdated) {
    apt(['update', '-qq']);
    aptUpdated = true;
  }
  apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}

/** @param {import('../config.mjs').StackConfig} cfg @param {string} name */
function pidFile(cfg, name) {
  return join(cfg.runDir, `${name}.pid`);
}

/**
 * When the process with this pid started (clock ticks since boot, field 22 of /proc/<pid>/stat). Kept in
 * the pidfile next to the pid, so a recycled pid is never mistaken for a stack process.
 * @param {number} pid
 */
function startTime(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/**
 * The pid of a stack process we started, if it is still alive and still the same process.
 * @param {import('../config.mjs').StackConfig} cfg @param {string} name
 */
export function runningPid(cfg, name) {
  const file = pidFile(cfg, name);
  if (!existsSync(file)) return null;
  const [pidText, started] = readFileSync(file, 'utf8').trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return startTime(pid) === started ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Starts a long-lived process detached from this one, output appended to `<logDir>/<name>.log`.
 * @param {import('../config.mjs').StackConfig} cfg @param {string} name @param {string} cmd @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string }} [opts]
 */
export function startDetached(cfg, name, cmd, args, opts = {}) {
  mkdirSync(cfg.logDir, { recursive: true });
  mkdirSync(cfg.runDir, { recursive: true });
  const logPath = join(cfg.logDir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? cfg.root,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name} did not start (${cmd})`);
  child.unref();
  writeFileSync(pidFile(cfg, name), `${child.pid} ${startTime(child.pid)}`);
  return { pid: child.pid, logPath };
}

/**
 * SIGTERM, then SIGKILL if it has not exited within the grace period.
 * @param {import('../config.mjs').StackConfig} cfg @param {string} name @param {number} [graceMs]
 */
export async function stopProcess(cfg, name, graceMs = 15_000) {
  const pid = runningPid(cfg, name);
  if (pid === null) {
    rmSync(pidFile(cfg, name), { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && runningPid(cfg, name) !== null) await sleep(100);
  if (runningPid(cfg, name) !== null) {
    log(`${name} ignored SIGTERM for ${graceMs} ms; killing it`);
    process.kill(pid, 'SIGKILL');
    while (runningPid(cfg, name) !== null) await sleep(50);
  }
  rmSync(pidFile(cfg, name), { force: true });
  return true;
}

/**
 * Polls `check` until it resolves truthy. On timeout the error carries the last failure and, when
 * given, the tail of the component's log, so a broken start says why.
 * @param {string} label @param {() => Promise<boolean>} check
 * @param {{ timeoutMs: number, logPath?: string, alive?: () => boolean }} opts
 */
export async function waitFor(label, check, opts) {
  const started = Date.now();
  /** @type {unknown} */
  let lastError = 'not ready';
  while (Date.now() - started < opts.timeoutMs) {
    try {
      if (await check()) return Date.now() - started;
    } catch (err) {
      lastError = err instanceof Error ? err.message : err;
    }
    if (opts.alive && !opts.alive()) break;
    await sleep(250);
  }
  const tail = opts.logPath && existsSync(opts.logPath) ? readFileSync(opts.logPath, 'utf8').split('\n').slice(-30).join('\n') : '';
  const why = opts.alive && !opts.alive() ? 'the process exited' : `no answer within ${opts.timeoutMs} ms`;
  throw new Error(`${label} is not ready: ${why} (last: ${String(lastError)})${tail ? `\n--- ${opts.logPath}\n${tail}` : ''}`);
}
