/**
 * The one way a REST route is added. `RestApi.route` registers the handler in Fastify and
 * records the declaration that the API reference is built from (openapi.ts). The handler
 * receives its input already parsed by the declared schemas, and must return the input type of
 * its declared response schema, so what the reference says a route takes and answers is what
 * the route checks and returns: there is no second copy to drift.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Authenticated } from '../domain/accounts.js';
import type { ErrorCode } from '../protocol/catalogue.js';
import { parse } from '../protocol/schemas.js';
import { type HttpContext, authenticate } from './context.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A route as the reference documents it. */
export interface RouteDeclaration {
  method: Method;
  /** In Fastify's form: `/api/v1/rooms/:roomId`. */
  path: string;
  /** Unique, camelCase: what a generated client names the call. */
  operationId: string;
  /** The group the reference lists it under. */
  tag: string;
  summary: string;
  description?: string;
  /** Needs a session: `Authorization: Bearer <token>` or the session cookie. */
  auth: boolean;
  params?: z.ZodType;
  query?: z.ZodType;
  /** A JSON body. */
  body?: z.ZodType;
  /** The body is raw bytes (`application/octet-stream`, an upload), streamed to the handler as `request.body`, not JSON. */
  rawBody?: boolean;
  /** How a validation error names the body: "Invalid registration: …". Default `body`. */
  bodyName?: string;
  status: 200 | 201 | 204;
  /** The body of the success answer; none for 204. */
  response?: z.ZodType;
  /** Of the success answer. Default `application/json`. */
  contentType?: 'application/json' | 'text/html; charset=utf-8' | 'application/octet-stream';
  /** Error codes the route answers besides those every route of its kind can (`errorsOf`). */
  errors: readonly ErrorCode[];
  /** Other answers, without a body: status → when (a 304 to a conditional request). */
  otherAnswers?: Readonly<Partial<Record<number, string>>>;
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;
// A 204 handler returns nothing: `void` lets it end without a return statement.
// biome-ignore lint/suspicious/noConfusingVoidType: the return type of a handler, named once here
type Answer<R> = R extends z.ZodType ? z.input<R> : void;

/** What a handler receives: the caller's session when the route needs one, and its input, parsed. */
export interface Call<A extends boolean, P, Q, B> {
  session: A extends true ? Authenticated : null;
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<A extends boolean, P, Q, B, R> extends RouteDeclaration {
  auth: A;
  params?: P & z.ZodType;
  query?: Q & z.ZodType;
  body?: B & z.ZodType;
  response?: R & z.ZodType;
  /** Runs first, before the session and the input are checked (the per-IP limit of login). */
  before?: (request: FastifyRequest) => Promise<void>;
  /**
   * Returns the body of the success answer, sent with `status`. A handler that answers otherwise
   * (a 304 of `otherAnswers`) sends it itself and returns the reply.
   */
  handler(call: Call<A, P, Q, B>): Promise<Answer<R> | FastifyReply>;
}

/**
 * The codes a route can answer whatever it declares: `validation_failed` (a malformed URL,
 * query string or body, checked before any handler), `unavailable` (the server is draining, or
 * a dependency is down) and `internal`; with a session, `unauthorized`, and for a method that
 * changes something `forbidden` too (a request authenticated by the session cookie from an
 * origin that is not allowed, http/csrf.ts); for a method that may carry a body,
 * `payload_too_large`.
 */
export function errorsOf(route: Pick<RouteDeclaration, 'method' | 'auth' | 'errors'>): ErrorCode[] {
  const changes = route.method !== 'GET';
  const implied: ErrorCode[] = ['validation_failed', 'unavailable', 'internal'];
  if (route.auth) implied.push('unauthorized');
  if (route.auth && changes) implied.push('forbidden');
  if (changes) implied.push('payload_too_large');
  return [...new Set([...route.errors, ...implied])];
}

/** A route Fastify serves, as its onRoute hook saw it. */
export interface ServedRoute {
  method: string;
  url: string;
}

const apis = new WeakMap<FastifyInstance, RestApi>();

/** The REST API of a server built by buildHttp: for tests, which hold it against the document. */
export function restApiOf(app: FastifyInstance): RestApi {
  const api = apis.get(app);
  if (api === undefined) throw new Error('this Fastify instance has no REST API');
  return api;
}

export class RestApi {
  readonly #app: FastifyInstance;
  readonly #ctx: HttpContext;
  readonly #routes: RouteDeclaration[] = [];
  readonly #served: ServedRoute[] = [];

  /** Create it before any route is added to `app`: it notes every route Fastify serves. */
  constructor(app: FastifyInstance, ctx: HttpContext) {
    this.#app = app;
    this.#ctx = ctx;
    // Every route, this helper's or not (probes, static files, HEAD routes Fastify adds), so a
    // test can hold what is served against what is documented.
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) this.#served.push({ method, url: route.url });
    });
    apis.set(app, this);
  }

  /** The declared routes, in the order they were added. */
  get routes(): readonly RouteDeclaration[] {
    return this.#routes;
  }

  /** Every route Fastify serves. */
  get served(): readonly ServedRoute[] {
    return this.#served;
  }

  route<A extends boolean, P = undefined, Q = undefined, B = undefined, R = undefined>(spec: RouteSpec<A, P, Q, B, R>): void {
    const { handler, before, ...declaration } = spec;
    if (this.#routes.some((r) => r.operationId === spec.operationId)) throw new Error(`operationId ${spec.operationId} is taken`);
    this.#routes.push(declaration);
    const ctx = this.#ctx;
    this.#app.route({
      method: spec.method,
      url: spec.path,
      config: { rawBody: spec.rawBody === true },
      handler: async (request, reply) => {
        if (before !== undefined) await before(request);
        // In this order: who is asking, then where, then how, then what.
        const session = spec.auth ? await authenticate(ctx, request) : null;
        const params = spec.params === undefined ? undefined : parse(spec.params, request.params, 'path');
        const query = spec.query === undefined ? undefined : parse(spec.query, request.query, 'query');
        const body = spec.body === undefined ? undefined : parse(spec.body, request.body, spec.bodyName ?? 'body');
        const result = await handler({ session, params, query, body, request, reply } as Call<A, P, Q, B>);
        if (result === reply) return reply;
        if (spec.contentType !== undefined) reply.type(spec.contentType);
        return reply.status(spec.status).send(spec.status === 204 ? undefined : result);
      },
    });
  }
}
