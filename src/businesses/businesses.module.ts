import { Module, type DynamicModule } from '@nestjs/common';
import { MembersController } from './members.controller.js';
import { MembersService } from './members.service.js';

@Module({})
export class BusinessesModule {
  /** Imports the configured AuthModule for sessions (member removal revokes them) and the rate limits. */
  static forRoot(authModule: DynamicModule): DynamicModule {
    return { module: BusinessesModule, imports: [authModule], controllers: [MembersController], providers: [MembersService], exports: [MembersService] };
  }
}
