'use strict';
// Server harness for the node-zookeeper-client conformance suite; mirrors
// tests/conformance/conftest.py. CORRAL_TEST_TARGET=corral (default) runs
// $CORRAL_SERVER_BIN or <target>/debug/corral-server; =zookeeper runs Debian's
// Apache ZooKeeper 3.8 (ZooKeeperServerMain) with a generated zoo.cfg.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zookeeper = require('node-zookeeper-client');

const TARGET = process.env.CORRAL_TEST_TARGET || 'corral';
if (!['corral', 'zookeeper', 'corral-ensemble'].includes(TARGET)) {
  throw new Error(`CORRAL_TEST_TARGET must be corral, corral-ensemble or zookeeper, not ${TARGET}`);
}
const ENSEMBLE_SIZE = 3;
const REPO = path.resolve(__dirname, '..', '..', '..');
const TICK_TIME_MS = 2000;
const MIN_SESSION_TIMEOUT_MS = 1000;
const MAX_SESSION_TIMEOUT_MS = 60000;
const START_TIMEOUT_MS = 60000;
const SUPER_PASSWORD = 'super-secret';
const ZOOKEEPER_JARS = [
  '/usr/share/java/zookeeper.jar',
  '/usr/share/java/zookeeper-jute.jar',
  '/usr/share/java/slf4j-simple.jar',
];

// Server processes still running; killed if this process exits without stopping them.
const live = new Set();
process.on('exit', () => { for (const proc of live) proc.kill('SIGKILL'); });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function superDigest(user = 'super', password = SUPER_PASSWORD) {
  const hash = crypto.createHash('sha1').update(`${user}:${password}`).digest('base64');
  return `${user}:${hash}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Send `payload` on a fresh connection and collect the answer until the server closes. */
function exchange(port, payload, { timeoutMs = 5000, untilBytes = Infinity } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const sock = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('timeout')); }, timeoutMs);
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(Buffer.concat(chunks)); };
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d) => { chunks.push(d); size += d.length; if (size >= untilBytes) done(); });
    sock.on('end', done);
    sock.on('close', done);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

function fourLetter(port, cmd) {
  return exchange(port, Buffer.from(cmd)).then((b) => b.toString());
}

/** A bare session handshake: ZooKeeper answers `imok` before it serves sessions. */
async function handshakeWorks(port) {
  const body = Buffer.alloc(45);
  body.writeInt32BE(0, 0); // protocolVersion
  body.writeBigInt64BE(0n, 4); // lastZxidSeen
  body.writeInt32BE(MIN_SESSION_TIMEOUT_MS * 4, 12);
  body.writeBigInt64BE(0n, 16); // sessionId
  body.writeInt32BE(16, 24); // passwd length, 16 zero bytes follow, then readOnly=false
  const frame = Buffer.alloc(4);
  frame.writeInt32BE(body.length, 0);
  const reply = await exchange(port, Buffer.concat([frame, body]), { timeoutMs: 2000, untilBytes: 40 });
  return reply.length >= 40 && reply.readInt32BE(0) >= 36 && reply.readBigInt64BE(12) !== 0n;
}

function corralBinary() {
  if (process.env.CORRAL_SERVER_BIN) return process.env.CORRAL_SERVER_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  return path.join(targetDir, 'debug', 'corral-server');
}

class Server {
  /** `ensemble`: extra flags (`--id`, `--members`) of one member of a corral ensemble. */
  constructor(ensemble = []) {
    this.ensembleArgs = ensemble;
    this.workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-node-'));
    this.dataDir = path.join(this.workdir, 'data');
    fs.mkdirSync(this.dataDir);
    this.logPath = path.join(this.workdir, 'server.log');
    this.proc = null;
    this.port = 0;
  }

  get hosts() { return `127.0.0.1:${this.port}`; }

  command() {
    const digest = superDigest();
    if (TARGET !== 'zookeeper') {
      const bin = corralBinary();
      if (!fs.existsSync(bin)) {
        throw new Error(`corral-server binary not found at ${bin}; build it or set CORRAL_SERVER_BIN`);
      }
      return [bin, ['--client-port', String(this.port), '--data-dir', this.dataDir,
        '--tick-time-ms', String(TICK_TIME_MS),
        '--min-session-timeout-ms', String(MIN_SESSION_TIMEOUT_MS),
        '--max-session-timeout-ms', String(MAX_SESSION_TIMEOUT_MS),
        '--super-digest', digest, '--container-check-interval-ms', '1000',
        ...this.ensembleArgs]];
    }
    const cfg = path.join(this.workdir, 'zoo.cfg');
    fs.writeFileSync(cfg, [
      `dataDir=${this.dataDir}`, `clientPort=${this.port}`, 'clientPortAddress=127.0.0.1',
      `tickTime=${TICK_TIME_MS}`, `minSessionTimeout=${MIN_SESSION_TIMEOUT_MS}`,
      `maxSessionTimeout=${MAX_SESSION_TIMEOUT_MS}`, '4lw.commands.whitelist=*',
      'admin.enableServer=false', 'extendedTypesEnabled=true', 'maxClientCnxns=0', '',
    ].join('\n'));
    return [process.env.JAVA || 'java', ['-Xmx512m', '-Xms64m',
      '-Dznode.container.checkIntervalMs=1000',
      `-Dzookeeper.DigestAuthenticationProvider.superDigest=${digest}`,
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp', ZOOKEEPER_JARS.join(':'),
      'org.apache.zookeeper.server.ZooKeeperServerMain', cfg]];
  }

  logTail(lines = 40) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no server output)';
    }
  }

  async start() {
    if (!this.port) this.port = await freePort();
    const [cmd, args] = this.command();
    const log = fs.openSync(this.logPath, 'a');
    const proc = spawn(cmd, args, { stdio: ['ignore', log, log], cwd: this.workdir });
    this.proc = proc;
    fs.closeSync(log);
    live.add(proc);
    let exited = null;
    proc.once('exit', (code, signal) => { exited = { code, signal }; live.delete(proc); });
    const deadline = Date.now() + START_TIMEOUT_MS;
    let lastError = '';
    while (Date.now() < deadline) {
      if (exited) {
        this.proc = null;
        throw new Error(`${TARGET} server exited (${JSON.stringify(exited)}) during start; output tail:\n${this.logTail()}`);
      }
      try {
        if ((await fourLetter(this.port, 'ruok')) === 'imok' && (await handshakeWorks(this.port))) return;
        lastError = 'not serving yet';
      } catch (e) {
        lastError = e.message;
      }
      await sleep(100);
    }
    await this.stop(true);
    throw new Error(`${TARGET} server not ready on ${this.hosts} (${lastError}); output tail:\n${this.logTail()}`);
  }

  async stop(kill = false) {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20000);
    await exited;
    clearTimeout(timer);
  }

  /** Stop and remove the work dir (data and log). */
  async destroy() {
    await this.stop();
    fs.rmSync(this.workdir, { recursive: true, force: true });
  }

  async restart(kill = true) {
    await this.stop(kill);
    await this.start();
  }

  fourLetter(cmd) { return fourLetter(this.port, cmd); }
}

/**
 * A local corral ensemble of ENSEMBLE_SIZE voters with the interface of
 * `Server`; its connect string lists every member.
 */
class Ensemble {
  constructor() {
    this.members = [];
  }

  get hosts() { return this.members.map((m) => m.hosts).join(','); }

  get port() { return this.members[0].port; }

  async start() {
    if (this.members.length === 0) {
      const peers = [];
      for (let i = 1; i <= ENSEMBLE_SIZE; i += 1) peers.push(`${i}=127.0.0.1:${await freePort()}`);
      const list = peers.join(',');
      for (let i = 1; i <= ENSEMBLE_SIZE; i += 1) {
        this.members.push(new Server(['--id', String(i), '--members', list]));
      }
    }
    // Voters wait for each other to elect a leader before serving sessions.
    await Promise.all(this.members.map((m) => m.start()));
  }

  async stop(kill = false) { await Promise.all(this.members.map((m) => m.stop(kill))); }

  async destroy() { await Promise.all(this.members.map((m) => m.destroy())); }

  async restart(kill = true) {
    await this.stop(kill);
    await this.start();
  }

  fourLetter(cmd) { return this.members[0].fourLetter(cmd); }
}

/** The server under test: one process, or an ensemble for corral-ensemble. */
function newServer() {
  return TARGET === 'corral-ensemble' ? new Ensemble() : new Server();
}

/** A connected node-zookeeper-client with promise helpers. */
async function connect(hosts, options = {}) {
  const client = zookeeper.createClient(hosts, { sessionTimeout: 10000, spinDelay: 200, retries: 2, ...options });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connect to ${hosts} timed out`)), 15000);
    client.once('connected', () => { clearTimeout(timer); resolve(); });
    client.connect();
  });
  return client;
}

function call(client, method, ...args) {
  return new Promise((resolve, reject) => {
    client[method](...args, (err, ...results) => {
      if (err) reject(err);
      else resolve(results.length <= 1 ? results[0] : results);
    });
  });
}

function close(client) {
  return new Promise((resolve) => {
    if (client.getState() === zookeeper.State.DISCONNECTED) { resolve(); return; }
    const timer = setTimeout(resolve, 5000);
    client.once('disconnected', () => { clearTimeout(timer); resolve(); });
    client.close();
  });
}

module.exports = {
  Server, Ensemble, newServer, TARGET, SUPER_PASSWORD, superDigest, connect, call, close, sleep, zookeeper,
};
