import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * Loads a dotenv file into `process.env` without overriding variables that are already set,
 * so `NATS_URL=… npm start` wins over `.env`.
 * @param {string} file
 * @returns {boolean} whether the file existed
 */
export function loadEnvFile(file) {
  if (!existsSync(file)) return false;
  const parsed = parseEnv(readFileSync(file, 'utf8'));
  for (const [key, value] of Object.entries(parsed)) {
    if (process.env[key] === undefined && value !== undefined) process.env[key] = value;
  }
  return true;
}

/**
 * Reads a TCP port from the environment.
 * @param {string} name
 * @param {number} fallback
 * @returns {{ port: number, explicit: boolean }}
 */
export function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return { port: fallback, explicit: false };
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a TCP port number (0-65535), got ${JSON.stringify(raw)}`);
  }
  return { port, explicit: true };
}
