'use strict';
// node-zookeeper-client's SetWatches after a dropped connection (see harness.js for the
// server under test). The client's connection goes through a local TCP proxy that is cut
// while another client makes changes; the client comes back through a second proxy that
// listens only once the changes are made: in front of the same server, or on an ensemble in
// front of another member (the session moves). The client then re-registers its watches
// with SetWatches and its last zxid, and the server must fire at once what it missed
// (ZooKeeper's DataTree.setWatches), the child case from the node's pzxid.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const {
  newServer, TARGET, connect, call, close, sleep, zookeeper,
} = require('./harness');

const QUIET_MS = 1000;

let server;

/** A TCP proxy in front of `targetPort` that can be cut (all connections closed, no
 * longer listening) and reopened on the same port. */
class CutProxy {
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.sockets = new Set();
    this.port = null;
    this.listener = null;
  }

  listen(port = 0) {
    return new Promise((resolve, reject) => {
      this.listener = net.createServer((client) => {
        const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
        for (const s of [client, upstream]) {
          this.sockets.add(s);
          s.on('close', () => this.sockets.delete(s));
          s.on('error', () => {});
        }
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      this.listener.once('error', reject);
      this.listener.listen(port, '127.0.0.1', () => {
        this.port = this.listener.address().port;
        resolve();
      });
    });
  }

  get hosts() { return `127.0.0.1:${this.port}`; }

  cut() {
    if (this.listener) this.listener.close();
    this.listener = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** The member the client starts on and the one it comes back on. */
function memberPorts() {
  if (TARGET === 'corral-ensemble') return [server.members[0].port, server.members[1].port];
  return [server.port, server.port];
}

/** A one-shot watch registered with `method`; `events` lists what fired. */
function watch(zk, method, path) {
  const events = [];
  return new Promise((resolve, reject) => {
    zk[method](path, (e) => events.push([e.getName(), e.getPath()]), (err) => {
      if (err) reject(err);
      else resolve(events);
    });
  });
}

async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test.before(async () => {
  server = newServer();
  await server.start();
});

test.after(async () => {
  await server.destroy();
});

test('SetWatches after a dropped connection fires what the client missed', async () => {
  const writer = await connect(server.hosts);
  const [firstPort, backPort] = memberPorts();
  const first = new CutProxy(firstPort);
  const back = new CutProxy(backPort);
  await first.listen();
  await back.listen();
  const backPortNumber = back.port;
  back.cut(); // nothing listens on the way back until the changes are made
  const base = '/nsw';
  const P = zookeeper.CreateMode.PERSISTENT;
  const mk = (path, data) => call(writer, 'create', path, data ? Buffer.from(data) : null, P);
  await mk(base);
  await mk(`${base}/data`, '0');
  await mk(`${base}/gone`, '0');
  await mk(`${base}/same`, '0');
  await mk(`${base}/kids`);
  await mk(`${base}/kids/k1`);
  await mk(`${base}/kids-del`);
  await mk(`${base}/kids-del/k1`);
  await mk(`${base}/kids-data`, '0');
  await mk(`${base}/kids-gone`);

  const zk = await connect(`${first.hosts},127.0.0.1:${backPortNumber}`,
    { sessionTimeout: 30000, spinDelay: 100 });
  try {
    const sessionId = zk.getSessionId().toString('hex');
    const data = await watch(zk, 'getData', `${base}/data`);
    const gone = await watch(zk, 'getData', `${base}/gone`);
    const same = await watch(zk, 'getData', `${base}/same`);
    const born = await watch(zk, 'exists', `${base}/born`);
    const kids = await watch(zk, 'getChildren', `${base}/kids`);
    const kidsDel = await watch(zk, 'getChildren', `${base}/kids-del`);
    const kidsData = await watch(zk, 'getChildren', `${base}/kids-data`);
    const kidsGone = await watch(zk, 'getChildren', `${base}/kids-gone`);

    let disconnected = false;
    zk.once('disconnected', () => { disconnected = true; });
    first.cut();
    await waitFor(() => disconnected, 10000, 'the client noticed the cut');
    await call(writer, 'setData', `${base}/data`, Buffer.from('1'), -1);
    await call(writer, 'remove', `${base}/gone`, -1);
    await mk(`${base}/born`);
    await mk(`${base}/kids/k2`);
    await call(writer, 'remove', `${base}/kids-del/k1`, -1);
    await call(writer, 'setData', `${base}/kids-data`, Buffer.from('1'), -1); // pzxid unchanged
    await call(writer, 'remove', `${base}/kids-gone`, -1);
    // The member the client comes back on has every change before SetWatches arrives
    // (this client has no sync: wait for the last change to show there).
    const catchUp = await connect(`127.0.0.1:${backPort}`);
    const deadline = Date.now() + 10000;
    while (await call(catchUp, 'exists', `${base}/kids-gone`) && Date.now() < deadline) {
      await sleep(20);
    }
    await close(catchUp);
    let reconnected = false;
    zk.once('connected', () => { reconnected = true; });
    await back.listen(backPortNumber);
    await waitFor(() => reconnected, 30000, 'the client reconnected');
    assert.equal(zk.getSessionId().toString('hex'), sessionId);

    await waitFor(() => data.length && gone.length && born.length && kids.length
      && kidsDel.length && kidsGone.length, 20000, 'the missed events');
    assert.deepEqual(data, [['NODE_DATA_CHANGED', `${base}/data`]]);
    assert.deepEqual(gone, [['NODE_DELETED', `${base}/gone`]]);
    assert.deepEqual(born, [['NODE_CREATED', `${base}/born`]]);
    assert.deepEqual(kids, [['NODE_CHILDREN_CHANGED', `${base}/kids`]]);
    assert.deepEqual(kidsDel, [['NODE_CHILDREN_CHANGED', `${base}/kids-del`]]);
    assert.deepEqual(kidsGone, [['NODE_DELETED', `${base}/kids-gone`]]);
    await sleep(QUIET_MS);
    assert.deepEqual(same, [], 'an unchanged node fires nothing');
    assert.deepEqual(kidsData, [], 'a change of the node\'s own data is no child event');
    // Their watches were registered again: they fire on the next change.
    await call(writer, 'setData', `${base}/same`, Buffer.from('1'), -1);
    await mk(`${base}/kids-data/k1`);
    await waitFor(() => same.length && kidsData.length, 20000, 'the re-registered watches');
    assert.deepEqual(same, [['NODE_DATA_CHANGED', `${base}/same`]]);
    assert.deepEqual(kidsData, [['NODE_CHILDREN_CHANGED', `${base}/kids-data`]]);
  } finally {
    await close(zk);
    await close(writer);
    first.cut();
    back.cut();
  }
});
