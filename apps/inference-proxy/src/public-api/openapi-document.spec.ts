import { publicRoutes } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi-document.js';

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with every route of the contracts, each with its parameters and error answers', () => {
    const document = openApiDocument() as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            operationId: string;
            parameters: { name: string; in: string }[];
            responses: Record<string, unknown>;
            requestBody?: unknown;
          }
        >
      >;
    };
    expect(document.openapi).toBe('3.1.0');
    for (const route of publicRoutes) {
      const operation = document.paths[route.path]?.[route.method];
      expect(operation?.operationId, route.operationId).toBe(route.operationId);
      expect(Object.keys(operation!.responses)).toContain('401');
      expect(operation!.requestBody !== undefined).toBe(route.body !== undefined);
      for (const name of Object.keys(route.pathParams?.shape ?? {})) {
        expect(operation!.parameters).toContainEqual(expect.objectContaining({ name, in: 'path' }));
      }
    }
    const chat = document.paths['/v1/chat/completions']!['post']!.requestBody as {
      content: { 'application/json': { schema: { required: string[] } } };
    };
    expect(chat.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['model', 'messages']),
    );
  });
});
