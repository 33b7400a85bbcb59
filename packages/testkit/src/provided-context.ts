// What the global setup hands to test files through vitest's provide/inject.
declare module 'vitest' {
  export interface ProvidedContext {
    /** NATS server URL shared by every test file of the run. */
    'tessera.natsUrl': string;
    /** Postgres URL (database `tessera`) shared by every test file of the run. */
    'tessera.databaseUrl': string;
  }
}

export {};
