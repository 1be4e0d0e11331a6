import { CreateAuditEvents1763700000000 } from '../../migrations/1763700000000-CreateAuditEvents.js';
import { CreateIdentity1763800000000 } from '../../migrations/1763800000000-CreateIdentity.js';
import { CreateInvoicing1764000000000 } from '../../migrations/1764000000000-CreateInvoicing.js';
import { CreateAuditInbox1764050000000 } from '../../migrations/1764050000000-CreateAuditInbox.js';
import { CreateLinks1764100000000 } from '../../migrations/1764100000000-CreateLinks.js';
import { CreatePayments1764200000000 } from '../../migrations/1764200000000-CreatePayments.js';
import { CreateEmailDelivery1764300000000 } from '../../migrations/1764300000000-CreateEmailDelivery.js';
import { CreateCompliance1764400000000 } from '../../migrations/1764400000000-CreateCompliance.js';
import { CreateCustomerPiiKeys1764500000000 } from '../../migrations/1764500000000-CreateCustomerPiiKeys.js';

/** Every migration, in order. Listed explicitly so the app, the CLI and the tests load the same set. */
export const MIGRATIONS = [
  CreateAuditEvents1763700000000,
  CreateIdentity1763800000000,
  CreateInvoicing1764000000000,
  CreateAuditInbox1764050000000,
  CreateLinks1764100000000,
  CreatePayments1764200000000,
  CreateEmailDelivery1764300000000,
  CreateCompliance1764400000000,
  CreateCustomerPiiKeys1764500000000,
];
