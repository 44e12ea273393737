/**
 * The API reference as one HTML page, rendered here from the OpenAPI document: every operation
 * with its parameters, body, answers and errors, then the shared schemas. Self-contained (one
 * inline style, no script, nothing fetched), so it is served with a policy that allows nothing
 * else. Every piece of text from the document is escaped: descriptions come from code, but a
 * page that escapes everything need not trust that.
 */
import { createHash } from 'node:crypto';
import type { JsonSchema, OpenApiDocument, Operation, Parameter, ResponseObject } from './openapi.js';

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1d2330}
h1 small{font-weight:normal;color:#667}
h2{border-bottom:2px solid #dde;padding-bottom:.2rem;margin-top:2.5rem}
h3{margin:0}
code,pre{font-family:ui-monospace,monospace;font-size:13px;background:#f2f3f7;border-radius:3px;padding:0 .25rem}
nav ul{list-style:none;padding-left:0}
nav li{margin:.15rem 0}
section.op{border:1px solid #dde;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}
section.schema{margin:1rem 0}
.method{display:inline-block;min-width:4.2rem;font:bold 12px ui-monospace,monospace;text-align:center;border-radius:3px;padding:.1rem .3rem;color:#fff;background:#556}
.get{background:#2b6cb0}.post{background:#2f855a}.patch{background:#b7791f}.put{background:#6b46c1}.delete{background:#c53030}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border-bottom:1px solid #e4e6ee;text-align:left;vertical-align:top;padding:.25rem .5rem}
th{font-weight:600;background:#f7f8fb}
.note{color:#556}
`;

/** The page's Content-Security-Policy: its one inline style, by hash, and nothing else. */
export const REFERENCE_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** Escaped text, with `code spans` (after escaping, so they cannot carry markup) and paragraphs. */
const prose = (text: string): string =>
  text
    .split(/\n\s*\n/)
    .map((p) => `<p>${escapeHtml(p.trim()).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`)
    .join('\n');

const inline = (text: string): string => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

const SCHEMA_REF = '#/components/schemas/';
const RESPONSE_REF = '#/components/responses/';
const schemaAnchor = (name: string) => `schema-${name}`;
const errorAnchor = (code: string) => `error-${code}`;

/** A short type: `string`, `array of <Room>`, `"public" | "private"`, with links to named schemas. */
function typeOf(schema: JsonSchema): string {
  if (schema.$ref !== undefined) {
    const name = schema.$ref.startsWith(SCHEMA_REF) ? schema.$ref.slice(SCHEMA_REF.length) : schema.$ref;
    return `<a href="#${escapeHtml(schemaAnchor(name))}">${escapeHtml(name)}</a>`;
  }
  if (schema.const !== undefined) return `<code>${escapeHtml(JSON.stringify(schema.const))}</code>`;
  if (schema.enum !== undefined) return schema.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(' | ');
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return alternatives.map(typeOf).join(' | ');
  if (schema.allOf !== undefined) return schema.allOf.map(typeOf).join(' &amp; ');
  const types = [schema.type ?? 'any'].flat();
  return types
    .map((type) => {
      if (type === 'array') return `array of ${schema.items === undefined ? 'any' : typeOf(schema.items)}`;
      return escapeHtml(typeof schema.format === 'string' ? `${type} (${schema.format})` : type);
    })
    .join(' | ');
}

/** Limits and defaults, in words. */
function constraints(schema: JsonSchema): string {
  const parts: string[] = [];
  const range = (low: unknown, high: unknown, unit: string) => {
    if (low !== undefined && high !== undefined) parts.push(`${low}–${high}${unit}`);
    else if (low !== undefined) parts.push(`at least ${low}${unit}`);
    else if (high !== undefined) parts.push(`at most ${high}${unit}`);
  };
  range(schema.minLength, schema.maxLength, ' characters');
  // The largest safe integer is a bound of JavaScript, not of the API: not worth a mention.
  range(schema.minimum, schema.maximum === Number.MAX_SAFE_INTEGER ? undefined : schema.maximum, '');
  range(schema.minItems, schema.maxItems, ' items');
  if (typeof schema.pattern === 'string') parts.push(`matches <code>${escapeHtml(schema.pattern)}</code>`);
  if (schema.default !== undefined) parts.push(`default <code>${escapeHtml(JSON.stringify(schema.default))}</code>`);
  if (schema.additionalProperties === false) parts.push('no other fields');
  return parts.join('; ');
}

function describe(schema: JsonSchema): string {
  const limits = constraints(schema);
  return [schema.description === undefined ? '' : inline(schema.description), limits === '' ? '' : `<span class="note">${limits}</span>`].filter((s) => s !== '').join(' ');
}

/** An object's fields as a table; anything else as its type. */
function schemaBlock(schema: JsonSchema): string {
  if (schema.properties === undefined) return `<p>${typeOf(schema)} ${describe(schema)}</p>`;
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties).map(
    ([name, property]) => `<tr><td><code>${escapeHtml(name)}</code></td><td>${typeOf(property)}</td><td>${required.has(name) ? 'yes' : 'no'}</td><td>${describe(property)}</td></tr>`,
  );
  const intro = describe({ ...schema, additionalProperties: undefined });
  const closed = schema.additionalProperties === false ? '<p class="note">No other fields are accepted.</p>' : '';
  return `${intro === '' ? '' : `<p>${intro}</p>`}<table><tr><th>field</th><th>type</th><th>required</th><th></th></tr>${rows.join('')}</table>${closed}`;
}

function parametersBlock(parameters: Parameter[]): string {
  const rows = parameters.map(
    (p) => `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${typeOf(p.schema)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${describe({ ...p.schema, description: p.description })}</td></tr>`,
  );
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>required</th><th></th></tr>${rows.join('')}</table>`;
}

function responsesBlock(answers: Operation['responses']): string {
  const rows = Object.entries(answers).map(([status, answer]) => {
    if ('$ref' in answer) {
      const code = answer.$ref.startsWith(RESPONSE_REF) ? answer.$ref.slice(RESPONSE_REF.length) : answer.$ref;
      return `<tr><td>${escapeHtml(status)}</td><td><a href="#${escapeHtml(errorAnchor(code))}"><code>${escapeHtml(code)}</code></a></td><td>${typeOf({ $ref: `${SCHEMA_REF}Error` })}</td></tr>`;
    }
    const media = Object.entries(answer.content ?? {});
    const body = media.length === 0 ? 'no body' : media.map(([type, m]) => `${typeOf(m.schema)} <span class="note">${escapeHtml(type)}</span>`).join('<br>');
    return `<tr><td>${escapeHtml(status)}</td><td>${inline(answer.description)}</td><td>${body}</td></tr>`;
  });
  return `<h4>Answers</h4><table><tr><th>status</th><th></th><th>body</th></tr>${rows.join('')}</table>`;
}

function operationBlock(path: string, method: string, op: Operation): string {
  const auth = op.security.length === 0 ? 'none' : op.security.map((s) => Object.keys(s).map(escapeHtml).join(' + ')).join(' or ');
  const body = op.requestBody?.content['application/json'];
  return `<section class="op" id="op-${escapeHtml(op.operationId)}">
<h3><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>
<p><strong>${inline(op.summary)}</strong> <span class="note">(${escapeHtml(op.operationId)})</span></p>
${op.description === undefined ? '' : prose(op.description)}
<p>Authentication: ${auth}</p>
${op.parameters === undefined ? '' : parametersBlock(op.parameters)}
${body === undefined ? '' : `<h4>Body <span class="note">application/json</span></h4>${schemaBlock(body.schema)}`}
${responsesBlock(op.responses)}
</section>`;
}

function errorBlock(code: string, response: ResponseObject): string {
  const headers = Object.keys(response.headers ?? {});
  return `<tr id="${escapeHtml(errorAnchor(code))}"><td><code>${escapeHtml(code)}</code></td><td>${inline(response.description)}${headers.length === 0 ? '' : ` <span class="note">Header: ${headers.map(escapeHtml).join(', ')}</span>`}</td></tr>`;
}

export function renderReferencePage(doc: OpenApiDocument): string {
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const byTag = doc.tags.map((tag) => ({ tag: tag.name, ops: operations.filter((o) => o.op.tags.includes(tag.name)) }));
  const title = `${doc.info.title} ${doc.info.version}`;
  const nav = byTag
    .map(
      ({ tag, ops }) =>
        `<h3>${escapeHtml(tag)}</h3><ul>${ops.map(({ path, method, op }) => `<li><a href="#op-${escapeHtml(op.operationId)}"><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></a> ${inline(op.summary)}</li>`).join('')}</ul>`,
    )
    .join('\n');
  const main = byTag.map(({ tag, ops }) => `<h2>${escapeHtml(tag)}</h2>\n${ops.map(({ path, method, op }) => operationBlock(path, method, op)).join('\n')}`).join('\n');
  const schemas = Object.entries(doc.components.schemas)
    .map(([name, schema]) => `<section class="schema" id="${escapeHtml(schemaAnchor(name))}"><h3>${escapeHtml(name)}</h3>${schemaBlock(schema)}</section>`)
    .join('\n');
  const errors = Object.entries(doc.components.responses).map(([code, response]) => errorBlock(code, response));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p class="note">OpenAPI ${escapeHtml(doc.openapi)}: <a href="openapi.json">openapi.json</a></p>
${prose(doc.info.description)}
<nav>
<h2>Operations</h2>
${nav}
</nav>
${main}
<h2>Errors</h2>
<p>Every error answers in the shape of <a href="#${schemaAnchor('Error')}">Error</a>, with one of these codes.</p>
<table><tr><th>code</th><th></th></tr>${errors.join('')}</table>
<h2>Schemas</h2>
${schemas}
</body>
</html>
`;
}
