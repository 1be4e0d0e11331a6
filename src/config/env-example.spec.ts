import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.js';

/** `.env.example` is the operator's documentation: it must list every variable and never work as-is. */
describe('.env.example', () => {
  const example = readFileSync(join(process.cwd(), '.env.example'), 'utf8');
  const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]));
  const source = readFileSync(join(process.cwd(), 'src', 'config', 'config.ts'), 'utf8');
  const read = new Set([...source.matchAll(/(?:value|secret|keyList)\('([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]));

  it('documents every variable the configuration reads', () => {
    expect(read.size).toBeGreaterThan(20);
    expect([...read].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('is refused as a production configuration because of its placeholders', () => {
    const env = Object.fromEntries(
      example
        .split('\n')
        .filter((line) => /^[A-Z][A-Z0-9_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const dataDir = mkdtempSync(join(tmpdir(), 'll-example-'));
    try {
      expect(() => loadConfig(env, { dataDir })).toThrow(ConfigError);
      try {
        loadConfig(env, { dataDir });
      } catch (error) {
        const problems = (error as ConfigError).problems.join('\n');
        for (const name of ['JWT_SECRET', 'LINK_SIGNING_KEYS', 'ENCRYPTION_KEYS', 'POSTMARK_WEBHOOK_PASSWORD', 'DATABASE_URL']) {
          expect(problems).toContain(name);
        }
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
