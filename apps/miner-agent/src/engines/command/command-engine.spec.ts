import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EngineFailure, type EngineLaunch } from '../engine.js';
import { CommandEngine } from './command-engine.js';
import { sglangTemplate, vllmTemplate, type CommandTemplate } from './templates.js';

const launch: EngineLaunch = {
  instanceId: 'i-1',
  model: { name: 'org/model', path: '/models/org-model' },
  spec: { name: 'vllm', args: ['--dtype', 'bfloat16'] },
  gpus: [3, 5],
  concurrency: 16,
};

/** A template whose "engine" is a small node program (a real process; `port` in argv[1]). */
const scripted = (source: string): CommandTemplate => ({
  name: 'vllm',
  command: [process.execPath, '-e', source],
  args: (_launch, port) => [String(port)],
  env: () => ({ ENGINE_MARK: 'set' }),
  healthPath: '/health',
  readyTimeoutMs: 1_500,
});

const engine = (template: CommandTemplate) =>
  new CommandEngine({ template, logger: pino({ level: 'silent' }) });

describe('command engine templates', () => {
  it('start vLLM with the model, port, served name, one tensor-parallel rank per GPU, then the launch arguments', () => {
    const template = vllmTemplate(['vllm']);
    expect([...template.command, ...template.args(launch, 41000)]).toEqual([
      'vllm',
      'serve',
      '/models/org-model',
      ...['--host', '127.0.0.1', '--port', '41000'],
      ...['--served-model-name', 'org/model'],
      ...['--tensor-parallel-size', '2'],
      ...['--max-num-seqs', '16'],
      ...['--dtype', 'bfloat16'],
    ]);
    expect(template.env(launch)).toEqual({ CUDA_VISIBLE_DEVICES: '3,5' });
  });

  it('start SGLang the same way with its own flag names', () => {
    const args = sglangTemplate(['python3', '-m', 'sglang.launch_server']).args(launch, 41001);
    expect(args).toEqual(expect.arrayContaining(['--model-path', '/models/org-model', '--tp-size', '2']));
    expect(args.slice(-2)).toEqual(['--dtype', 'bfloat16']);
  });
});

describe('CommandEngine (real processes)', () => {
  it('becomes ready once the health URL answers, with the template environment, and stops the process', async () => {
    const handle = engine(
      scripted(`
        const http = require('node:http');
        http.createServer((req, res) => res.end(JSON.stringify({ path: req.url, mark: process.env.ENGINE_MARK })))
          .listen(Number(process.argv[1]), '127.0.0.1');
      `),
    ).launch(launch);
    const baseUrl = await handle.ready;
    expect(await (await fetch(`${baseUrl}/v1/models`)).json()).toEqual({ path: '/v1/models', mark: 'set' });
    await handle.stop();
    await expect(fetch(`${baseUrl}/health`)).rejects.toThrow();
  });

  it('fails with the exit status and the last output lines when the engine dies while starting', async () => {
    const handle = engine(
      scripted(
        `console.log('loading weights'); console.error('CUDA error: out of memory'); process.exit(3);`,
      ),
    ).launch(launch);
    const failure = await handle.ready.catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(EngineFailure);
    expect((failure as Error).message).toMatch(/exited \(code 3\)/);
    expect((failure as Error).message).toContain('CUDA error: out of memory');
  });

  it('gives up after the readiness timeout, reports what it printed, and stops it', async () => {
    const handle = engine(
      scripted(`console.log('warming up pid=' + process.pid); setInterval(() => {}, 1000);`),
    ).launch(launch);
    const failure = (await handle.ready.catch((err: unknown) => err)) as Error;
    expect(failure).toBeInstanceOf(EngineFailure);
    expect(failure.message).toContain('not ready within 1500 ms');
    const pid = Number(/warming up pid=(\d+)/.exec(failure.message)?.[1]);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('reports a start failure of the command itself', async () => {
    const template = { ...scripted(''), command: ['/nonexistent/engine-binary'] };
    const failure = (await engine(template)
      .launch(launch)
      .ready.catch((err: unknown) => err)) as Error;
    expect(failure).toBeInstanceOf(EngineFailure);
    expect(failure.message).toContain('/nonexistent/engine-binary');
  });
});
