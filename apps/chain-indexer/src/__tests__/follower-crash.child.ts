/**
 * Child process for the cursor crash test: follows the chain and SIGKILLs itself inside the
 * commit of batch CRASH_AT_COMMIT, after the block rows are written and before the cursor moves.
 * Without CRASH_AT_COMMIT it follows until the cursor reaches STOP_AT, then exits.
 */
import { openFollower } from './follower.fixture.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const crashAt = process.env['CRASH_AT_COMMIT'] ? Number(process.env['CRASH_AT_COMMIT']) : undefined;
let commits = 0;
const fixture = await openFollower({
  natsUrl: env('NATS_URL'),
  databaseUrl: env('DATABASE_URL'),
  schema: env('SCHEMA'),
  namespace: env('NAMESPACE'),
  endpoint: env('CHAIN_ENDPOINT'),
  watched: [env('WATCHED')],
  follower: {
    startBlock: 1,
    prefetch: 2,
    commitBatch: Number(env('COMMIT_BATCH')),
    beforeCursorMove: (lastHeight) => {
      commits += 1;
      if (commits === crashAt) {
        process.stdout.write(`dying between rows and cursor at ${lastHeight}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    },
  },
});
const stopAt = Number(env('STOP_AT'));
fixture.follower.onCursor((cursor) => {
  if (cursor.height < stopAt) return;
  process.stdout.write(`cursor at ${cursor.height}\n`);
  void fixture.close().then(() => process.exit(0));
});
await fixture.follower.start();
