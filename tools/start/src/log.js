// Output helpers: every line `npm start` prints carries a `[source]` prefix, colored on a TTY.
// Apps write JSON log lines (their stdout is a pipe); on a terminal they are shown readable.
import { createInterface } from 'node:readline';
import { prettyFactory } from 'pino-pretty';

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92];
const useColor = Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'];

/**
 * @param {string} name
 * @param {number} colorIndex
 * @returns {string}
 */
export function prefixFor(name, colorIndex) {
  const label = `[${name}]`;
  if (!useColor) return label;
  const color = COLORS[colorIndex % COLORS.length] ?? 36;
  return `\u001b[${color}m${label}\u001b[0m`;
}

const ownPrefix = useColor ? '\u001b[1m[tessera]\u001b[0m' : '[tessera]';

/** @param {string} message */
export function info(message) {
  process.stdout.write(`${ownPrefix} ${message}\n`);
}

/** @param {string} message */
export function warn(message) {
  process.stderr.write(`${ownPrefix} ${message}\n`);
}

/**
 * Turns a pino JSON line into readable text (level, time, message, fields); other lines, and
 * everything when the output is not a terminal, pass unchanged.
 * @param {boolean} readable
 * @returns {(line: string) => string}
 */
export function lineFormatter(readable) {
  if (!readable) return (line) => line;
  const prettify = prettyFactory({
    colorize: useColor,
    translateTime: 'SYS:HH:MM:ss.l',
    // The prefix already names the app.
    ignore: 'pid,hostname,service',
  });
  return (line) => (line.startsWith('{') ? prettify(line).trimEnd() : line);
}

const formatLine = lineFormatter(Boolean(process.stdout.isTTY));

/**
 * Copies a stream line by line to `out`, each line prefixed (and readable on a terminal).
 * @param {NodeJS.ReadableStream} input
 * @param {NodeJS.WritableStream} out
 * @param {string} prefix
 * @returns {Promise<void>} resolves when the input ends
 */
export function pipeLines(input, out, prefix) {
  const lines = createInterface({ input, crlfDelay: Infinity });
  lines.on('line', (line) => {
    for (const shown of formatLine(line).split('\n')) out.write(`${prefix} ${shown}\n`);
  });
  return new Promise((resolve) => lines.once('close', () => resolve()));
}
