import { Module, type DynamicModule } from '@nestjs/common';
import {
  parseEnv,
  PlatformConfig,
  platformEnvSchema,
  toRawEnv,
  type AnyConfigDefinition,
  type RawEnv,
} from './define-config.js';

/** Options for {@link ConfigModule.forRoot}. */
export interface ConfigModuleOptions {
  /** Environment to parse instead of `process.env` (tests). */
  env?: RawEnv;
}

/**
 * Provides the app's config class (see `defineConfig`) and {@link PlatformConfig} to every module.
 * Parsing happens when this is called, so a bad environment fails before Nest builds anything,
 * with an error naming each bad variable.
 */
@Module({})
export class ConfigModule {
  static forRoot(definition: AnyConfigDefinition, options: ConfigModuleOptions = {}): DynamicModule {
    const value = definition.load(options.env);
    // Re-parse the already-parsed app value with the platform schema: it checks that the app's
    // schema kept the platform variables, and gives platform modules their own typed view.
    const platformValue = parseEnv(platformEnvSchema, toRawEnv(value));
    const providers = [
      { provide: definition, useValue: value },
      ...(definition === PlatformConfig ? [] : [{ provide: PlatformConfig, useValue: platformValue }]),
    ];
    return { global: true, module: ConfigModule, providers, exports: providers.map((p) => p.provide) };
  }
}
