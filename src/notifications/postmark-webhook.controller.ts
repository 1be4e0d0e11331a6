import { Controller, Headers, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { AppError } from '../common/errors/app-error.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SecuritySignals } from '../security/security-signals.js';
import { EmailDeliveryService } from './email-delivery.service.js';
import { basicAuthMatches } from './postmark-webhook.js';

@ApiTags('webhooks')
@Controller('webhooks/postmark')
export class PostmarkWebhookController {
  constructor(
    private readonly delivery: EmailDeliveryService,
    private readonly signals: SecuritySignals,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Postmark's delivery, open, click, bounce and spam-complaint webhooks, with HTTP Basic
   * credentials (POSTMARK_WEBHOOK_USER / POSTMARK_WEBHOOK_PASSWORD) in the webhook URL. Wrong
   * credentials: 401 and nothing written. Any authenticated body is acknowledged with 200, also
   * one that is malformed or about a message we do not know (recorded as ignored), so Postmark
   * does not retry what can never succeed.
   */
  @Public()
  @Post()
  @HttpCode(200)
  @ApiOkResponse({ description: '`{ outcome: "recorded" | "ignored" | "duplicate" }`' })
  @ApiUnauthorizedResponse({ description: 'Missing or wrong HTTP Basic credentials; nothing was written.' })
  async receive(@Req() request: FastifyRequest & { rawBody?: Buffer }, @Headers('authorization') authorization: string | undefined): Promise<{ outcome: string }> {
    if (!basicAuthMatches(authorization, { user: this.config.postmark.webhookUser, password: this.config.postmark.webhookPassword })) {
      this.signals.webhookVerificationFailed('postmark');
      throw new AppError(401, 'invalid_webhook_credentials', 'The webhook credentials are not valid.', undefined, { 'www-authenticate': 'Basic realm="postmark-webhooks", charset="UTF-8"' });
    }
    return { outcome: await this.delivery.recordWebhook(request.body, request.rawBody) };
  }
}
