/**
 * `parley admin …`: who administers the server. Run by an operator with access to the
 * database; the change holds at once on every node (the role is read on the primary at each
 * check).
 *
 *   parley admin grant <username>    make them a server administrator
 *   parley admin revoke <username>   take it away
 *   parley admin list                the administrators (JSON lines)
 */
import type { Store } from '../ports.js';

const USAGE = 'usage: parley admin grant <username> | revoke <username> | list\n';

export async function runAdminCommand(args: string[], store: Store, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const [action, username] = args;
  if (action === 'list' && username === undefined) {
    for (const holder of await store.listServerRoles()) out(JSON.stringify({ username: holder.username, userId: holder.userId, role: holder.role, grantedAt: new Date(holder.grantedAt).toISOString() }));
    return 0;
  }
  if ((action !== 'grant' && action !== 'revoke') || username === undefined || args.length !== 2) {
    process.stderr.write(USAGE);
    return 2;
  }
  const user = await store.findUserByUsername(username);
  if (user === undefined || (user.botOwnerId ?? null) !== null) {
    process.stderr.write(`parley admin: no user "${username}"${user === undefined ? '' : ' (a bot cannot administer the server)'}\n`);
    return 1;
  }
  if (!(await store.setServerRole(user.id, action === 'grant' ? 'admin' : null, Date.now()))) {
    process.stderr.write(`parley admin: no user "${username}"\n`);
    return 1;
  }
  out(JSON.stringify({ username: user.username, userId: user.id, role: action === 'grant' ? 'admin' : null }));
  return 0;
}
