import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProbeCompleted, Streams, type EventOf } from '@tessera/contracts';
import { sleep } from '@tessera/devservers';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { writeTinyModel } from '@tessera/tiny-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  outside,
  startMiner,
  startProxyProcess,
  type MinerHarness,
  type Outside,
  type ProxyProcess,
} from './__tests__/edge-processes.js';

async function probes(world: Outside): Promise<EventOf<typeof ProbeCompleted>[]> {
  return (await world.inferenceEvents()).filter((event) => ProbeCompleted.is(event));
}

describe('inference proxy: probing miners against a reference model', () => {
  let env: TestEnvironment;
  let world: Outside;
  let honest: MinerHarness;
  let liar: MinerHarness;
  let proxy: ProxyProcess;
  let referenceDir: string;

  beforeAll(async () => {
    env = await useTestEnvironment();
    world = await outside(env);
    // No billing process: the proxy only needs its stream to exist to start.
    await world.store.ensureStreams([Streams.BILLING]);
    referenceDir = await mkdtemp(join(tmpdir(), 'proxy-reference-'));
    const referencePath = join(referenceDir, 'reference.gguf');
    await writeTinyModel(referencePath, { seed: 11 });
    // The honest miner serves the deployment's model; the liar another GGUF under the same name.
    [honest, liar] = await Promise.all([
      startMiner(11, '//ProxyTestHonest'),
      startMiner(12, '//ProxyTestLiar'),
    ]);
    await Promise.all([
      honest.launch('inst-honest'),
      honest.launch('inst-honest-2'),
      liar.launch('inst-liar'),
    ]);
    await world.instanceReady(honest, 'inst-honest');
    await world.instanceReady(honest, 'inst-honest-2');
    await world.instanceReady(liar, 'inst-liar');
    proxy = await startProxyProcess(env, {
      PROBE_INTERVAL_MS: '150',
      PROBE_REFERENCE_MODELS: `tiny-chat=${referencePath}`,
    });
  }, 240_000);

  afterAll(async () => {
    await proxy?.process.stop('SIGTERM', 10_000);
    await honest?.stop();
    await liar?.stop();
    await world?.close();
    await env?.cleanup();
    if (referenceDir) await rm(referenceDir, { recursive: true, force: true });
  });

  it('scores an honest miner about 1 and a miner serving a different GGUF 0; replicas are compared on the same seed', async () => {
    let found: EventOf<typeof ProbeCompleted>[] = [];
    for (let attempt = 0; attempt < 600; attempt++) {
      found = await probes(world);
      const instances = new Set(found.map((probe) => probe.data.instanceId));
      const honestPair = found.some(
        (probe) => probe.data.instanceId !== 'inst-liar' && probe.data.consistent === true,
      );
      if (instances.has('inst-honest') && instances.has('inst-liar') && honestPair && found.length >= 6)
        break;
      await sleep(100);
    }
    const honestProbes = found.filter((probe) => probe.data.instanceId !== 'inst-liar');
    const liarProbes = found.filter((probe) => probe.data.instanceId === 'inst-liar');
    expect(honestProbes.length).toBeGreaterThan(0);
    expect(liarProbes.length).toBeGreaterThan(0);
    for (const probe of honestProbes) {
      expect(probe.data).toMatchObject({
        ok: true,
        reference: 'gguf',
        failure: null,
        minerHotkey: honest.hotkey,
        source: 'proxy-a',
      });
      expect(probe.data.quality).toBeGreaterThanOrEqual(0.95);
      expect(probe.data.ttftMs).not.toBeNull();
      expect(probe.data.completionTokens).toBeGreaterThan(0);
    }
    // Honest replicas agree with each other; the liar disagrees with whichever replica it was paired with.
    expect(honestProbes.some((probe) => probe.data.consistent === true)).toBe(true);
    for (const probe of liarProbes) expect(probe.data.consistent).not.toBe(true);
    expect(liarProbes.some((probe) => probe.data.consistent === false)).toBe(true);
    for (const probe of liarProbes) {
      expect(probe.data).toMatchObject({ ok: false, quality: 0, reference: 'gguf', failure: 'quality' });
      expect(probe.data.rankMisses).toBeGreaterThan(5);
    }
  });
});
