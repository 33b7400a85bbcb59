// Nest-free entry (`@tessera/platform/config`) for main.ts and config files loaded before telemetry.
export * from './define-config.js';
