import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverApps, portVariable } from '../src/apps.js';

describe('discoverApps', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function appsDirWith(built: string[], unbuilt: string[] = []): string {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-apps-'));
    dirs.push(dir);
    for (const name of built) {
      mkdirSync(join(dir, name, 'dist'), { recursive: true });
      writeFileSync(join(dir, name, 'dist', 'main.js'), '');
    }
    for (const name of unbuilt) mkdirSync(join(dir, name, 'src'), { recursive: true });
    return dir;
  }

  it('gives known apps fixed ports from the base, whichever others are built', () => {
    const apps = discoverApps(appsDirWith(['scorer', 'billing'], ['scheduler']), 3000, {});
    expect(apps.map((app) => [app.name, app.httpPort])).toEqual([
      ['billing', 3001],
      ['scorer', 3004],
    ]);
  });

  it('puts unknown apps after the known ones, in name order, and honours <APP>_HTTP_PORT', () => {
    const apps = discoverApps(appsDirWith(['zeta', 'alpha', 'inference-proxy']), 4000, {
      INFERENCE_PROXY_HTTP_PORT: '8080',
    });
    expect(apps.map((app) => [app.name, app.httpPort])).toEqual([
      ['inference-proxy', 8080],
      ['alpha', 4007],
      ['zeta', 4008],
    ]);
  });

  it('returns nothing when the apps folder is missing', () => {
    expect(discoverApps(join(tmpdir(), 'tessera-no-such-dir'), 3000, {})).toEqual([]);
  });

  it('names port variables after the app', () => {
    expect(portVariable('training-coordinator')).toBe('TRAINING_COORDINATOR_HTTP_PORT');
  });
});
