// Our package registry does not serve every platform build of some native packages (for
// example @swc/core-darwin-arm64@1.16.22 answers 404). `npm install` then leaves those optional
// dependencies out of package-lock.json, and `npm ci` (npm 11) refuses the lock as out of sync.
// This adds a lock entry for each such optional platform package, marked with the os and cpu
// its name states, so `npm ci` knows it and skips it on this platform without fetching it.
// Run after changing dependencies: `npm install && npm run lock:repair`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'sunos', 'aix', 'netbsd', 'openbsd'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el', 'wasm32'];

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let output = '';
try {
  execFileSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
} catch (error) {
  output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
}
const missing = [...output.matchAll(/Missing: (@?[^@\s]+)@\S* from lock file/g)].map((match) => match[1]);
let added = 0;
for (const name of new Set(missing)) {
  // The parent that declares it, and the version it asks for.
  const parent = Object.values(lock.packages).find((entry) => entry.optionalDependencies?.[name]);
  if (!parent) throw new Error(`no package in the lock declares ${name}`);
  const version = parent.optionalDependencies[name].replace(/^[\^~=]/, '');
  const parts = name.split(/[/-]/);
  const os = OS.filter((value) => parts.includes(value));
  const cpu = CPU.filter((value) => parts.includes(value));
  if (os.length === 0 || cpu.length === 0) throw new Error(`cannot tell the platform of ${name}`);
  lock.packages[`node_modules/${name}`] = { version, optional: true, os, cpu };
  added += 1;
}
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(added ? `added ${added} platform entries: ${[...new Set(missing)].join(', ')}` : 'package-lock.json is in sync');
