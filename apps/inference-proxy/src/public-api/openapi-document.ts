import { openAiErrorBodySchema, publicRoutes, type PublicRoute } from '@tessera/contracts';
import { z } from 'zod';

const asJsonSchema = (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function parameters(route: PublicRoute): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const add = (where: 'path' | 'query', object: z.ZodObject | undefined) => {
    if (!object) return;
    const schema = asJsonSchema(object, 'input') as {
      properties?: Record<string, unknown>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      found.push({
        name,
        in: where,
        required: where === 'path' || (schema.required ?? []).includes(name),
        schema: property,
      });
    }
  };
  add('path', route.pathParams);
  add('query', route.query);
  return found;
}

function operation(route: PublicRoute): Record<string, unknown> {
  const success =
    route.responseKind === 'csv'
      ? { 'text/csv': { schema: { type: 'string' } } }
      : route.responseKind === 'sse'
        ? { 'text/event-stream': { schema: asJsonSchema(route.response, 'output') } }
        : { 'application/json': { schema: asJsonSchema(route.response, 'output') } };
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.scope === null ? {} : { description: `Needs an API key with the \`${route.scope}\` scope.` }),
    parameters: parameters(route),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: asJsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    responses: {
      [String(route.status ?? 200)]: { description: 'Success', content: success },
      '400': errorResponse('Invalid request (`error.param` names the field)'),
      '401': errorResponse('Missing, unknown, revoked or expired API key'),
      '403': errorResponse('The key lacks the scope, or the account is suspended'),
      '404': errorResponse('Not found (or not yours)'),
      '429': errorResponse('Rate limit reached (see `retry-after`)'),
      '503': errorResponse('No capacity now (see `retry-after`)'),
    },
  };
}

/** The public API as an OpenAPI 3.1 document, generated from the contracts' route table. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of publicRoutes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tessera API',
      version: '1',
      description:
        'OpenAI-compatible inference on models served by Bittensor miners, plus account, keys, usage and deployments. Authenticate with `Authorization: Bearer tsk_…`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: asJsonSchema(openAiErrorBodySchema, 'output') },
    },
    paths,
  };
}
