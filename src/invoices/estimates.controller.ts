import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { EstimatesService } from './estimates.service.js';

@ApiTags('estimates')
@Controller('v1/estimates')
export class EstimatesController {
  constructor(private readonly estimates: EstimatesService) {}
}
