/**
 * The API reference as an OpenAPI 3.1 document, built from the route declarations of route.ts:
 * the schemas a route validates its input with become its parameters and request body, its
 * response schema (src/protocol/responses.ts) its answer, and its error codes the catalogue's
 * error responses. Nothing here is written by hand about a single route, so the reference says
 * what the server does. The WebSocket protocol is not an HTTP API OpenAPI can describe: the
 * document's description points to docs/protocol.md for it.
 */
import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../protocol/catalogue.js';
import { responses, views } from '../protocol/responses.js';
import { SESSION_COOKIE } from './credentials.js';
import { errorsOf, type RouteDeclaration } from './route.js';

/** A JSON Schema as the document holds it (draft 2020-12, the dialect of OpenAPI 3.1). */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  [keyword: string]: unknown;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface MediaTypes {
  [contentType: string]: { schema: JsonSchema };
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: MediaTypes;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: MediaTypes };
  responses: Record<string, ResponseObject | { $ref: string }>;
}

// A type, not an interface: it is the body of an answer, an object with any keys to its schema.
export type OpenApiDocument = {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string; description: string }>;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    securitySchemes: Record<string, Record<string, string>>;
  };
};

const SCHEMAS = '#/components/schemas/';
const ERROR_RESPONSES = '#/components/responses/';

/** What each error code means, for the reference; the codes and statuses are the catalogue's. */
const MEANING: Record<ErrorCode, string> = {
  validation_failed: 'The request is malformed: bad JSON, invalid UTF-8, a wrong type, an unknown field, a value out of range. `details.issues` lists `{path, message}`.',
  unauthorized: 'No token, or a wrong or expired one; or a wrong username or password.',
  forbidden: 'Not allowed: the room is public but the caller is not a member, or the message is not theirs to change; or a request authenticated by the session cookie that changes something came from an origin that is not allowed; or the caller is a bot, which acts only in the rooms a member added it to.',
  not_found: 'No such room, message or user; also a private room or DM the caller is not in, so ids reveal nothing.',
  conflict: 'The request clashes with what exists: a taken username or a name that resembles another user\'s (`details.field`, `details.reason`), a DM cannot be left.',
  payload_too_large: 'The body is over the server\'s limit (64 KiB by default; an upload: UPLOAD_MAX_BYTES, or an image over IMAGE_MAX_PIXELS).',
  unsupported_media_type: 'An upload whose content (sniffed from its bytes, whatever its name says) is not a type the server accepts. `details.contentType` says what it is.',
  range_not_satisfiable: 'A Range header that asks for bytes past the end of the file. The `Content-Range` header gives its size.',
  rate_limited: 'Over a rate limit. `details.retryAfterMs` says how long to wait.',
  unavailable: 'A dependency is down, or the server is overloaded or shutting down.',
  internal: 'A bug on the server\'s side; it is logged. The message never carries a stack.',
};

const RETRY_AFTER = { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } };

const DESCRIPTION = `The REST API of a Parley server, generated from the schemas the server checks requests with.
The full contract, with the guarantees behind it, is docs/protocol.md in the server's source.

Authentication: send \`Authorization: Bearer <token>\` with the token that register and login answer, or the \`${SESSION_COOKIE}\` cookie they set. A request authenticated by the cookie that changes something (POST, PUT, PATCH, DELETE) must carry an allowed \`Origin\`, and a POST must say \`Content-Type: application/json\` (an upload: \`application/octet-stream\`), also without a body; bearer requests need neither.

Errors: every error answers \`{"error": {"code", "message", "details"?}}\`; the code says what happened and whether a retry helps, and each operation lists the codes it can answer. Bodies are JSON (\`Content-Type: application/json\`); request objects are strict: an unknown field is \`validation_failed\`.

Answers may gain fields in later versions: ignore the ones you do not know.

Real time: the WebSocket endpoint \`GET /ws\` (authenticated at the upgrade by the cookie, the \`Authorization\` header or \`?token=\`) carries subscriptions with resume, live room events, sends, edits, deletes, read markers, typing and presence, as JSON text frames. OpenAPI does not describe WebSocket frames: they are specified in docs/protocol.md, section "WebSocket (GET /ws)", with the close codes and what a client does after each.`;

/** `/api/v1/rooms/:roomId` → `/api/v1/rooms/{roomId}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const upperFirst = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * Makes zod's output fit the document: no `$schema` or `$id` inside it, a `date-time` string
 * without the regular expression that spells the same thing out, and, for answers, objects left
 * open (a client must accept fields added later; the strict schemas are for the tests).
 */
function tidy(openObjects: boolean) {
  return ({ jsonSchema }: { jsonSchema: z.core.JSONSchema.BaseSchema }): void => {
    delete jsonSchema.$schema;
    delete jsonSchema.$id;
    if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
    if (openObjects && jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
  };
}

/** A schema of the request, standalone: zod's input side, since that is what a client sends. */
function requestSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', override: tidy(false) }) as JsonSchema;
  delete json.$schema;
  return json;
}

/**
 * Path or query parameters from an object schema. A parameter is described as the server reads
 * it (zod's output side: `limit` is an integer with its default, not the string it arrives as);
 * whether it is required comes from the input side (a parameter with a default is optional).
 */
function parameters(schema: z.ZodType, where: 'path' | 'query', operationId: string): Parameter[] {
  const output = z.toJSONSchema(schema, { io: 'output', override: tidy(false) }) as JsonSchema;
  const required = new Set(requestSchema(schema).required ?? []);
  if (output.type !== 'object' || output.properties === undefined) throw new Error(`${operationId}: the ${where} schema must be an object`);
  return Object.entries(output.properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

/** Every answer's schema, by name: the shared views, the wrapping bodies, and any a route declares inline. */
function answerSchemas(routes: readonly RouteDeclaration[]): { schemas: Record<string, JsonSchema>; names: Map<z.ZodType, string> } {
  const registry = z.registry<{ id: string }>();
  const names = new Map<z.ZodType, string>();
  const add = (name: string, schema: z.ZodType) => {
    if (names.has(schema)) return;
    if ([...names.values()].includes(name)) throw new Error(`two schemas named ${name}`);
    names.set(schema, name);
    registry.add(schema, { id: name });
  };
  for (const [name, schema] of Object.entries(views)) add(name, schema);
  for (const [name, schema] of Object.entries(responses)) add(name, schema);
  for (const route of routes) if (route.response !== undefined) add(`${upperFirst(route.operationId)}Response`, route.response);
  const converted = z.toJSONSchema(registry, { io: 'output', uri: (id) => `${SCHEMAS}${id}`, override: tidy(true) });
  const schemas = converted.schemas as Record<string, JsonSchema>;
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return { schemas, names };
}

/** One response per error code, each in the shared error shape with its code fixed. */
function errorResponses(): Record<string, ResponseObject> {
  const out: Record<string, ResponseObject> = {};
  for (const [code, entry] of Object.entries(ERRORS) as Array<[ErrorCode, (typeof ERRORS)[ErrorCode]]>) {
    out[code] = {
      description: `\`${code}\`: ${MEANING[code]} Retry: ${entry.retry}.`,
      ...(code === 'rate_limited' || code === 'unavailable' ? { headers: { 'Retry-After': RETRY_AFTER } } : {}),
      content: {
        'application/json': {
          schema: {
            allOf: [{ $ref: `${SCHEMAS}Error` }, { type: 'object', properties: { error: { type: 'object', properties: { code: { const: code } } } } }],
          },
        },
      },
    };
  }
  return out;
}

function operation(route: RouteDeclaration, answerNames: Map<z.ZodType, string>): Operation {
  const params = [
    ...(route.params === undefined ? [] : parameters(route.params, 'path', route.operationId)),
    ...(route.query === undefined ? [] : parameters(route.query, 'query', route.operationId)),
  ];
  const success: ResponseObject = { description: route.summary };
  if (route.response !== undefined) {
    success.content = { [route.contentType ?? 'application/json']: { schema: { $ref: `${SCHEMAS}${answerNames.get(route.response)}` } } };
  }
  const answers: Operation['responses'] = { [String(route.status)]: success };
  for (const [status, when] of Object.entries(route.otherAnswers ?? {})) answers[status] = { description: when ?? '' };
  const codes = errorsOf(route).sort((a, b) => ERRORS[a].status - ERRORS[b].status);
  for (const code of codes) answers[String(ERRORS[code].status)] = { $ref: `${ERROR_RESPONSES}${code}` };
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    tags: [route.tag],
    security: route.auth ? [{ bearerToken: [] }, { sessionCookie: [] }] : [],
    ...(params.length === 0 ? {} : { parameters: params }),
    ...(route.body === undefined ? {} : { requestBody: { required: !route.body.safeParse(undefined).success, content: { 'application/json': { schema: requestSchema(route.body) } } } }),
    ...(route.rawBody === true ? { requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary', description: "The file's bytes." } } } } } : {}),
    responses: answers,
  };
}

export function buildOpenApi(routes: readonly RouteDeclaration[], options: { version: string }): OpenApiDocument {
  // One response object per status: two codes sharing a status would need one that lists both.
  const statuses = Object.values(ERRORS).map((e) => e.status);
  if (new Set(statuses).size !== statuses.length) throw new Error('two error codes share an HTTP status');
  const { schemas, names } = answerSchemas(routes);
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route, names);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Parley API', version: options.version, description: DESCRIPTION },
    servers: [{ url: '/', description: 'The server this document was fetched from' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      responses: errorResponses(),
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'The token of register or login.' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Set by register and login; HttpOnly, SameSite=Lax.' },
      },
    },
  };
}
