/**
 * `tessera`'s exit codes, for scripts: 0 done; 1 the service, NATS or the connection refused or
 * failed (the printed code says which); 2 the command line is wrong (nothing was sent); 3 done,
 * and what it checked disagrees (a reconciliation with mismatches, a replay with failures).
 */
export const ExitCode = { ok: 0, failed: 1, usage: 2, problemsFound: 3 } as const;
