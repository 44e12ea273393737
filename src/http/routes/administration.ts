/**
 * Server administration over REST (the admin page uses it): users, rooms, dead jobs, the nodes
 * and the server's audit log, under /api/v1/admin/. Every route checks the server role on the
 * primary before it reads or changes anything.
 */
import type { AdminUser } from '../../domain/administration.js';
import { roomView } from '../../domain/views.js';
import { validationFailed } from '../../errors.js';
import type { NodeStatus } from '../../realtime/node-directory.js';
import { responses } from '../../protocol/responses.js';
import type { AdminDeadJob, AdminNode, AdminRoom, AdminUser as WireAdminUser, ServerAuditEntry } from '../../protocol/wire.js';
import type { AdminRoomRecord, ServerAuditRecord } from '../../domain/types.js';
import type { DeadJob } from '../../ports.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined) => (ms == null ? null : iso(ms));

export const adminUserView = ({ user, role }: AdminUser): WireAdminUser => ({
  id: user.id,
  username: user.username,
  displayName: user.displayName,
  ...((user.botOwnerId ?? null) === null ? {} : { bot: true as const, botOwnerId: user.botOwnerId as string }),
  createdAt: iso(user.createdAt),
  role,
  disabledAt: isoOrNull(user.disabledAt),
  // A bot its owner deleted is as deleted as a person an administrator deleted.
  deletedAt: isoOrNull(user.deletedAt ?? user.deactivatedAt),
});

const adminRoomView = (r: AdminRoomRecord): AdminRoom => ({ ...roomView(r), members: r.members });

const nodeView = (n: NodeStatus): AdminNode => ({ ...n, startedAt: iso(n.startedAt), at: iso(n.at), ready: n.notReadyReason === null });

const deadJobView = (d: DeadJob): AdminDeadJob => ({ ...d, enqueuedAt: iso(d.enqueuedAt), failedAt: iso(d.failedAt) });

const auditEntryView = (a: ServerAuditRecord): ServerAuditEntry => ({ ...a, at: iso(a.at) });

/** A room page's cursor: the last room's creation time and id. */
const roomCursor = (r: AdminRoomRecord): string => `${r.createdAt}.${r.id}`;
function parseRoomCursor(after: string | undefined): { createdAt: number; id: string } | undefined {
  if (after === undefined) return undefined;
  const dot = after.indexOf('.');
  const createdAt = Number(after.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(createdAt) || dot === after.length - 1) throw validationFailed('after: not a cursor this server gave', { field: 'after' });
  return { createdAt, id: after.slice(dot + 1) };
}

export function administrationRoutes(api: RestApi, ctx: HttpContext): void {
  const { admin } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Administration';
  const only = 'Server administrators only (`parley admin grant`): anyone else is `forbidden` (`details.reason: "server_role"`), before anything is read or changed.';
  const audited = 'Written to the server\'s audit log (GET /api/v1/admin/audit).';
  const ends =
    'Every session of the user ends at once on every node: their requests are `unauthorized` and their WebSockets close with 1008.';

  api.route({
    method: 'GET',
    path: '/api/v1/admin/users',
    operationId: 'adminListUsers',
    tag,
    summary: 'List and search users',
    description: `${only} Every account, people and bots, disabled and deleted ones too, by username.`,
    auth: true,
    query: rest.adminUsersQuery,
    status: 200,
    response: responses.AdminUserPage,
    errors: ['forbidden'],
    handler: async ({ session, query }) => {
      await admin.authorize(session.user.id);
      const page = await admin.listUsers({ prefix: query.q?.toLowerCase(), state: query.state, after: query.after, limit: query.limit });
      return { users: page.users.map(adminUserView), next: page.next };
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/admin/users',
    operationId: 'adminCreateUser',
    tag,
    summary: 'Create a user',
    description: `${only} Names are checked as registration checks them (\`conflict\`, naming the field). ${audited}`,
    auth: true,
    body: rest.adminCreateUser,
    bodyName: 'user',
    status: 201,
    response: responses.AdminUserCreated,
    errors: ['forbidden', 'conflict'],
    handler: async ({ session, body }) => {
      const by = await admin.authorize(session.user.id);
      const created = await admin.createUser(by, body);
      return { user: adminUserView(created.user), password: created.password };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/users/:userId',
    operationId: 'adminGetUser',
    tag,
    summary: 'A user',
    description: only,
    auth: true,
    params: rest.userParams,
    status: 200,
    response: responses.AdminUserResult,
    errors: ['forbidden', 'not_found'],
    handler: async ({ session, params }) => {
      await admin.authorize(session.user.id);
      return { user: adminUserView(await admin.user(params.userId)) };
    },
  });

  for (const disabled of [true, false]) {
    api.route({
      method: 'POST',
      path: `/api/v1/admin/users/:userId/${disabled ? 'disable' : 'enable'}`,
      operationId: disabled ? 'adminDisableUser' : 'adminEnableUser',
      tag,
      summary: disabled ? 'Disable a user' : 'Enable a disabled user',
      description: disabled
        ? `${only} The account cannot log in (\`forbidden\`, reason \`account_disabled\`, once the password is right) until enabled. ${ends} ` +
          "The bots it owns are refused with it (their tokens, and their incoming webhooks with `forbidden`, reason `account_disabled`), and the outgoing webhooks it registered are disabled at their next event. " +
          `A bot disabled keeps its tokens, refused until it is enabled. Its messages and memberships stay. Not oneself (\`conflict\`, reason \`self\`); not a deleted account (reason \`deleted\`). ${audited}`
        : `${only} They log in again with their password, and their bots work again (one disabled on its own stays so). A deleted account, or a bot its owner deleted, stays as it is (\`conflict\`, reason \`deleted\`). ${audited}`,
      auth: true,
      params: rest.userParams,
      status: 200,
      response: responses.AdminUserResult,
      errors: ['forbidden', 'not_found', 'conflict'],
      handler: async ({ session, params }) => {
        const by = await admin.authorize(session.user.id);
        return { user: adminUserView(disabled ? await admin.disableUser(by, params.userId) : await admin.enableUser(by, params.userId)) };
      },
    });
  }

  api.route({
    method: 'DELETE',
    path: '/api/v1/admin/users/:userId',
    operationId: 'adminDeleteUser',
    tag,
    summary: 'Delete a user',
    description:
      `${only} ${ends} A person leaves every room but their direct messages (\`member_left\`), the bots they own are deleted, and the account is erased: ` +
      'username (freed, shown as `deleted-…`), display name ("Deleted user"), password, status, avatar, server role and blocks. ' +
      `Their messages stay, shown as the deleted user's. A bot is deleted as its owner deletes it (it keeps its name). Not oneself (\`conflict\`, reason \`self\`). Repeatable. ${audited}`,
    auth: true,
    params: rest.userParams,
    status: 204,
    errors: ['forbidden', 'not_found', 'conflict'],
    handler: async ({ session, params }) => {
      const by = await admin.authorize(session.user.id);
      await admin.deleteUser(by, params.userId);
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/admin/users/:userId/password',
    operationId: 'adminResetPassword',
    tag,
    summary: "Reset a user's password",
    description: `${only} ${ends} Without \`password\`, one is made and answered, shown this once. A bot has none (\`conflict\`, reason \`bot\`). ${audited}`,
    auth: true,
    params: rest.userParams,
    body: rest.adminPassword,
    bodyName: 'password',
    status: 200,
    response: responses.AdminPasswordReset,
    errors: ['forbidden', 'not_found', 'conflict'],
    handler: async ({ session, params, body }) => {
      const by = await admin.authorize(session.user.id);
      return admin.resetPassword(by, params.userId, body.password);
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/admin/users/:userId/sessions',
    operationId: 'adminRevokeSessions',
    tag,
    summary: "Revoke a user's sessions",
    description: `${only} ${ends} They may log in again. A bot's tokens are revoked the same way. ${audited}`,
    auth: true,
    params: rest.userParams,
    status: 200,
    response: responses.AdminSessionsRevoked,
    errors: ['forbidden', 'not_found'],
    handler: async ({ session, params }) => {
      const by = await admin.authorize(session.user.id);
      return { sessionsRevoked: await admin.revokeSessions(by, params.userId) };
    },
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/admin/users/:userId/role',
    operationId: 'adminSetRole',
    tag,
    summary: 'Grant or revoke the server role',
    description: `${only} \`admin\` grants it, null takes it away; it holds at once on every node. Not to a bot or a disabled account (\`conflict\`, reason \`bot\` or \`disabled\`); nobody takes their own away here (\`conflict\`, reason \`self\`). ${audited}`,
    auth: true,
    params: rest.userParams,
    body: rest.adminRole,
    bodyName: 'role',
    status: 200,
    response: responses.AdminUserResult,
    errors: ['forbidden', 'not_found', 'conflict'],
    handler: async ({ session, params, body }) => {
      const by = await admin.authorize(session.user.id);
      return { user: adminUserView(await admin.setRole(by, params.userId, body.role)) };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/rooms',
    operationId: 'adminListRooms',
    tag,
    summary: 'List and search rooms',
    description: `${only} Every room, private and direct-message ones too, newest first, with member counts.`,
    auth: true,
    query: rest.adminRoomsQuery,
    status: 200,
    response: responses.AdminRoomPage,
    errors: ['forbidden'],
    handler: async ({ session, query }) => {
      await admin.authorize(session.user.id);
      const rooms = await admin.listRooms({ q: query.q, after: parseRoomCursor(query.after), limit: query.limit + 1 });
      const page = rooms.slice(0, query.limit);
      return { rooms: page.map(adminRoomView), next: rooms.length > query.limit ? roomCursor(page.at(-1) as AdminRoomRecord) : null };
    },
  });

  for (const archived of [true, false]) {
    api.route({
      method: 'POST',
      path: `/api/v1/admin/rooms/:roomId/${archived ? 'archive' : 'unarchive'}`,
      operationId: archived ? 'adminArchiveRoom' : 'adminUnarchiveRoom',
      tag,
      summary: archived ? 'Archive any room' : 'Open any archived room again',
      description:
        `${only} As the room's owner would (POST /api/v1/rooms/{roomId}/${archived ? 'archive' : 'unarchive'}), member or not: members see a \`room_updated\` event naming the administrator. ` +
        `Not a direct-message room (\`forbidden\`, reason \`dm\`). ${audited}`,
      auth: true,
      params: rest.roomParams,
      status: 200,
      response: responses.RoomResult,
      errors: ['forbidden', 'not_found'],
      handler: async ({ session, params }) => {
        const by = await admin.authorize(session.user.id);
        return { room: roomView(await admin.setRoomArchived(by, params.roomId, archived)) };
      },
    });
  }

  api.route({
    method: 'GET',
    path: '/api/v1/admin/nodes',
    operationId: 'adminNodes',
    tag,
    summary: 'The nodes and their health',
    description: `${only} Every node heard from on the bus within three status intervals (NODE_STATUS_INTERVAL_MS): readiness, connections, message and delivery rates, event-loop lag, memory, breakers not closed.`,
    auth: true,
    status: 200,
    response: responses.AdminNodes,
    errors: ['forbidden'],
    handler: async ({ session }) => {
      await admin.authorize(session.user.id);
      return { nodes: admin.nodes().map(nodeView) };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/jobs',
    operationId: 'adminJobCounts',
    tag,
    summary: 'The job queues',
    description: `${only} Each queue's jobs waiting, delayed, running and dead.`,
    auth: true,
    status: 200,
    response: responses.AdminJobCounts,
    errors: ['forbidden'],
    handler: async ({ session }) => {
      await admin.authorize(session.user.id);
      return { queues: await admin.jobCounts() };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/jobs/:queue/dead',
    operationId: 'adminDeadJobs',
    tag,
    summary: "A queue's dead jobs",
    description: `${only} Jobs out of attempts, with their last error. An unknown queue is \`not_found\`.`,
    auth: true,
    params: rest.adminQueueParams,
    query: rest.adminDeadQuery,
    status: 200,
    response: responses.AdminDeadJobs,
    errors: ['forbidden', 'not_found'],
    handler: async ({ session, params, query }) => {
      await admin.authorize(session.user.id);
      return { jobs: (await admin.deadJobs(params.queue, query.limit)).map(deadJobView) };
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/admin/jobs/:queue/dead/:jobId/retry',
    operationId: 'adminRetryDeadJob',
    tag,
    summary: 'Run a dead job again',
    description: `${only} It is ready again with its attempts renewed. ${audited}`,
    auth: true,
    params: rest.adminDeadJobParams,
    status: 204,
    errors: ['forbidden', 'not_found'],
    handler: async ({ session, params }) => {
      const by = await admin.authorize(session.user.id);
      await admin.retryDeadJob(by, params.queue, params.jobId);
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/admin/jobs/:queue/dead/:jobId',
    operationId: 'adminPurgeDeadJob',
    tag,
    summary: 'Delete a dead job',
    description: `${only} ${audited}`,
    auth: true,
    params: rest.adminDeadJobParams,
    status: 200,
    response: responses.AdminPurged,
    errors: ['forbidden', 'not_found'],
    handler: async ({ session, params }) => {
      const by = await admin.authorize(session.user.id);
      return { purged: await admin.purgeDeadJobs(by, params.queue, params.jobId) };
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/admin/jobs/:queue/dead',
    operationId: 'adminPurgeDeadJobs',
    tag,
    summary: "Delete every dead job of a queue",
    description: `${only} ${audited}`,
    auth: true,
    params: rest.adminQueueParams,
    status: 200,
    response: responses.AdminPurged,
    errors: ['forbidden', 'not_found'],
    handler: async ({ session, params }) => {
      const by = await admin.authorize(session.user.id);
      return { purged: await admin.purgeDeadJobs(by, params.queue) };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/audit',
    operationId: 'adminAudit',
    tag,
    summary: "The server's audit log",
    description: `${only} Every administrator's action, through the API or at the console (\`parley admin\`), newest first.`,
    auth: true,
    query: rest.adminAuditQuery,
    status: 200,
    response: responses.ServerAuditPage,
    errors: ['forbidden'],
    handler: async ({ session, query }) => {
      await admin.authorize(session.user.id);
      const entries = await admin.audit(query.before, query.limit + 1);
      const page = entries.slice(0, query.limit);
      return { entries: page.map(auditEntryView), nextBefore: entries.length > query.limit ? (page.at(-1)?.id ?? null) : null };
    },
  });
}
