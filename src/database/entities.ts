import { AuditEvent } from '../audit/audit-event.entity.js';

/** Every TypeORM entity, listed once so the app, the CLI and the tests agree. */
export const ENTITIES = [AuditEvent];
