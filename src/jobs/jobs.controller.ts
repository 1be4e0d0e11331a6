import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ADMIN_ONLY, Roles } from '../auth/roles.js';
import { JobsHealthService, type JobsHealthView } from './jobs-health.service.js';

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(private readonly health: JobsHealthService) {}

  @Roles(...ADMIN_ONLY)
  @Get('health')
  @ApiOkResponse({ description: 'Queue depths and failed jobs per queue, the last run of each schedule, and this business’s unfinished and failed emails.' })
  get(@CurrentPrincipal() principal: Principal): Promise<JobsHealthView> {
    return this.health.health(principal.businessId);
  }
}
