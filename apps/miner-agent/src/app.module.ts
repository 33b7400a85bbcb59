import 'reflect-metadata';
import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { NonceReplayCache, allowHotkeys } from '@tessera/bittensor';
import { systemClock, type Clock } from '@tessera/contracts';
import {
  HealthRegistry,
  InjectLogger,
  PLATFORM_LOGGER,
  PlatformModule,
  ShutdownRegistry,
  type PlatformLogger,
  type RawEnv,
} from '@tessera/platform';
import type { Llama } from 'node-llama-cpp';
import { GpuInventory } from './capacity/gpu-inventory.js';
import { resolveGpuSource } from './capacity/resolve-gpu-source.js';
import { MinerConfig } from './config.js';
import { ControlApi } from './control-api/control-api.js';
import { DataPlaneProxy } from './data-plane/data-plane-proxy.js';
import { buildEngines } from './engines/build-engines.js';
import { MinerHttpServer } from './http/miner-http-server.js';
import { loadMinerHotkey, type MinerHotkey } from './identity/miner-hotkey.js';
import { InstanceManager } from './instances/instance-manager.js';
import { ModelStore } from './models/model-store.js';

const MINER_HOTKEY = Symbol('miner hotkey');
const CLOCK = Symbol('clock');
/** The llama.cpp runtime, loaded on the first llama instance (most GPU hosts never need it). */
const LLAMA_RUNTIME = Symbol('llama runtime');

interface LlamaRuntimeHolder {
  get(): Promise<Llama>;
  dispose(): Promise<void>;
}

/** Starts the public port, announces development defaults, and registers the drain order. */
@Injectable()
class MinerLifecycle implements OnApplicationBootstrap {
  constructor(
    private readonly config: MinerConfig,
    @Inject(MINER_HOTKEY) private readonly hotkey: MinerHotkey,
    private readonly server: MinerHttpServer,
    private readonly instances: InstanceManager,
    private readonly dataPlane: DataPlaneProxy,
    private readonly inventory: GpuInventory,
    @Inject(LLAMA_RUNTIME) private readonly llama: LlamaRuntimeHolder,
    private readonly shutdown: ShutdownRegistry,
    private readonly health: HealthRegistry,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.hotkey.isDevelopmentKey) {
      this.logger.warn(
        { hotkey: this.hotkey.pair.address, variables: ['MINER_HOTKEY_SEED', 'MINER_HOTKEY_FILE'] },
        'using the public DEVELOPMENT hotkey; never run like this on a real network',
      );
    }
    if (this.config.ALLOWED_VALIDATOR_HOTKEYS.length === 0) {
      this.logger.warn('ALLOWED_VALIDATOR_HOTKEYS is empty: every control request will be refused');
    }
    let listening = false;
    this.health.register({ name: 'miner-api', check: async () => ({ up: listening }) });
    const port = await this.server.listen(this.config.MINER_HOST, this.config.MINER_PORT);
    listening = true;
    this.logger.info(
      {
        hotkey: this.hotkey.pair.address,
        port,
        gpus: this.inventory.total,
        gpuSource: this.inventory.kind,
        engines: this.instances.engineNames,
      },
      'miner agent ready',
    );
    // Stop taking requests and let streams finish, then stop the engines they ran on.
    this.shutdown.onDrain('rpc', 'miner-api', (deadline) => this.server.close(deadline));
    this.shutdown.onDrain('connections', 'instances', async () => {
      await this.instances.stopAll();
      this.dataPlane.close();
      await this.llama.dispose();
    });
  }
}

/** Options for {@link MinerAgentModule.forRoot}; everything defaults to production behaviour. */
export interface MinerAgentModuleOptions {
  /** Environment to parse instead of `process.env` (tests). */
  env?: RawEnv;
  clock?: Clock;
}

/** The miner-agent: platform core (no NATS, no database) plus its own public port. */
@Module({})
export class MinerAgentModule {
  static forRoot(options: MinerAgentModuleOptions = {}): DynamicModule {
    return {
      module: MinerAgentModule,
      imports: [
        PlatformModule.forRoot({ config: MinerConfig, ...(options.env ? { env: options.env } : {}) }),
      ],
      providers: [
        { provide: CLOCK, useValue: options.clock ?? systemClock },
        { provide: MINER_HOTKEY, inject: [MinerConfig], useFactory: loadMinerHotkey },
        {
          provide: GpuInventory,
          inject: [MinerConfig, PLATFORM_LOGGER],
          useFactory: async (config: MinerConfig, logger: PlatformLogger) =>
            GpuInventory.open(await resolveGpuSource(config, logger)),
        },
        {
          provide: ModelStore,
          inject: [MinerConfig, PLATFORM_LOGGER],
          useFactory: (config: MinerConfig, logger: PlatformLogger) =>
            new ModelStore(config.MODEL_CACHE_DIR, logger),
        },
        {
          provide: LLAMA_RUNTIME,
          inject: [MinerConfig, PLATFORM_LOGGER],
          useFactory: (config: MinerConfig, logger: PlatformLogger): LlamaRuntimeHolder => {
            let loading: Promise<Llama> | undefined;
            return {
              get: () =>
                (loading ??= import('./engines/llama/llama-runtime.js').then((m) =>
                  m.loadLlamaRuntime({ threads: config.LLAMA_THREADS, logger }),
                )),
              dispose: async () => {
                const llama = await loading?.catch(() => undefined);
                await llama?.dispose();
              },
            };
          },
        },
        {
          provide: InstanceManager,
          inject: [MinerConfig, GpuInventory, ModelStore, LLAMA_RUNTIME, CLOCK, PLATFORM_LOGGER],
          useFactory: async (
            config: MinerConfig,
            inventory: GpuInventory,
            models: ModelStore,
            llama: LlamaRuntimeHolder,
            clock: Clock,
            logger: PlatformLogger,
          ) =>
            new InstanceManager({
              inventory,
              engines: await buildEngines(config, () => llama.get(), logger),
              models,
              maxInstances: config.MAX_INSTANCES ?? inventory.total,
              clock,
              logger,
            }),
        },
        {
          provide: DataPlaneProxy,
          inject: [InstanceManager, PLATFORM_LOGGER],
          useFactory: (instances: InstanceManager, logger: PlatformLogger) =>
            new DataPlaneProxy(instances, logger),
        },
        {
          provide: ControlApi,
          inject: [MinerConfig, MINER_HOTKEY, InstanceManager, GpuInventory, PLATFORM_LOGGER],
          useFactory: (
            config: MinerConfig,
            hotkey: MinerHotkey,
            instances: InstanceManager,
            inventory: GpuInventory,
            logger: PlatformLogger,
          ) =>
            new ControlApi({
              hotkey: hotkey.pair,
              allowedHotkeys: allowHotkeys(config.ALLOWED_VALIDATOR_HOTKEYS),
              replayCache: new NonceReplayCache(),
              instances,
              inventory,
              logger,
            }),
        },
        {
          provide: MinerHttpServer,
          inject: [ControlApi, DataPlaneProxy, PLATFORM_LOGGER],
          useFactory: (control: ControlApi, dataPlane: DataPlaneProxy, logger: PlatformLogger) =>
            new MinerHttpServer(control, dataPlane, logger),
        },
        MinerLifecycle,
      ],
    };
  }
}

/** The module `main.ts` boots (reads `process.env` when loaded; tests use `MinerAgentModule.forRoot`). */
@Module({ imports: [MinerAgentModule.forRoot()] })
export class AppModule {}
