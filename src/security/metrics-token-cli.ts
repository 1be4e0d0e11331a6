import { ConfigError, loadConfig } from '../config/config.js';
import { metricsToken } from './metrics-token.js';

/**
 * `node dist/src/security/metrics-token-cli.js` prints the bearer token for GET /metrics, derived
 * from the same JWT_SECRET the API uses (run it with the API's environment). Write it to the
 * file Prometheus reads (`authorization.credentials_file`), never into a repository.
 */
try {
  process.stdout.write(`${metricsToken(loadConfig().jwtSecret)}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
  process.exit(1);
}
