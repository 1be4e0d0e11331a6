import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Meta, type Principal, type RequestMeta } from '../auth/principal.js';
import { ANY_MEMBER, BILLING_OR_ADMIN, Roles } from '../auth/roles.js';
import { Idempotent } from '../common/http/idempotency.js';
import type { Page } from '../common/pagination/cursor.js';
import { CreateCustomerDto, ListCustomersQueryDto, UpdateCustomerDto } from './customers.dto.js';
import { CustomersService, type CustomerView } from './customers.service.js';

@ApiTags('customers')
@Controller('v1/customers')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  @Roles(...BILLING_OR_ADMIN)
  @Idempotent()
  @Post()
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateCustomerDto, @Meta() meta: RequestMeta): Promise<CustomerView> {
    return this.customers.create(principal, body, meta);
  }

  @Roles(...ANY_MEMBER)
  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListCustomersQueryDto): Promise<Page<CustomerView>> {
    return this.customers.list(principal, query);
  }

  @Roles(...ANY_MEMBER)
  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<CustomerView> {
    return this.customers.get(principal, id);
  }

  @Roles(...BILLING_OR_ADMIN)
  @ApiConflictResponse({ description: '`customer_erased`: the customer’s data was erased; it cannot be edited (create a new customer).' })
  @Patch(':id')
  update(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: UpdateCustomerDto, @Meta() meta: RequestMeta): Promise<CustomerView> {
    return this.customers.update(principal, id, body, meta);
  }

  @Roles(...BILLING_OR_ADMIN)
  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta): Promise<void> {
    await this.customers.remove(principal, id, meta);
  }
}
