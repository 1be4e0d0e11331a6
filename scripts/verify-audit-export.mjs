#!/usr/bin/env node
// Offline check of a Ledgerline audit export (ledgerline-audit-export.v1). No dependencies, Node 20+.
//
//   node scripts/verify-audit-export.mjs --public-key audit-export-public-key.pem audit-export.jsonl
//
// Get the public key once, and keep it, from GET /v1/audit-events/export/public-key (field
// publicKeyPem), or from the operator. Checks, in order: the Ed25519 signature of the statement
// (with YOUR copy of the key, not the one inside the file), the SHA-256 of every event line, then
// every event's hash (sha256(prevHash || canonical event)), seq continuity and the prev-hash links
// from the anchor (genesis, or the last event a retention purge removed) to the head. Exit code 0
// when everything holds, 1 when something does not (each problem is printed), 2 on usage errors.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const FORMAT = 'ledgerline-audit-export.v1';
const GENESIS = '0'.repeat(64);

function usage(message) {
  if (message) console.error(message);
  console.error('usage: node scripts/verify-audit-export.mjs --public-key <key.pem> <export.jsonl>');
  process.exit(2);
}

const args = process.argv.slice(2);
let keyFile;
let exportFile;
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--public-key') keyFile = args[++i];
  else if (args[i] === '--help' || args[i] === '-h') usage();
  else if (!exportFile) exportFile = args[i];
  else usage(`unexpected argument ${args[i]}`);
}
if (!keyFile || !exportFile) usage();

/** The same canonical JSON as src/audit/audit-chain.ts: keys sorted at every level. */
function canonicalJson(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

function eventHash(prevHashHex, event) {
  const canonical = canonicalJson({
    action: event.action,
    actorId: event.actorId,
    actorType: event.actorType,
    businessId: event.businessId,
    detail: event.detail,
    entityId: event.entityId,
    entityType: event.entityType,
    ip: event.ip,
    occurredAt: event.occurredAt,
    seq: event.seq,
    userAgent: event.userAgent,
  });
  return createHash('sha256').update(Buffer.from(prevHashHex, 'hex')).update(canonical, 'utf8').digest('hex');
}

let publicKey;
try {
  publicKey = createPublicKey(readFileSync(keyFile, 'utf8'));
} catch (error) {
  usage(`cannot read the public key ${keyFile}: ${error.message}`);
}
let text;
try {
  text = readFileSync(exportFile, 'utf8');
} catch (error) {
  usage(`cannot read ${exportFile}: ${error.message}`);
}

const problems = [];
if (!text.endsWith('\n')) problems.push('the file does not end with a newline (truncated?)');
const lines = text.split('\n');
if (lines[lines.length - 1] === '') lines.pop();
if (lines.length === 0) usage('the file is empty');

let signatureLine;
try {
  signatureLine = JSON.parse(lines[lines.length - 1]);
} catch {
  problems.push('the last line is not JSON (it must be the signature line)');
}
const eventLines = lines.slice(0, -1);

const statementFields = {};
if (signatureLine) {
  if (signatureLine.type !== 'signature' || signatureLine.format !== FORMAT || signatureLine.algorithm !== 'Ed25519') {
    problems.push(`the last line is not a ${FORMAT} Ed25519 signature line`);
  }
  const statement = String(signatureLine.statement ?? '');
  let signatureOk;
  try {
    signatureOk = verify(null, Buffer.from(statement, 'utf8'), publicKey, Buffer.from(String(signatureLine.signature ?? ''), 'base64'));
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) problems.push('the signature does not verify with this public key');
  const [first, ...rest] = statement.split('\n');
  if (first !== FORMAT) problems.push('the statement is not of this format');
  for (const line of rest) {
    const space = line.indexOf(' ');
    if (space > 0) statementFields[line.slice(0, space)] = line.slice(space + 1);
  }
  const digest = createHash('sha256').update(eventLines.map((line) => `${line}\n`).join(''), 'utf8').digest('hex');
  if (statementFields['events-sha256'] !== digest) problems.push('the event lines do not match the signed digest (a line was changed, added or removed)');
  if (statementFields.events !== String(eventLines.length)) problems.push(`the statement names ${statementFields.events} events, the file has ${eventLines.length}`);
}

// The chain itself, from the anchor to the head.
let previousHash = statementFields['anchor-hash'] ?? GENESIS;
let expectedSeq = BigInt(statementFields['anchor-seq'] ?? '0') + 1n;
if (/^0+$/.test(statementFields['anchor-seq'] ?? '0') && previousHash !== GENESIS) problems.push('an export from genesis must start from the zero hash');
let brokenAt;
eventLines.forEach((line, index) => {
  if (brokenAt !== undefined) return;
  let event;
  try {
    event = JSON.parse(line);
  } catch {
    problems.push(`line ${index + 1} is not JSON`);
    brokenAt = index;
    return;
  }
  if (canonicalJson(event) !== line) problems.push(`line ${index + 1} is not in canonical form`);
  const business = statementFields.business;
  if (business && event.businessId !== business) problems.push(`line ${index + 1} (event ${event.id}) belongs to another business`);
  if (String(event.seq) !== expectedSeq.toString()) {
    problems.push(`event ${event.id}: seq ${event.seq}, expected ${expectedSeq} (an event is missing or out of order)`);
    brokenAt = index;
    return;
  }
  if (event.prevHash !== previousHash) {
    problems.push(`event ${event.id} (seq ${event.seq}): prevHash does not link to the previous event`);
    brokenAt = index;
    return;
  }
  if (eventHash(event.prevHash, event) !== event.hash) {
    problems.push(`event ${event.id} (seq ${event.seq}): its content does not match its hash (altered)`);
    brokenAt = index;
    return;
  }
  previousHash = event.hash;
  expectedSeq += 1n;
});
if (brokenAt === undefined) {
  const headSeq = (expectedSeq - 1n).toString();
  if (statementFields['head-seq'] !== undefined && statementFields['head-seq'] !== headSeq) problems.push(`the chain ends at seq ${headSeq}, the statement says ${statementFields['head-seq']}`);
  if (statementFields['head-hash'] !== undefined && statementFields['head-hash'] !== previousHash) problems.push('the last event is not the signed chain head');
}

if (problems.length > 0) {
  console.error(`NOT VALID: ${exportFile}`);
  for (const problem of problems) console.error(`  - ${problem}`);
  process.exit(1);
}
console.log(`OK: ${exportFile}`);
console.log(`  business    ${statementFields.business}`);
console.log(`  events      ${eventLines.length} (seq ${BigInt(statementFields['anchor-seq']) + 1n}..${statementFields['head-seq']})`);
console.log(`  chain head  ${statementFields['head-hash']}`);
console.log(`  anchor      ${statementFields['anchor-seq'] === '0' ? 'genesis' : `seq ${statementFields['anchor-seq']} (earlier events removed by retention)`}`);
console.log(`  signed by   ${statementFields['key-id']} at ${statementFields['generated-at']}`);
