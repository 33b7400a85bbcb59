import { describe, expect, it } from 'vitest';
import { renderDocsPage } from './docs-page.js';
import { openApiDocument } from './openapi-document.js';

describe('the docs page', () => {
  it('shows every operation of the OpenAPI document with its parameters, body fields and error statuses', () => {
    const document = openApiDocument() as {
      paths: Record<
        string,
        Record<
          string,
          {
            operationId: string;
            parameters: { name: string }[];
            responses: Record<string, unknown>;
            requestBody?: { content: { 'application/json': { schema: { properties?: object } } } };
          }
        >
      >;
    };
    const page = renderDocsPage(document);
    let operations = 0;
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        operations += 1;
        const section = page.slice(page.indexOf(`id="${operation.operationId}"`));
        const end = section.indexOf('</section>');
        const html = section.slice(0, end);
        expect(end, operation.operationId).toBeGreaterThan(0);
        expect(html).toContain(`${method.toUpperCase()}</span> <code>${path}</code>`);
        for (const parameter of operation.parameters)
          expect(html).toContain(`<code>${parameter.name}</code>`);
        const fields = operation.requestBody?.content['application/json'].schema.properties ?? {};
        for (const field of Object.keys(fields)) expect(html).toContain(`<code>${field}</code>`);
        for (const status of Object.keys(operation.responses))
          expect(html).toContain(`<code>${status}</code>`);
      }
    }
    expect(operations).toBeGreaterThan(15);
    // Self-contained: nothing loaded from elsewhere, no script.
    expect(page).not.toMatch(/<script|<link|src=|https?:\/\//);
  });

  it('escapes what the document says', () => {
    const page = renderDocsPage({
      info: { title: 'T <b>', version: '1' },
      paths: {
        '/x/{id}': {
          get: {
            operationId: 'op"x',
            summary: '<script>alert(1)</script>',
            parameters: [{ name: '<i>', in: 'path', required: true, schema: { type: 'string' } }],
            responses: { '200': { description: 'ok & fine' } },
          },
        },
      },
    });
    expect(page).not.toContain('<script>');
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page).toContain('id="op&#34;x"');
    expect(page).toContain('ok &#38; fine');
  });

  it('refuses something that is not an OpenAPI document', () => {
    expect(() => renderDocsPage({ paths: 'nope' })).toThrow();
  });
});
