/**
 * `parley admin …`: server administration at the console. Run by an operator with access to the
 * database (and to Redis or NATS, so that what it changes reaches every node at once). Every
 * change is written to the server's audit log as done at the console (`--by <username>` names
 * the administrator acting, and must be one). Answers on stdout as JSON lines.
 *
 *   parley admin grant <username> | revoke <username> | list
 *   parley admin users [prefix] [--state active|disabled|deleted|bot] [--limit N]
 *   parley admin user create <username> [--display-name NAME] [--admin] [--password-stdin]
 *   parley admin user disable|enable|revoke-sessions <username>
 *   parley admin user password <username> [--password-stdin]
 *   parley admin user delete <username> --yes
 *   parley admin rooms [text] [--limit N]
 *   parley admin room archive|unarchive <roomId> --by <username>
 *   parley admin dead <queue> [--limit N] | retry <queue> <id> | purge <queue> [id]
 *   parley admin audit [--limit N]
 */
import { AppError } from '../errors.js';
import type { AdminActor, AdminUser, Administration } from '../domain/administration.js';
import type { Store } from '../ports.js';
import type { AdminConsole } from './console.js';

export const ADMIN_USAGE = `usage: parley admin <command>
  grant <username> | revoke <username> | list          the server administrators
  users [prefix] [--state active|disabled|deleted|bot] [--limit N]
  user create <username> [--display-name NAME] [--admin] [--password-stdin]
  user disable <username> | user enable <username> | user revoke-sessions <username>
  user password <username> [--password-stdin]
  user delete <username> --yes
  rooms [text] [--limit N]
  room archive <roomId> --by <username> | room unarchive <roomId> --by <username>
  dead <queue> [--limit N] | retry <queue> <id> | purge <queue> [id]
  audit [--limit N]
Every command takes --by <username>: the administrator acting, named in the audit log.
`;

export interface AdminCommandDeps {
  store: Store;
  /** Opens what changes need (the bus, the shared cache, the job backend); closed by the command. */
  openConsole(): Promise<AdminConsole>;
  /** The first line of standard input (a password given with --password-stdin). */
  readSecret?(): Promise<string>;
  out?(line: string): void;
  err?(line: string): void;
}

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUED = new Set(['--state', '--limit', '--display-name', '--by']);
const BARE = new Set(['--admin', '--password-stdin', '--yes']);

function parse(args: string[]): Parsed | string {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (VALUED.has(arg)) {
      const value = args[++i];
      if (value === undefined) return `${arg} needs a value`;
      flags.set(arg, value);
    } else if (BARE.has(arg)) flags.set(arg, true);
    else if (arg.startsWith('--')) return `unknown option ${arg}`;
    else positional.push(arg);
  }
  return { positional, flags };
}

class UsageError extends Error {}

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());
const userLine = ({ user, role }: AdminUser) =>
  JSON.stringify({
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    ...((user.botOwnerId ?? null) === null ? {} : { bot: true, botOwnerId: user.botOwnerId }),
    role,
    createdAt: iso(user.createdAt),
    disabledAt: iso(user.disabledAt),
    deletedAt: iso(user.deletedAt ?? user.deactivatedAt),
  });

export async function runAdminCommand(args: string[], deps: AdminCommandDeps): Promise<number> {
  const out = deps.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = deps.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  const parsed = parse(args);
  if (typeof parsed === 'string') {
    err(`parley admin: ${parsed}`);
    err(ADMIN_USAGE);
    return 2;
  }
  let console: AdminConsole | null = null;
  try {
    console = await deps.openConsole();
    const { admin } = console;
    const by = await actor(deps.store, admin, parsed.flags.get('--by'));
    const code = await run(parsed, { ...deps, out, admin, by });
    if (code === 0 && !console.reachesNodes && changesSessions(parsed.positional)) {
      err('parley admin: no network bus (REDIS_URL or NATS_URL) reaches the nodes from here: the sessions ended are refused at once, and a node on this store closes their WebSockets within 2 s (it reads the audit log).');
    }
    return code;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`parley admin: ${error.message}`);
      err(ADMIN_USAGE);
      return 2;
    }
    if (error instanceof AppError) {
      err(`parley admin: ${error.message}${error.details?.reason === undefined ? '' : ` (${String(error.details.reason)})`}`);
      return 1;
    }
    throw error;
  } finally {
    await console?.close();
  }
}

const changesSessions = (positional: string[]): boolean => positional[0] === 'user' && ['disable', 'password', 'revoke-sessions', 'delete'].includes(positional[1] ?? '');

/** The console's actor: the administrator `--by` names (who must be one), or none. */
async function actor(store: Store, admin: Administration, username: string | true | undefined): Promise<AdminActor> {
  if (username === undefined || username === true) return { id: null, via: 'console' };
  const user = await store.findUserByUsername(username);
  if (user === undefined) throw new AppError('not_found', `no user "${username}" (--by)`);
  const checked = await admin.authorize(user.id);
  return { id: checked.id, via: 'console' };
}

function limitOf(flags: Map<string, string | true>, fallback: number, max: number): number {
  const raw = flags.get('--limit');
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--limit must be 1–${max}`);
  return n;
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${what} is missing`);
  return value;
}

async function userId(store: Store, username: string): Promise<string> {
  const user = await store.findUserByUsername(username);
  if (user === undefined) throw new AppError('not_found', `no user "${username}"`);
  return user.id;
}

interface Run extends AdminCommandDeps {
  out(line: string): void;
  admin: Administration;
  by: AdminActor;
}

async function run({ positional, flags }: Parsed, deps: Run): Promise<number> {
  const { store, admin, by, out } = deps;
  const [command, a, b, ...rest] = positional;
  const secret = async (): Promise<string | undefined> => {
    if (flags.get('--password-stdin') !== true) return undefined;
    if (deps.readSecret === undefined) throw new UsageError('--password-stdin: no standard input');
    return deps.readSecret();
  };
  switch (command) {
    case 'list':
      if (a !== undefined) break;
      for (const holder of await store.listServerRoles()) out(JSON.stringify({ username: holder.username, userId: holder.userId, role: holder.role, grantedAt: iso(holder.grantedAt) }));
      return 0;
    case 'grant':
    case 'revoke': {
      if (b !== undefined) break;
      const user = await admin.setRole(by, await userId(store, need(a, 'the username')), command === 'grant' ? 'admin' : null);
      out(JSON.stringify({ username: user.user.username, userId: user.user.id, role: user.role }));
      return 0;
    }
    case 'users': {
      if (b !== undefined) break;
      const state = flags.get('--state');
      if (state !== undefined && !['active', 'disabled', 'deleted', 'bot'].includes(state as string)) throw new UsageError('--state must be active, disabled, deleted or bot');
      const limit = limitOf(flags, 1_000, 100_000);
      let after: string | undefined;
      let left = limit;
      // Page by page: bounded reads, however many users there are.
      while (left > 0) {
        const page = await admin.listUsers({ prefix: a?.toLowerCase(), state: state as 'active' | undefined, after, limit: Math.min(left, 500) });
        for (const user of page.users) out(userLine(user));
        left -= page.users.length;
        if (page.next === null) break;
        after = page.next;
      }
      return 0;
    }
    case 'user': {
      if (rest.length > 0) break;
      const username = need(b, 'the username');
      switch (a) {
        case 'create': {
          const created = await admin.createUser(by, {
            username,
            password: await secret(),
            displayName: flags.get('--display-name') as string | undefined,
            admin: flags.get('--admin') === true,
          });
          out(JSON.stringify({ ...JSON.parse(userLine(created.user)), ...(created.password === null ? {} : { password: created.password }) }));
          return 0;
        }
        case 'disable':
          out(userLine(await admin.disableUser(by, await userId(store, username))));
          return 0;
        case 'enable':
          out(userLine(await admin.enableUser(by, await userId(store, username))));
          return 0;
        case 'revoke-sessions':
          out(JSON.stringify({ username, sessionsRevoked: await admin.revokeSessions(by, await userId(store, username)) }));
          return 0;
        case 'password': {
          const reset = await admin.resetPassword(by, await userId(store, username), await secret());
          out(JSON.stringify({ username, sessionsRevoked: reset.sessionsRevoked, ...(reset.password === null ? {} : { password: reset.password }) }));
          return 0;
        }
        case 'delete': {
          if (flags.get('--yes') !== true) throw new UsageError('user delete erases the account for good: add --yes');
          const id = await userId(store, username);
          await admin.deleteUser(by, id);
          out(JSON.stringify({ username, userId: id, deleted: true }));
          return 0;
        }
      }
      break;
    }
    case 'rooms': {
      if (b !== undefined) break;
      for (const room of await admin.listRooms({ q: a, limit: limitOf(flags, 100, 10_000) })) {
        out(JSON.stringify({ id: room.id, name: room.name, visibility: room.visibility, members: room.members, lastSeq: room.lastSeq, createdAt: iso(room.createdAt), archivedAt: iso(room.archivedAt) }));
      }
      return 0;
    }
    case 'room': {
      if ((a !== 'archive' && a !== 'unarchive') || rest.length > 0) break;
      const room = await admin.setRoomArchived(by, need(b, 'the room id'), a === 'archive');
      out(JSON.stringify({ id: room.id, name: room.name, archived: (room.archivedAt ?? null) !== null }));
      return 0;
    }
    case 'dead': {
      if (b !== undefined) break;
      for (const dead of await admin.deadJobs(need(a, 'the queue'), limitOf(flags, 100, 10_000))) out(JSON.stringify({ ...dead, enqueuedAt: iso(dead.enqueuedAt), failedAt: iso(dead.failedAt) }));
      return 0;
    }
    case 'retry':
      if (rest.length > 0) break;
      await admin.retryDeadJob(by, need(a, 'the queue'), need(b, 'the job id'));
      out(JSON.stringify({ queue: a, id: b, retried: true }));
      return 0;
    case 'purge':
      if (rest.length > 0) break;
      out(JSON.stringify({ queue: a, purged: await admin.purgeDeadJobs(by, need(a, 'the queue'), b) }));
      return 0;
    case 'audit': {
      if (a !== undefined) break;
      for (const entry of await admin.audit(undefined, limitOf(flags, 100, 10_000))) out(JSON.stringify({ ...entry, at: iso(entry.at) }));
      return 0;
    }
  }
  throw new UsageError(command === undefined ? 'no command' : `not a command: ${positional.join(' ')}`);
}
