import { DataSource } from 'typeorm';
import { rotateEncryptedFields } from '../common/crypto/key-rotation.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { dataSourceOptions } from '../database/data-source.js';

/**
 * `npm run keys:rotate` (`node dist/src/cli/keys-rotate.js`) against DATABASE_URL: re-encrypts
 * every field-encrypted value under the first key of ENCRYPTION_KEYS. Put the new key first and
 * keep the old ones after it until this has run with no value left under them; only then remove
 * them. Prints the counts per column and the row ids it could not rotate (never a value). Exits
 * with 2 when some value could not be rotated (an unknown key, a malformed or tampered value).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required for keys:rotate');
  const dataSource = new DataSource(dataSourceOptions(config.databaseUrl, { poolSize: 2, applicationName: 'ledgerline-keys-rotate' }));
  await dataSource.initialize();
  try {
    const report = await rotateEncryptedFields(dataSource, config.encryptionKeys);
    console.log(`current key: ${report.currentKeyId}`);
    for (const field of report.fields) {
      console.log(`${field.field}: examined ${field.examined}, rotated ${field.rotated}, skipped (changed meanwhile) ${field.skipped}, unknown key ${field.unknownKey}, invalid ${field.invalid}`);
    }
    for (const problem of report.problems) {
      console.log(`not rotated: ${problem.field} id ${problem.id} (${problem.reason}${problem.keyId ? `, key "${problem.keyId}"` : ''})`);
    }
    if (report.fields.some((field) => field.unknownKey + field.invalid > 0)) process.exitCode = 2;
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : `key rotation failed: ${(error as Error).message}`);
  process.exit(1);
});
