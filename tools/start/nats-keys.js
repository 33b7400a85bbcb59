#!/usr/bin/env node
// `npm run nats:keys -- <dir>`: an nkey pair for every identity of the permissions table, for a
// deployment (docker-compose or Kubernetes). Seeds go to <dir>/<identity>.nk (0600, never
// printed); existing ones are kept. Prints what to hand to compose and kubectl.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadOrCreateNatsIdentityKeys, nkeyVariable, seedFile } from '@tessera/devservers';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npm run nats:keys -- <directory for the seeds, outside the repository>');
  process.exit(2);
}
const keysDir = resolve(dir);
const keys = await loadOrCreateNatsIdentityKeys(keysDir);
const identities = /** @type {Array<keyof typeof keys>} */ (Object.keys(keys));

// Public keys: not secret, but per deployment. One file both compose (`.env`) and kubectl read.
const publicKeys = identities.map((identity) => `${nkeyVariable(identity)}=${keys[identity].publicKey}`);
const publicKeysFile = join(keysDir, 'public-keys.env');
writeFileSync(publicKeysFile, `${publicKeys.join('\n')}\n`);
// Seeds for compose's interpolation, one variable per service (a secret file: 0600).
const composeSeedsFile = join(keysDir, 'compose-seeds.env');
writeFileSync(
  composeSeedsFile,
  `${identities.map((identity) => `NATS_SEED_${nkeyVariable(identity).slice('NKEY_'.length)}=${keys[identity].seed}`).join('\n')}\n`,
  { mode: 0o600 },
);

console.log(`nkey seeds in ${keysDir} (one <identity>.nk per identity, 0600)
docker compose: append both files to the untracked .env next to docker-compose.yml:
  cat ${publicKeysFile} ${composeSeedsFile} >> .env
Kubernetes (namespace tessera):
  kubectl -n tessera create configmap nats-user-nkeys --from-env-file=${publicKeysFile}
  kubectl -n tessera create secret generic tessera-nats-seeds \\
${identities.map((identity) => `    --from-file=${identity}=${seedFile(keysDir, identity)}`).join(' \\\n')}`);
