import { Global, Module } from '@nestjs/common';
import { PostureService } from './posture.service.js';
import { MetricsController, SecurityController } from './security.controller.js';
import { SecurityEvents } from './security-events.service.js';
import { SecurityMetrics } from './security-metrics.js';
import { SecurityScanner } from './security-scanner.js';
import { SecuritySignals } from './security-signals.js';

/**
 * Security monitoring (global): security events with once-per-burst alerts, the audit-trail
 * scanner, the webhook failure counter, the posture report and Prometheus metrics.
 */
@Global()
@Module({
  imports: [],
  controllers: [SecurityController, MetricsController],
  providers: [SecurityMetrics, SecurityEvents, SecuritySignals, SecurityScanner, PostureService],
  exports: [SecuritySignals, SecurityEvents, SecurityMetrics],
})
export class SecurityModule {}
