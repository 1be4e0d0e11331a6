import bcrypt from 'bcrypt';

/** bcrypt cost 12 (the async API runs on libuv's thread pool, off the event loop). */
export const BCRYPT_COST = 12;

export async function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, BCRYPT_COST);
}

// A real cost-12 hash of a random value, made once, so an unknown email costs the same compare.
let dummyHash: Promise<string> | undefined;

/** Compares against the stored hash, or against a dummy when there is no user, in equal time. */
export async function verifyPassword(password: string, storedHash: string | null | undefined): Promise<boolean> {
  if (!storedHash) {
    dummyHash ??= bcrypt.hash(`no-such-user-${Math.random()}`, BCRYPT_COST);
    await bcrypt.compare(password, await dummyHash);
    return false;
  }
  return bcrypt.compare(password, storedHash);
}
