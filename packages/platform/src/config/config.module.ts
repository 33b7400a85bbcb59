import { Module, type DynamicModule, type FactoryProvider } from '@nestjs/common';
import {
  parseEnv,
  PlatformConfig,
  toRawEnv,
  type AnyConfigDefinition,
  type RawEnv,
} from './define-config.js';

/** Options for {@link ConfigModule.forRoot}. */
export interface ConfigModuleOptions {
  /** Environment to parse instead of `process.env` (tests). */
  env?: RawEnv;
}

/** Injection token of the app's parsed config value, whatever its class: what {@link configView}s read. */
export const APP_CONFIG_VALUE = Symbol.for('tessera.platform.appConfigValue');

/**
 * A provider of `definition` as a view of the app's config: the app's parsed value re-parsed with
 * `definition`'s schema. It checks that the app's schema kept the variables the view needs (a
 * missing one fails start-up naming it), and gives a module its own typed view without knowing the
 * app's class. Needs {@link ConfigModule}.
 */
export function configView(definition: AnyConfigDefinition): FactoryProvider {
  return {
    provide: definition,
    inject: [APP_CONFIG_VALUE],
    useFactory: (value: object) => parseEnv(definition.schema, toRawEnv(value)),
  };
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
    // Checked now rather than when Nest builds the provider: a broken platform section fails here.
    const platformValue = parseEnv(PlatformConfig.schema, toRawEnv(value));
    const providers = [
      { provide: APP_CONFIG_VALUE, useValue: value },
      { provide: definition, useValue: value },
      ...(definition === PlatformConfig ? [] : [{ provide: PlatformConfig, useValue: platformValue }]),
    ];
    return { global: true, module: ConfigModule, providers, exports: providers.map((p) => p.provide) };
  }
}
