// Flat config shared by every workspace: each package runs `eslint src` with this file.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

const root = dirname(fileURLToPath(import.meta.url));

/** Package names of the workspaces under `folder` (`@tessera/billing`, …), read so a new app is covered at once. */
function workspaceNames(folder) {
  return readdirSync(join(root, folder), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      try {
        return [JSON.parse(readFileSync(join(root, folder, entry.name, 'package.json'), 'utf8')).name];
      } catch {
        return [];
      }
    });
}
const appPackages = workspaceNames('apps');
/** Both the package and its subpath entries (`@tessera/billing/cli`). */
const withSubpaths = (names) => names.flatMap((name) => [name, `${name}/**`]);

const natsModules = ['@nats-io/*', '@nestjs/microservices', '@nestjs/microservices/**'];
/** What only `@tessera/platform/messaging` may bring in. */
const messagingModules = [
  ...natsModules,
  '@tessera/eventstore',
  '@tessera/eventstore/**',
  '@tessera/platform/messaging',
];
/** Frameworks `contracts` must not know: it is shared by every process, the miner agent and the CLI included. */
const frameworkModules = [
  '@nestjs/*',
  ...natsModules,
  'pg',
  'pg-*',
  'typeorm',
  'typeorm/**',
  'express',
  'reflect-metadata',
  'rxjs',
  '@tessera/*',
  '@tessera/*/**',
];

// The layering (issue 9 item 9): packages never import apps, apps never import apps, contracts
// imports no framework, the platform's core loads nothing of NATS, and the miner agent (which
// runs without NATS) imports neither the event store nor the platform's messaging side.
// Workspace packages are matched both by where they resolve (needs their `dist/` types) and by
// the import's text (works before anything is built).
const layering = {
  files: ['**/*.ts'],
  plugins: { boundaries },
  settings: {
    'boundaries/root-path': root,
    'import/resolver': {
      typescript: {
        project: ['packages/*/tsconfig.json', 'apps/*/tsconfig.json', 'tools/*/tsconfig.json'].map((p) =>
          join(root, p),
        ),
        noWarnOnMultipleProjects: true,
      },
    },
    // First match wins: the messaging folders of the platform before the platform itself.
    'boundaries/elements': [
      {
        // The RPC benchmark exercises the messaging side too.
        type: 'platform-messaging',
        pattern: ['packages/platform/src/{nats,rpc,eventstore,lease,messaging}', 'packages/platform/bench'],
        partialMatch: false,
      },
      { type: 'platform', pattern: 'packages/platform', partialMatch: false },
      { type: 'contracts', pattern: 'packages/contracts', partialMatch: false },
      { type: 'package', pattern: 'packages/*', partialMatch: false },
      { type: 'miner-agent', pattern: 'apps/miner-agent', partialMatch: false },
      { type: 'app', pattern: 'apps/*', partialMatch: false },
      { type: 'tool', pattern: 'tools/*', partialMatch: false },
    ],
  },
  rules: {
    'boundaries/dependencies': [
      'error',
      {
        default: 'allow',
        // External modules too (NATS, Nest), not only files of the project.
        checkAllOrigins: true,
        policies: [
          {
            from: { element: { types: ['platform', 'platform-messaging', 'contracts', 'package'] } },
            disallow: [
              { to: { element: { types: ['app', 'miner-agent'] } } },
              { dependency: { source: withSubpaths(appPackages) } },
            ],
            message: 'packages never import apps',
          },
          {
            // Imports inside one app are internal to its element and not checked.
            from: { element: { types: ['app', 'miner-agent'] } },
            disallow: [
              { to: { element: { types: ['app', 'miner-agent'] } } },
              { dependency: { source: withSubpaths(appPackages) } },
            ],
            message: 'apps never import other apps: share code through a package',
          },
          {
            from: { element: { type: 'contracts' } },
            disallow: { dependency: { source: frameworkModules } },
            message: 'contracts imports no framework (no Nest, NATS, pg, typeorm, no other workspace)',
          },
          {
            from: { element: { type: 'platform' } },
            disallow: [
              { to: { element: { type: 'platform-messaging' } } },
              { dependency: { source: messagingModules } },
            ],
            message:
              "@tessera/platform's core loads nothing of NATS, the event store or Nest microservices: that belongs in @tessera/platform/messaging",
          },
          {
            from: { element: { type: 'miner-agent' } },
            disallow: [
              { to: { element: { types: ['platform-messaging'] } } },
              { dependency: { source: messagingModules } },
            ],
            message:
              'the miner agent runs without NATS: it imports neither @tessera/eventstore nor @tessera/platform/messaging',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', 'bench/results/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // With emitDecoratorMetadata a class used only as a constructor parameter type is still a
    // runtime value (Nest injects by it); telling the parser keeps consistent-type-imports from
    // turning such imports into `import type`.
    languageOptions: { parserOptions: { emitDecoratorMetadata: true, experimentalDecorators: true } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      'no-console': 'off',
    },
  },
  layering,
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
);
