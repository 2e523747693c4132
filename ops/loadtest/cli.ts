/**
 * `npm run loadtest -- <scenario> [--target URL] [--duration 30s] [--rate N] [--out DIR] [--short]`
 *
 * Runs one scenario against the local `npm start` stack (default) or the deployment --target names, shows
 * its progress on stderr each second, and writes `<out>/<scenario>-<time>/` with report.html and
 * summary.json. Exit codes: 0 every measured target met, 1 some not met (the report says which), 2 bad
 * usage or a precondition the scenario names (an admin token, a local target), 3 the target failed the
 * run (unreachable, an unexpected answer during set-up).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Api, ApiError } from './api/client';
import { offersDevTokens } from './api/users';
import { parseArgs, USAGE, UsageError } from './args';
import { loadtestEnv } from './env';
import { checkReport } from './report/check';
import type { Summary } from './report/model';
import { writeReport } from './report/write';
import { PreconditionError } from './scenarios/context';
import { SCENARIO_RUNNERS } from './scenarios/index';
import { DEFAULT_TARGET, resolveTarget } from './target';

const ROOT = resolve(import.meta.dir, '..', '..');
const log = (message: string) => process.stderr.write(`[loadtest] ${message}\n`);

function fail(code: number, message: string): never {
  log(message);
  process.exit(code);
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
let args: ReturnType<typeof parseArgs>;
try {
  args = parseArgs(process.argv.slice(2), { target: DEFAULT_TARGET, outDir: resolve(ROOT, 'reports') });
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`${err.problems.map((p) => `error: ${p}`).join('\n')}\n\n${USAGE}\n`);
  process.exit(2);
}
const env = loadtestEnv();
const target = resolveTarget(args.target, args.wsTargets);
const api = new Api(target.gatewayUrl);

const health = await api.call('GET', '/healthz').catch((err: Error) => ({ status: 0, error: err.message }));
if (health.status !== 200)
  fail(
    3,
    `${target.gatewayUrl} does not answer /healthz (${'error' in health ? health.error : `status ${health.status}`})` +
      (args.targetGiven ? '' : ': start the local stack with `npm start`, or name a deployment with --target'),
  );

const aborter = new AbortController();
process.once('SIGINT', () => {
  log('interrupted: stopping the load and writing what was measured (Ctrl-C again to quit at once)');
  aborter.abort();
  process.once('SIGINT', () => process.exit(130));
});

const devTokensOffered = await offersDevTokens(api);
const devTokens = devTokensOffered && args.users !== 'register';
const runId = randomBytes(4).toString('hex');
log(`${args.scenario} against ${target.gatewayUrl}, users by ${devTokens ? 'dev tokens' : 'register + login'}, run ${runId}`);

let out: Awaited<ReturnType<(typeof SCENARIO_RUNNERS)[keyof typeof SCENARIO_RUNNERS]['run']>>;
try {
  out = await SCENARIO_RUNNERS[args.scenario].run({
    args,
    target,
    env,
    api,
    runId,
    devTokens,
    devTokensOffered,
    signal: aborter.signal,
    log,
  });
} catch (err) {
  if (err instanceof PreconditionError) fail(2, err.message);
  if (err instanceof ApiError) fail(3, `the target failed the run's set-up: ${err.message}`);
  // Anything else (the socket engine's own errors among them): said plainly, no report.
  fail(3, `the run failed: ${err instanceof Error ? err.message : String(err)}`);
}

const summary: Summary = {
  schemaVersion: 1,
  scenario: args.scenario,
  startedAt: out.startedAt,
  endedAt: new Date().toISOString(),
  durationS: out.durationS,
  short: args.short,
  interrupted: aborter.signal.aborted,
  target: { gatewayUrl: target.gatewayUrl, wsUrls: target.wsUrls, local: target.local?.name ?? null },
  settings: out.settings,
  users: out.users && {
    method: out.users.method,
    count: out.users.users.length,
    // Registered accounts get the platform's default tier, whatever the scenario would have chosen.
    tier: out.users.method === 'dev-token' ? out.userTier : (out.users.users[0]?.tier ?? 'unknown'),
    notes: out.users.notes,
  },
  admin: out.admin && { source: out.admin.source },
  engine: {
    http: 'open loop: own scheduler on node:http keep-alive (autocannon’s overallRate is closed-loop per connection and bursts each second)',
    closedLoop: out.closedLoop,
    latency: 'from each request’s scheduled time, answer fully read (coordinated-omission free)',
    generatorLatenessMs: out.generatorLatenessMs,
  },
  metrics: out.metrics,
  totals: out.totals,
  perSecond: out.perSecond,
  targets: out.targets,
  charts: out.charts,
  tables: out.tables,
  scenarioData: out.scenarioData,
  notes: out.notes,
};
const dir = writeReport(args.outDir, summary);
const problems = checkReport(dir);
for (const p of problems) log(`report check: ${p}`);

const width = Math.max(...summary.targets.map((t) => t.description.length));
process.stdout.write(`\n${summary.scenario}: ${summary.targets.filter((t) => t.met).length} of ${summary.targets.length} targets met\n`);
for (const t of summary.targets)
  process.stdout.write(
    `  ${t.met === null ? 'n/a    ' : t.met ? 'met    ' : 'NOT met'}  ${t.description.padEnd(width)}  ${t.measured} (aim ${t.target})\n`,
  );
process.stdout.write(`report: ${dir}/report.html\n`);
const nothingMeasured = summary.targets.every((t) => t.met === null);
process.exit(problems.length > 0 ? 3 : nothingMeasured || summary.targets.some((t) => t.met === false) ? 1 : 0);
