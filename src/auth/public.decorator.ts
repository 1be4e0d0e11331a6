import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'ledgerline:isPublic';

/** The visible exception to "every route is authenticated". */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
