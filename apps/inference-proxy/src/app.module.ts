import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  EventRegistry,
  InstanceUnhealthy,
  RATE_USAGE_SUBJECT,
  Streams,
  eventContracts,
  instanceHealthStreamId,
  rateUsageReportSchema,
  systemClock,
  type Clock,
} from '@tessera/contracts';
import { EventStore } from '@tessera/eventstore';
import {
  HealthRegistry,
  InjectLogger,
  PlatformModule,
  ShutdownRegistry,
  type LoggingModuleOptions,
  type PlatformLogger,
  type RawEnv,
} from '@tessera/platform';
import { InjectNats, MessagingModule, RpcClient } from '@tessera/platform/messaging';
import { type FastifyInstance } from 'fastify';
import { ProxyConfig, resolveProxySecrets } from './config.js';
import { CreditGrants } from './credit/credit-grants.js';
import { DemandTracker } from './demand/demand-tracker.js';
import { BillingView } from './keys/billing-view.js';
import { RateLimiter } from './limits/rate-limiter.js';
import { RequestMeter } from './metering/request-meter.js';
import { InferencePipeline } from './openai/inference-pipeline.js';
import { registerOpenAiRoutes } from './openai/openai-routes.js';
import { traceRequests } from './tracing/request-spans.js';
import { Prober } from './probing/prober.js';
import { ReferenceModel } from './probing/reference-model.js';
import { renderDocsPage } from './public-api/docs-page.js';
import { openApiDocument } from './public-api/openapi-document.js';
import { InstanceSelector } from './routing/instance-selector.js';
import { RoutingTable } from './routing/routing-table.js';
import { StreamFollower } from './streams/stream-follower.js';

const CLOCK = Symbol.for('tessera.inferenceProxy.clock');

/**
 * Wires the edge: in-memory views of BILLING (keys, prices) and SCHEDULER (routing table), the
 * grants, limits, meter and demand reports, and the OpenAI routes on the Fastify server. Start-up
 * waits until both views caught up with their streams, so no request is judged on a partial view.
 */
@Injectable()
export class InferenceProxy implements OnModuleInit {
  private readonly timers: NodeJS.Timeout[] = [];
  private followers: StreamFollower[] = [];
  private rateSubscription: Subscription | undefined;

  constructor(
    private readonly config: ProxyConfig,
    private readonly store: EventStore,
    @InjectNats() private readonly nats: NatsConnection,
    private readonly adapterHost: HttpAdapterHost,
    private readonly health: HealthRegistry,
    private readonly shutdown: ShutdownRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  async onModuleInit(): Promise<void> {
    const config = this.config;
    const secrets = resolveProxySecrets(config);
    if (secrets.usingDevDefaults.length > 0) {
      // Names only: secrets are never logged.
      this.logger.warn(
        { variables: secrets.usingDevDefaults },
        'using DEVELOPMENT defaults for proxy secrets',
      );
    }
    const source = config.PROXY_REPLICA;
    const billing = new BillingView(secrets.apiKeyPepper, this.clock);
    const table = new RoutingTable();
    // The selector and the demand tracker refer to each other: the tracker is bound once made.
    const late: { demand?: DemandTracker } = {};
    const selector = new InstanceSelector(table, {
      breakerFailures: config.BREAKER_CONSECUTIVE_FAILURES,
      halfOpenAfterMs: config.BREAKER_HALF_OPEN_AFTER_MS,
      capacityWaitMs: config.CAPACITY_WAIT_MS,
      queueLimit: config.CAPACITY_QUEUE_LIMIT,
      onColdDemand: (deploymentId) => late.demand?.cold(deploymentId),
      onBreakerOpened: (instance, consecutiveFailures, lastFailure, retryAt) => {
        const reportId = randomUUID();
        const event = InstanceUnhealthy.create({
          reportId,
          instanceId: instance.instanceId,
          deploymentId: instance.deploymentId,
          minerHotkey: instance.minerHotkey,
          source,
          consecutiveFailures,
          lastFailure: lastFailure.slice(0, 2000),
          retryAt: retryAt.toISOString(),
          at: this.clock.now().toISOString(),
        });
        this.store.append(instanceHealthStreamId(reportId), [event]).catch((err: unknown) => {
          this.logger.warn(
            { err, instanceId: instance.instanceId },
            'could not report an unhealthy instance',
          );
        });
      },
    });
    const demand = new DemandTracker(
      this.store,
      source,
      (id) => selector.queued(id),
      this.clock,
      this.logger,
    );
    late.demand = demand;
    const rpc = new RpcClient(this.nats, { subjectPrefix: config.NATS_SUBJECT_PREFIX });
    const credit = new CreditGrants({
      rpc,
      holder: source,
      target: config.GRANT_TARGET_NANO_USD,
      lowWatermark: config.GRANT_LOW_WATERMARK,
      idleAfterMs: config.SETTLE_INTERVAL_MS * 10,
      clock: this.clock,
      logger: this.logger,
    });
    const limiter = new RateLimiter(source, config.RATE_REPORT_INTERVAL_MS * 3);
    const meter = new RequestMeter(this.store, this.logger, { lingerMs: config.METER_LINGER_MS });
    const pipeline = new InferencePipeline({
      billing,
      table,
      selector,
      credit,
      limiter,
      meter,
      demand,
      instanceTokenSecret: secrets.instanceTokenSecret,
      defaultMaxTokens: config.DEFAULT_MAX_TOKENS,
      attempts: config.UPSTREAM_ATTEMPTS,
      upstreamIdleTimeoutMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
      requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
      clock: this.clock,
      logger: this.logger,
    });

    this.followers = [
      new StreamFollower({
        store: this.store,
        stream: Streams.BILLING,
        handles: BillingView.handles,
        apply: (event) => billing.apply(event),
        logger: this.logger,
      }),
      new StreamFollower({
        store: this.store,
        stream: Streams.SCHEDULER,
        handles: RoutingTable.handles,
        apply: (event) => table.apply(event),
        logger: this.logger,
      }),
    ];
    for (const follower of this.followers) follower.start();

    // Rate usage of the other replicas (core NATS: only the last value of each matters).
    const rateSubject =
      config.NATS_SUBJECT_PREFIX === ''
        ? RATE_USAGE_SUBJECT
        : `${config.NATS_SUBJECT_PREFIX}.${RATE_USAGE_SUBJECT}`;
    this.rateSubscription = this.nats.subscribe(rateSubject, {
      callback: (err, message) => {
        if (err) return;
        const report = rateUsageReportSchema.safeParse(message.json());
        if (report.success) limiter.receive(report.data, this.clock.now().getTime());
      },
    });
    this.every(config.RATE_REPORT_INTERVAL_MS, () =>
      this.nats.publish(rateSubject, JSON.stringify(limiter.report(this.clock.now().getTime()))),
    );
    this.every(config.SETTLE_INTERVAL_MS, () => credit.settleDue());
    this.every(config.DEMAND_REPORT_INTERVAL_MS, () => demand.report());

    if (config.PROBE_INTERVAL_MS > 0) this.startProbing(table, secrets.instanceTokenSecret);

    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    traceRequests(fastify);
    registerOpenAiRoutes(fastify, {
      pipeline,
      billing,
      table,
      rpc,
      bodyLimit: config.MAX_BODY_BYTES,
      reportColdDemand: (deploymentId) => demand.cold(deploymentId),
    });
    const document = openApiDocument();
    const documentJson = JSON.stringify(document);
    fastify.get('/openapi.json', (_request, reply) => reply.type('application/json').send(documentJson));
    // The same document, readable: rendered once, nothing fetched from anywhere else.
    const docsPage = renderDocsPage(document);
    fastify.get('/docs', (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(docsPage),
    );

    this.shutdown.onDrain('rpc', 'inference-proxy', async (deadline) => {
      for (const timer of this.timers) clearInterval(timer);
      this.rateSubscription?.unsubscribe();
      await credit.settleAll();
      await meter.flush(deadline);
    });
    this.shutdown.onDrain('consumers', 'inference-proxy-views', async () => {
      await Promise.all(this.followers.map((follower) => follower.stop()));
    });

    let caughtUp = false;
    this.health.register({
      name: 'inference-proxy-views',
      check: () =>
        Promise.resolve(
          caughtUp ? { up: true } : { up: false, detail: 'reading billing and scheduler streams' },
        ),
    });
    await Promise.all(this.followers.map((follower) => follower.caughtUp()));
    caughtUp = true;
    this.logger.info('billing and scheduler views caught up');
  }

  /** One probe per interval, never two at once; reference models load in the background. */
  private startProbing(table: RoutingTable, instanceTokenSecret: string): void {
    const configured = this.config.PROBE_REFERENCE_MODELS;
    const runtime = configured.size > 0 ? ReferenceModel.runtime() : undefined;
    const references = new Map<string, Promise<ReferenceModel>>();
    for (const [model, path] of configured) {
      const loading = runtime!.then((llama) => ReferenceModel.load(llama, path));
      loading.catch((err: unknown) => this.logger.error({ err, model }, 'could not load a reference model'));
      references.set(model, loading);
    }
    const prober = new Prober({
      table,
      store: this.store,
      references,
      instanceTokenSecret,
      source: this.config.PROXY_REPLICA,
      timeoutMs: this.config.PROBE_TIMEOUT_MS,
      clock: this.clock,
      logger: this.logger,
    });
    let running: Promise<void> | undefined;
    this.every(this.config.PROBE_INTERVAL_MS, () => {
      running ??= prober
        .tick()
        .catch((err: unknown) => this.logger.warn({ err }, 'probe failed'))
        .finally(() => (running = undefined));
    });
    this.shutdown.onDrain('consumers', 'inference-proxy-probes', async () => {
      await running;
      for (const reference of references.values()) await (await reference.catch(() => undefined))?.dispose();
    });
  }

  private every(intervalMs: number, task: () => void): void {
    const timer = setInterval(() => {
      try {
        task();
      } catch (err) {
        this.logger.warn({ err }, 'periodic task failed');
      }
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }
}

/** Options for {@link InferenceProxyModule.forRoot}; everything defaults to production behaviour. */
export interface InferenceProxyModuleOptions {
  env?: RawEnv;
  clock?: Clock;
  logging?: LoggingModuleOptions;
}

/** The inference proxy: the public OpenAI-compatible edge. */
@Module({})
export class InferenceProxyModule {
  static forRoot(options: InferenceProxyModuleOptions = {}): DynamicModule {
    return {
      module: InferenceProxyModule,
      imports: [
        PlatformModule.forRoot({
          config: ProxyConfig,
          ...(options.env ? { env: options.env } : {}),
          ...(options.logging ? { logging: options.logging } : {}),
        }),
        MessagingModule.forRoot({ registry: new EventRegistry(eventContracts), writes: [Streams.INFERENCE] }),
      ],
      providers: [{ provide: CLOCK, useValue: options.clock ?? systemClock }, InferenceProxy],
    };
  }
}
