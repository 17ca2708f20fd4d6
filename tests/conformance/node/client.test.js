'use strict';
// node-zookeeper-client against the server under test (see harness.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {
  newServer, TARGET, SUPER_PASSWORD, connect, call, close, sleep, zookeeper,
} = require('./harness');

const { ACL, Id, Permission, CreateMode, Exception } = zookeeper;
const OPEN = ACL.OPEN_ACL_UNSAFE;

let server;
const clients = [];

async function client(options) {
  const c = await connect(server.hosts, options);
  clients.push(c);
  return c;
}

async function rejectsWithCode(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(typeof err.getCode, 'function', `expected a ZooKeeper exception, got ${err}`);
    assert.equal(err.getCode(), code, `expected code ${code}, got ${err}`);
    return true;
  });
}

/**
 * Register a one-shot watch with `method` (getData, getChildren or exists): resolves once
 * the server has answered the registering request, with `event` (a promise of the first
 * event) and `count()` (how many events arrived so far).
 */
function watch(zk, method, path) {
  let fire;
  let fired = 0;
  const event = new Promise((resolve) => { fire = resolve; });
  return new Promise((resolve, reject) => {
    zk[method](path, (e) => { fired += 1; fire(e); }, (err) => {
      // exists on a missing node answers with no error and a null stat.
      if (err) reject(err);
      else resolve({ event, count: () => fired });
    });
  });
}

async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test.before(async () => {
  server = newServer();
  await server.start();
});

test.after(async () => {
  for (const c of clients) await close(c);
  if (server) await server.destroy();
});

test('connect gives a session and the negotiated timeout', async () => {
  const zk = await client({ sessionTimeout: 5000 });
  assert.equal(zk.getSessionTimeout(), 5000);
  assert.equal(zk.getSessionId().length, 8);
  assert.notEqual(zk.getSessionId().readBigInt64BE(0), 0n);
  assert.equal(zk.getState(), zookeeper.State.SYNC_CONNECTED);
});

test('create/get/set/remove with versions', async () => {
  const zk = await client();
  assert.equal(await call(zk, 'create', '/n-crud', Buffer.from('v0'), OPEN, CreateMode.PERSISTENT), '/n-crud');
  const [data, stat] = await call(zk, 'getData', '/n-crud');
  assert.equal(data.toString(), 'v0');
  assert.equal(stat.version, 0);
  assert.equal(stat.dataLength, 2);
  assert.equal(stat.numChildren, 0);
  assert.deepEqual(stat.czxid, stat.mzxid);

  const stat1 = await call(zk, 'setData', '/n-crud', Buffer.from('v1'), 0);
  assert.equal(stat1.version, 1);
  await rejectsWithCode(call(zk, 'setData', '/n-crud', Buffer.from('x'), 0), Exception.BAD_VERSION);
  await rejectsWithCode(call(zk, 'remove', '/n-crud', 0), Exception.BAD_VERSION);
  await call(zk, 'remove', '/n-crud', 1);
  assert.equal(await call(zk, 'exists', '/n-crud'), null);
});

test('error codes', async () => {
  const zk = await client();
  await rejectsWithCode(call(zk, 'getData', '/n-none'), Exception.NO_NODE);
  await rejectsWithCode(call(zk, 'create', '/n-none/kid', null, OPEN, CreateMode.PERSISTENT), Exception.NO_NODE);
  await call(zk, 'create', '/n-errs', null, OPEN, CreateMode.PERSISTENT);
  await rejectsWithCode(call(zk, 'create', '/n-errs', null, OPEN, CreateMode.PERSISTENT), Exception.NODE_EXISTS);
  await call(zk, 'create', '/n-errs/kid', null, OPEN, CreateMode.PERSISTENT);
  await rejectsWithCode(call(zk, 'remove', '/n-errs', -1), Exception.NOT_EMPTY);
  await call(zk, 'create', '/n-errs/eph', null, OPEN, CreateMode.EPHEMERAL);
  await rejectsWithCode(call(zk, 'create', '/n-errs/eph/kid', null, OPEN, CreateMode.PERSISTENT),
    Exception.NO_CHILDREN_FOR_EPHEMERALS);
  const badAcl = [new ACL(Permission.ALL, new Id('nosuchscheme', 'x'))];
  await rejectsWithCode(call(zk, 'create', '/n-errs/badacl', null, badAcl, CreateMode.PERSISTENT),
    Exception.INVALID_ACL);
  await rejectsWithCode(call(zk, 'setData', '/n-none', Buffer.from('x'), -1), Exception.NO_NODE);
  await rejectsWithCode(call(zk, 'remove', '/n-none', -1), Exception.NO_NODE);
});

test('sequential nodes count creates of the parent', async () => {
  const zk = await client();
  await call(zk, 'create', '/n-seq', null, OPEN, CreateMode.PERSISTENT);
  const a = await call(zk, 'create', '/n-seq/s-', null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
  const b = await call(zk, 'create', '/n-seq/s-', null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
  assert.equal(a, '/n-seq/s-0000000000');
  assert.equal(b, '/n-seq/s-0000000001');
  await call(zk, 'remove', a, -1);
  const c = await call(zk, 'create', '/n-seq/s-', null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
  assert.equal(c, '/n-seq/s-0000000002');
  const [children, stat] = await call(zk, 'getChildren', '/n-seq');
  assert.deepEqual(children.sort(), ['s-0000000001', 's-0000000002']);
  assert.equal(stat.cversion, 4); // 3 creates + 1 delete
});

test('ephemeral nodes belong to the session and go with it', async () => {
  const owner = await connect(server.hosts);
  let ownerOpen = true;
  try {
    const zk = await client();
    await call(owner, 'create', '/n-eph', null, OPEN, CreateMode.EPHEMERAL);
    // In an ensemble the other session may be on a server that applies the create a moment
    // later: ZooKeeper orders each session's view, it does not make one session's write
    // visible to every other session at once.
    let stat = null;
    await waitFor(async () => (stat = await call(zk, 'exists', '/n-eph')) !== null, 10000,
      'ephemeral seen by another session');
    assert.deepEqual(stat.ephemeralOwner, owner.getSessionId());
    await close(owner);
    ownerOpen = false;
    await waitFor(async () => (await call(zk, 'exists', '/n-eph')) === null, 10000, 'ephemeral removed');
  } finally {
    // An open session would keep node (and the suite) from exiting after a failure.
    if (ownerOpen) await close(owner);
  }
});

test('watches fire once with the right event', async () => {
  const zk = await client();
  const other = await client();
  await call(zk, 'create', '/n-w', Buffer.from('0'), OPEN, CreateMode.PERSISTENT);

  const data = await watch(zk, 'getData', '/n-w');
  const children = await watch(zk, 'getChildren', '/n-w');
  const exists = await watch(zk, 'exists', '/n-w-missing');
  await call(other, 'setData', '/n-w', Buffer.from('1'), -1);
  await call(other, 'setData', '/n-w', Buffer.from('2'), -1);
  await call(other, 'create', '/n-w/kid', null, OPEN, CreateMode.PERSISTENT);
  await call(other, 'create', '/n-w-missing', null, OPEN, CreateMode.PERSISTENT);

  const d = await data.event;
  assert.equal(d.getType(), zookeeper.Event.NODE_DATA_CHANGED);
  assert.equal(d.getPath(), '/n-w');
  const c = await children.event;
  assert.equal(c.getType(), zookeeper.Event.NODE_CHILDREN_CHANGED);
  assert.equal(c.getPath(), '/n-w');
  const x = await exists.event;
  assert.equal(x.getType(), zookeeper.Event.NODE_CREATED);
  assert.equal(x.getPath(), '/n-w-missing');
  await sleep(500); // listen for a wrong second event
  assert.equal(data.count(), 1);

  const deleted = await watch(zk, 'exists', '/n-w/kid');
  await call(other, 'remove', '/n-w/kid', -1);
  assert.equal((await deleted.event).getType(), zookeeper.Event.NODE_DELETED);
});

test('transaction commits atomically and reports per-op results', async () => {
  const zk = await client();
  await call(zk, 'create', '/n-tx', Buffer.from('0'), OPEN, CreateMode.PERSISTENT);
  const results = await new Promise((resolve, reject) => {
    zk.transaction()
      .create('/n-tx/a', Buffer.from('a'))
      .check('/n-tx', 0)
      .setData('/n-tx', Buffer.from('1'), 0)
      .remove('/n-tx/a', -1)
      .commit((err, res) => (err ? reject(err) : resolve(res)));
  });
  assert.equal(results.length, 4);
  assert.equal(results[0].path, '/n-tx/a');
  assert.equal(results[2].stat.version, 1);
  assert.equal((await call(zk, 'getData', '/n-tx'))[0].toString(), '1');

  const [err, failed] = await new Promise((resolve) => {
    zk.transaction()
      .create('/n-tx/b')
      .setData('/n-tx', Buffer.from('x'), 7)
      .create('/n-tx/c')
      .commit((e, res) => resolve([e, res]));
  });
  assert.ok(err, 'a failing op fails the transaction');
  assert.deepEqual(failed.map((r) => r.err), [0, Exception.BAD_VERSION, Exception.RUNTIME_INCONSISTENCY]);
  assert.equal(await call(zk, 'exists', '/n-tx/b'), null);
  assert.equal((await call(zk, 'getData', '/n-tx'))[0].toString(), '1');
});

test('digest ACLs and super digest', async () => {
  const alice = await client();
  alice.addAuthInfo('digest', Buffer.from('alice:pw'));
  const hash = crypto.createHash('sha1').update('alice:pw').digest('base64');
  const acl = [new ACL(Permission.ALL, new Id('digest', `alice:${hash}`))];
  await call(alice, 'create', '/n-acl', Buffer.from('secret'), acl, CreateMode.PERSISTENT);
  assert.equal((await call(alice, 'getData', '/n-acl'))[0].toString(), 'secret');
  const [acls] = await call(alice, 'getACL', '/n-acl');
  assert.equal(acls.length, 1);
  assert.equal(acls[0].id.scheme, 'digest');
  assert.equal(acls[0].id.id, `alice:${hash}`);
  assert.equal(acls[0].permission, Permission.ALL);

  const stranger = await client();
  await rejectsWithCode(call(stranger, 'getData', '/n-acl'), Exception.NO_AUTH);
  await rejectsWithCode(call(stranger, 'setData', '/n-acl', Buffer.from('x'), -1), Exception.NO_AUTH);

  const root = await client();
  root.addAuthInfo('digest', Buffer.from(`super:${SUPER_PASSWORD}`));
  assert.equal((await call(root, 'getData', '/n-acl'))[0].toString(), 'secret');

  const readOnly = [new ACL(Permission.READ, new Id('world', 'anyone'))];
  await call(alice, 'create', '/n-acl-ro', null, readOnly, CreateMode.PERSISTENT);
  await rejectsWithCode(call(stranger, 'setData', '/n-acl-ro', Buffer.from('x'), -1), Exception.NO_AUTH);
});

test('four-letter words answer', async () => {
  assert.equal(await server.fourLetter('ruok'), 'imok');
  const mode = TARGET === 'corral-ensemble' ? /Mode: (leader|follower)/ : /Mode: standalone/;
  assert.match(await server.fourLetter('srvr'), mode);
});
