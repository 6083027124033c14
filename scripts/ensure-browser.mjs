#!/usr/bin/env node
/**
 * Makes sure the Chromium the dashboard's browser tests drive is present (run by `npm test`'s
 * pretest). The browser is the system's, never a download of our own: ABREC_CHROMIUM names it,
 * else /usr/bin/chromium. When it is missing on Debian or Ubuntu, it is installed with apt-get:
 * directly as root (a fresh container), or through `sudo -n` when sudo needs no password (a
 * GitHub-hosted runner, whose image also ships /usr/bin/chromium already); anywhere else this
 * exits non-zero and says how to install it, because the browser tests fail (never skip) without it.
 *
 * Usage: node scripts/ensure-browser.mjs [--check]   (--check: report only, never install)
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';

const DEFAULT_PATH = '/usr/bin/chromium';
const INSTALL_HINT = [
  'Install Chromium, then run the tests again:',
  '  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium',
  '  elsewhere:     install Chromium or Chrome and set ABREC_CHROMIUM=/path/to/the/executable',
].join('\n');

const log = (line) => process.stdout.write(`ensure-browser: ${line}\n`);
const fail = (line) => {
  process.stderr.write(`ensure-browser: ${line}\n${INSTALL_HINT}\n`);
  process.exit(1);
};

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The browser's version line, or undefined when it does not run. */
function versionOf(path) {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** True when `sudo -n` runs a command without asking for a password. */
function hasPasswordlessSudo() {
  const result = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 });
  return !result.error && result.status === 0;
}

/** Runs apt-get as root: itself when root, else through `sudo -n` (env passes the frontend through sudo's reset environment). */
function aptGet(asRoot, args) {
  if (asRoot) return run('apt-get', args);
  return run('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args]);
}

function run(command, args) {
  log(`running: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.error) fail(`${command} could not be started: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

const checkOnly = process.argv.includes('--check');
const given = process.env.ABREC_CHROMIUM;
const path = given || DEFAULT_PATH;

if (isExecutable(path)) {
  const version = versionOf(path);
  if (!version) fail(`${path} exists but \`${path} --version\` does not run`);
  log(`using ${path} (${version})`);
  process.exit(0);
}

// A path chosen explicitly is the user's decision: report it rather than install another browser.
if (given) fail(`ABREC_CHROMIUM=${given} is not an executable file`);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const isDebian = existsSync('/etc/debian_version') && isExecutable('/usr/bin/apt-get');
if (checkOnly) fail(`no Chromium at ${DEFAULT_PATH} (check only, nothing installed)`);
if (!isDebian) fail(`no Chromium at ${DEFAULT_PATH}, and this is not a Debian system this script can install it on`);
if (!isRoot && !hasPasswordlessSudo()) {
  fail(`no Chromium at ${DEFAULT_PATH}; installing it with apt-get needs root or sudo without a password`);
}

log(`no Chromium at ${DEFAULT_PATH}: installing the Debian package (apt-get${isRoot ? ', as root' : ' through sudo -n'})`);
aptGet(isRoot, ['update']);
aptGet(isRoot, ['install', '-y', '--no-install-recommends', 'chromium']);

if (!isExecutable(DEFAULT_PATH)) fail(`apt-get finished but ${DEFAULT_PATH} is still missing`);
const version = versionOf(DEFAULT_PATH);
if (!version) fail(`Chromium was installed at ${DEFAULT_PATH} but \`--version\` does not run`);
log(`installed ${DEFAULT_PATH} (${version})`);
