/**
 * Administrators with a password. Accounts register as customers; this makes one an administrator, or
 * a customer again, straight in the database:
 *
 *   npm run users -- promote EMAIL
 *   npm run users -- demote EMAIL
 *
 * The role change, an admin_audit row (`user.promoted` / `user.demoted`, by the all-zero actor that
 * stands for this tool, detail {via: 'cli'}) and the revocation of the user's refresh tokens commit
 * together. Access tokens carry the role (a JWT claim), so the user's sessions are then ended at once
 * through the revoked-sessions feed every gateway and edge listens to (Redis: REDIS_URL or
 * REDIS_CLUSTER_NODES, and NAMESPACE): a demoted administrator's tokens stop working now, not when they
 * expire, and the new role applies from the next sign-in. DATABASE_URL and those are read through
 * validated specs. Exit codes: 0 done (or nothing to change), 1 failed (unknown email, database
 * unreachable, the user's row locked by another transaction for longer than 5 s; or the role changed but
 * its sessions could not be ended at once: then its access tokens keep working until they expire, 15
 * minutes at most), 2 usage or configuration.
 */
import { createLogger } from '@orders/platform';
import { ACCESS_TOKEN_TTL_SECONDS } from '@orders/platform/auth/jwt';
import { serviceRevokedSessions } from '@orders/platform/auth/revocations';
import { createRedisClient } from '@orders/platform/clients/redis';
import { ConfigError, parseEnv } from '@orders/platform/config/env';
import { commonSpec, databaseSpec, redisSpec } from '@orders/platform/config/fragments';
import postgres from 'postgres';

const USAGE = `usage: npm run users -- promote EMAIL
       npm run users -- demote EMAIL
environment: DATABASE_URL; REDIS_URL or REDIS_CLUSTER_NODES and NAMESPACE (to end the user's sessions at once)`;
/** The actor recorded for this tool: no user, a person at a terminal with database access. */
const CLI_ACTOR = '00000000-0000-0000-0000-000000000000';

/** How long the role change waits for the user's row; PostgreSQL's lock_not_available when it runs out. */
const LOCK_TIMEOUT = '5s';
const LOCK_NOT_AVAILABLE = '55P03';

class UsageError extends Error {}
class Failure extends Error {}

const COMMANDS = {
  promote: { role: 'admin', action: 'user.promoted' },
  demote: { role: 'customer', action: 'user.demoted' },
} as const;
type Command = keyof typeof COMMANDS;

function parse(argv: string[]): { command: Command; email: string } | undefined {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) return undefined;
  const [command, email, ...rest] = argv;
  if (command !== 'promote' && command !== 'demote') throw new UsageError(`unknown command: ${command ?? '(none)'}`);
  if (!email || rest.length > 0) throw new UsageError(`${command} takes exactly one email`);
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw new UsageError(`not an email address: ${email}`);
  return { command, email: email.toLowerCase() };
}

async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const env = parseEnv({ ...databaseSpec, ...redisSpec, NAMESPACE: commonSpec.NAMESPACE }, process.env);
  const { role, action } = COMMANDS[args.command];
  const sql = postgres(env.DATABASE_URL, {
    max: 1,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: 'orders-users-cli' },
  });
  try {
    const outcome = await sql.begin(async (tx) => {
      // The row may be locked by a sign-in or another role change: wait a little, never indefinitely.
      await tx.unsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      const [user] = await tx<{ id: string; role: string }[]>`SELECT id, role FROM users WHERE email = ${args.email} FOR UPDATE`.catch(
        (err: unknown) => {
          if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE)
            throw new Failure(
              `the account ${args.email} stayed locked by another transaction for ${LOCK_TIMEOUT}: nothing changed, try again`,
            );
          throw err;
        },
      );
      if (!user) throw new Failure(`no account with email ${args.email}`);
      if (user.role === role) return { id: user.id, changed: false, sessions: [] as string[] };
      await tx`UPDATE users SET role = ${role} WHERE id = ${user.id}`;
      // Every session of the user, also those whose refresh tokens are spent: their access tokens live on.
      const families = await tx<{ family_id: string }[]>`
        SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = ${user.id} AND expires_at > now() - ${ACCESS_TOKEN_TTL_SECONDS} * interval '1 second'`;
      await tx`UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = ${user.id} AND revoked_at IS NULL`;
      await tx`
        INSERT INTO admin_audit (actor_id, action, target, detail)
        VALUES (${CLI_ACTOR}, ${action}, ${user.id}, ${tx.json({ via: 'cli' })})`;
      return { id: user.id, changed: true, sessions: families.map((f) => f.family_id) };
    });
    if (!outcome.changed) {
      process.stdout.write(`${args.email} (${outcome.id}) is already ${role}: nothing changed\n`);
      return 0;
    }
    process.stdout.write(`${args.email} (${outcome.id}) is now ${role}; the role applies from the next sign-in.\n`);
    try {
      await endSessions(env, outcome.sessions);
    } catch (err) {
      process.stderr.write(
        `could not end its ${outcome.sessions.length} session(s) at once (${err instanceof Error ? err.message : String(err)}): access ` +
          `tokens already issued keep the old role until they expire (${ACCESS_TOKEN_TTL_SECONDS / 60} minutes at most)\n`,
      );
      return 1;
    }
    process.stdout.write(`${outcome.sessions.length} session(s) ended: their tokens stop working now.\n`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Publishes each session as ended on the feed every gateway and edge listens to (the logout path). */
async function endSessions(
  env: { REDIS_URL: string; REDIS_CLUSTER_NODES: string[]; NAMESPACE: string },
  sessions: string[],
): Promise<void> {
  if (sessions.length === 0) return;
  const redis = createRedisClient({
    url: env.REDIS_URL,
    clusterNodes: env.REDIS_CLUSTER_NODES,
    connectionName: 'orders-users-cli',
    commandTimeoutMs: 5_000,
  });
  redis.on('error', () => {});
  try {
    const feed = serviceRevokedSessions({
      redis,
      redisUrl: env.REDIS_URL,
      clusterNodes: env.REDIS_CLUSTER_NODES,
      namespace: env.NAMESPACE,
      service: 'users-cli',
      logger: createLogger({ service: 'users-cli', level: 'silent' }),
    });
    for (const id of sessions) await feed.revoke(id);
  } finally {
    redis.disconnect();
  }
}

// exitCode rather than exit(): the output is still flushing when main returns.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
