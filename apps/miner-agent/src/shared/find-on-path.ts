import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

/** The executable `name` resolves to (an absolute or relative path is checked as is), or undefined. */
export async function findOnPath(name: string): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [name]
    : (process.env['PATH'] ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '' && isAbsolute(dir))
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
