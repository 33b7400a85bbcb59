import { Controller, Get, Module } from '@nestjs/common';
import { InjectLogger, PlatformConfig, PlatformModule, type PlatformLogger } from '@tessera/platform';

@Controller('greeting')
class GreetingController {
  // An explicit token: tsx (which runs this fixture) emits no decorator metadata.
  constructor(@InjectLogger() private readonly logger: PlatformLogger) {}

  @Get()
  greet(): { greeting: string } {
    this.logger.info('greeting served');
    return { greeting: 'hello' };
  }
}

/** The core platform and one HTTP route. */
@Module({ imports: [PlatformModule.forRoot({ config: PlatformConfig })], controllers: [GreetingController] })
export class CoreServiceModule {}
