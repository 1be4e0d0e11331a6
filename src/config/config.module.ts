import { Global, Module, type DynamicModule } from '@nestjs/common';
import { FieldEncryption } from '../common/crypto/field-encryption.js';
import { APP_CONFIG, type AppConfig } from './config.js';

/**
 * The validated config, and what is built from it once for every module: the field encryption
 * under ENCRYPTION_KEYS (tax ids, MFA secrets, customers' audit keys).
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }, { provide: FieldEncryption, useValue: new FieldEncryption(config.encryptionKeys) }],
      exports: [APP_CONFIG, FieldEncryption],
    };
  }
}
