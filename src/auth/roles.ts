import { SetMetadata } from '@nestjs/common';

export const ROLES = ['admin', 'billing', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const ROLES_KEY = 'ledgerline:roles';
export const ALLOW_WITHOUT_MFA = 'ledgerline:allowWithoutMfa';

/**
 * The roles that may call a handler. Every authenticated route declares its roles; a test walks
 * all routes and fails on one with neither @Roles nor @Public.
 */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES_KEY, roles);

/** Shorthands for the three levels of the role model. */
export const ANY_MEMBER: Role[] = ['admin', 'billing', 'viewer'];
export const BILLING_OR_ADMIN: Role[] = ['admin', 'billing'];
export const ADMIN_ONLY: Role[] = ['admin'];

/** Routes an admin or billing member may use before enrolling MFA in a business that requires it. */
export const AllowWithoutMfa = (): MethodDecorator => SetMetadata(ALLOW_WITHOUT_MFA, true);
