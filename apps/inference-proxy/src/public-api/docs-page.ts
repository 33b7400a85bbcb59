import { z } from 'zod';

/**
 * `GET /docs`: the OpenAPI document as one self-contained HTML page (rendered on the server, no
 * script, no CDN), so the API reads the same as `/openapi.json` says, offline too.
 */

const jsonSchema = z.record(z.string(), z.unknown());
const operationSchema = z.object({
  operationId: z.string(),
  summary: z.string().default(''),
  description: z.string().optional(),
  tags: z.array(z.string()).default([]),
  parameters: z
    .array(
      z.object({
        name: z.string(),
        in: z.string(),
        required: z.boolean().default(false),
        schema: jsonSchema.default({}),
      }),
    )
    .default([]),
  requestBody: z
    .object({ content: z.record(z.string(), z.object({ schema: jsonSchema.default({}) })) })
    .optional(),
  responses: z.record(z.string(), z.object({ description: z.string().default('') })),
});
/** The part of an OpenAPI 3.1 document the page shows. */
const documentSchema = z.object({
  info: z.object({ title: z.string(), version: z.string(), description: z.string().default('') }),
  components: z
    .object({ securitySchemes: z.record(z.string(), jsonSchema).default({}) })
    .default({ securitySchemes: {} }),
  paths: z.record(z.string(), z.record(z.string(), operationSchema)),
});
type Operation = z.infer<typeof operationSchema>;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** Backticks in the document's prose become code. */
const prose = (text: string): string => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

/** A JSON Schema's type in a few words: `string`, `integer | null`, `array of object`, `"a" | "b"`. */
function typeOf(schema: Record<string, unknown>): string {
  if (Array.isArray(schema['enum'])) return schema['enum'].map((value) => JSON.stringify(value)).join(' | ');
  if ('const' in schema) return JSON.stringify(schema['const']);
  const alternatives = (schema['anyOf'] ?? schema['oneOf']) as unknown;
  if (Array.isArray(alternatives)) {
    return [...new Set(alternatives.map((item) => typeOf(jsonSchema.catch({}).parse(item))))].join(' | ');
  }
  const type = schema['type'];
  if (type === 'array') return `array of ${typeOf(jsonSchema.catch({}).parse(schema['items'] ?? {}))}`;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.join(' | ');
  return 'any';
}

function fieldRows(schema: Record<string, unknown>): string {
  const properties = jsonSchema.catch({}).parse(schema['properties'] ?? {});
  const required = new Set(
    z
      .array(z.string())
      .catch([])
      .parse(schema['required'] ?? []),
  );
  return Object.entries(properties)
    .map(([name, property]) => {
      const field = jsonSchema.catch({}).parse(property);
      const description = typeof field['description'] === 'string' ? prose(field['description']) : '';
      return `<tr><td><code>${escapeHtml(name)}</code></td><td>${escapeHtml(typeOf(field))}</td><td>${required.has(name) ? 'yes' : ''}</td><td>${description}</td></tr>`;
    })
    .join('');
}

function operationHtml(method: string, path: string, operation: Operation): string {
  const parameters =
    operation.parameters.length === 0
      ? ''
      : `<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Type</th><th>Required</th></tr>${operation.parameters
          .map(
            (parameter) =>
              `<tr><td><code>${escapeHtml(parameter.name)}</code></td><td>${escapeHtml(parameter.in)}</td><td>${escapeHtml(typeOf(parameter.schema))}</td><td>${parameter.required ? 'yes' : ''}</td></tr>`,
          )
          .join('')}</table>`;
  const body = Object.entries(operation.requestBody?.content ?? {})
    .map(
      ([mediaType, { schema }]) =>
        `<h4>Request body <small>${escapeHtml(mediaType)}</small></h4>` +
        `<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Notes</th></tr>${fieldRows(schema)}</table>` +
        `<details><summary>JSON Schema</summary><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></details>`,
    )
    .join('');
  const responses = Object.entries(operation.responses)
    .map(
      ([status, response]) =>
        `<tr><td><code>${escapeHtml(status)}</code></td><td>${prose(response.description)}</td></tr>`,
    )
    .join('');
  return (
    `<section class="operation" id="${escapeHtml(operation.operationId)}">` +
    `<h3><span class="method">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>` +
    `<p>${prose(operation.summary)} <small>(<code>${escapeHtml(operation.operationId)}</code>)</small></p>` +
    `<p class="auth">${operation.description ? prose(operation.description) : 'Needs an API key.'}</p>` +
    parameters +
    body +
    `<h4>Responses</h4><table><tr><th>Status</th><th>Meaning</th></tr>${responses}</table>` +
    `</section>`
  );
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f5f5f5;padding:.6em;overflow:auto}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
.operation{border-top:1px solid #ccc;margin-top:1.5em}.method{font-family:ui-monospace,monospace;background:#eef;padding:0 .4em}
nav li{list-style:none}nav ul{padding-left:1em}`;

/** The page for `document` (as `openApiDocument()` builds it). Throws if it is not such a document. */
export function renderDocsPage(document: unknown): string {
  const parsed = documentSchema.parse(document);
  const byTag = new Map<string, { method: string; path: string; operation: Operation }[]>();
  for (const [path, methods] of Object.entries(parsed.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const tag = operation.tags[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, operation }]);
    }
  }
  const schemes = Object.entries(parsed.components.securitySchemes)
    .map(([name, scheme]) => `<code>${escapeHtml(name)}</code>: ${escapeHtml(JSON.stringify(scheme))}`)
    .join('; ');
  const contents = [...byTag]
    .map(
      ([tag, operations]) =>
        `<li>${escapeHtml(tag)}<ul>${operations
          .map(
            ({ method, path, operation }) =>
              `<li><a href="#${escapeHtml(operation.operationId)}">${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</a></li>`,
          )
          .join('')}</ul></li>`,
    )
    .join('');
  const sections = [...byTag]
    .map(
      ([tag, operations]) =>
        `<h2>${escapeHtml(tag)}</h2>${operations
          .map(({ method, path, operation }) => operationHtml(method, path, operation))
          .join('')}`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(parsed.info.title)} reference</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(parsed.info.title)} <small>v${escapeHtml(parsed.info.version)}</small></h1>
<p>${prose(parsed.info.description)}</p>
<p>Authentication: <code>Authorization: Bearer &lt;API key&gt;</code> (${schemes}). Errors come in OpenAI's shape <code>{"error": {"message", "type", "param", "code"}}</code>. The machine-readable document: <a href="/openapi.json">/openapi.json</a>.</p>
<nav><h2>Routes</h2><ul>${contents}</ul></nav>
${sections}
</body></html>
`;
}
