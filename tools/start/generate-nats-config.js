#!/usr/bin/env node
// `npm run generate:nats-config`: writes the nats-server configs of docker-compose and
// Kubernetes from the permissions table (see src/nats-deploy-config.js).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as devservers from '@tessera/devservers';
import { deployNatsConfigs } from './src/nats-deploy-config.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
for (const [path, content] of Object.entries(deployNatsConfigs(devservers))) {
  mkdirSync(dirname(join(repoRoot, path)), { recursive: true });
  writeFileSync(join(repoRoot, path), content);
  console.log(`wrote ${path}`);
}
