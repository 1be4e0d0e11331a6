export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __ledgerlineTestDatabase?: { stop(): Promise<void> } }).__ledgerlineTestDatabase?.stop();
}
