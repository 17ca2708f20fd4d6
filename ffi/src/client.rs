//! `corral_client`: connect, close, detach, the node operations and the
//! session token. Each function extracts its arguments, makes one
//! `corral-embed` call, waits for it on the caller's thread, and converts
//! the result.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use corral::client::CreateOptions;
use corral::proto::{AddWatchMode, CreateMode, Stat};
use corral_embed::{Delivery, EmbeddedClient, Options, SessionToken};

use crate::event::{corral_event_callback, Callback, Gate};
use crate::memory::{byte_buffer, bytes, out, put, string, string_list, text};
use crate::result::{boundary, corral_result, Failure};

/// A connected client: one ZooKeeper session.
///
/// Thread-safety: every function taking a `corral_client *` may be called
/// from many threads at once (calls are pipelined on one connection),
/// except `corral_client_free`, which must be the last call on it.
pub struct corral_client {
    pub(crate) inner: EmbeddedClient,
    /// With a callback: closed by `corral_client_free`, so that no call of
    /// the callback runs after free returns (the delivery thread may still
    /// be draining the queue, and the caller may free `userdata` next).
    gate: Option<Gate>,
}

/// A node's metadata, ZooKeeper's `Stat`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct corral_stat {
    /// zxid of the change that created the node.
    pub czxid: i64,
    /// zxid of the change that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, milliseconds since the epoch.
    pub ctime: i64,
    /// Last data modification time, milliseconds since the epoch.
    pub mtime: i64,
    /// Number of changes to the data.
    pub version: i32,
    /// Number of changes to the children.
    pub cversion: i32,
    /// Number of changes to the ACL.
    pub aversion: i32,
    /// Owning session of an ephemeral node, 0 otherwise.
    pub ephemeral_owner: i64,
    /// Length of the data.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// zxid of the change that last modified the children.
    pub pzxid: i64,
}

impl From<Stat> for corral_stat {
    fn from(s: Stat) -> corral_stat {
        corral_stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
            pzxid: s.pzxid,
        }
    }
}

/// How `corral_client_create` makes a node: ZooKeeper's create flags,
/// numbers unchanged.
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_create_mode {
    /// A node that lives until deleted.
    Persistent = 0,
    /// A node deleted when its session ends.
    Ephemeral = 1,
    /// Persistent, with a sequence suffix.
    PersistentSequential = 2,
    /// Ephemeral, with a sequence suffix.
    EphemeralSequential = 3,
    /// A node removed once its last child is gone.
    Container = 4,
    /// Persistent, removed once unmodified and childless for its TTL.
    PersistentWithTtl = 5,
    /// As `PERSISTENT_WITH_TTL`, with a sequence suffix.
    PersistentSequentialWithTtl = 6,
}

/// The kind of watch `corral_client_add_watch` sets (ZooKeeper's addWatch
/// modes, numbers unchanged).
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_add_watch_mode {
    /// Data changes, deletion and child changes of one node; stays set.
    Persistent = 0,
    /// Creation, data change and deletion of the node and every
    /// descendant; stays set.
    PersistentRecursive = 1,
}

/// The client behind a handle, or a NULL-argument failure.
///
/// # Safety
/// `client` must be NULL or a live handle from `corral_client_connect`.
pub(crate) unsafe fn handle<'a>(
    client: *const corral_client,
) -> Result<&'a corral_client, Failure> {
    client.as_ref().ok_or_else(|| Failure::null("client"))
}

fn version(version: i32) -> Option<i32> {
    (version != -1).then_some(version)
}

/// Connects to `connect_string` (`"host:port,host:port/chroot"`) and waits
/// until the session is established (or the connect timeout, 15 s by
/// default, passes).
///
/// - `session_timeout_ms`: the session timeout to ask for; 0 for the
///   default (the server clamps it).
/// - `resume_token`: NULL for a new session, or a token from
///   `corral_client_session_token` (of this or another process) to resume
///   that session, with its ephemeral nodes.
/// - `callback`: NULL to pull events with `corral_client_events` and
///   `corral_watcher_next`; otherwise every event of this client (session
///   states, watch events, lease losses) is passed to it in order, with
///   `userdata`, on the client's own thread `corral-events` (never on the
///   caller's thread). The event is valid only during the call. A slow
///   callback delays later events of this client, never its heartbeats. It
///   must not call `corral_client_free` on its own client.
///
/// On success `*client_out` gets the handle (free with `corral_client_free`).
///
/// # Safety
/// Strings must be NULL or NUL-terminated; `client_out` writable;
/// `userdata` must be safe to use from the `corral-events` thread.
#[no_mangle]
pub unsafe extern "C" fn corral_client_connect(
    connect_string: *const c_char,
    session_timeout_ms: u32,
    resume_token: *const c_char,
    callback: corral_event_callback,
    userdata: *mut c_void,
    client_out: *mut *mut corral_client,
) -> corral_result {
    boundary(|| {
        let hosts = text(connect_string, "connect_string")?;
        out(client_out, "client_out")?;
        let mut options = Options::new(hosts);
        if session_timeout_ms > 0 {
            options.session_timeout = Some(Duration::from_millis(session_timeout_ms.into()));
        }
        if !resume_token.is_null() {
            let token = text(resume_token, "resume_token")?;
            let token: SessionToken = token
                .parse()
                .map_err(|e| Failure::new(corral_result::BadArguments, format!("{e}")))?;
            options.resume = Some(token);
        }
        let (delivery, gate) = match callback {
            None => (Delivery::Queue, None),
            Some(function) => {
                let gate = Gate::default();
                let delivery = Callback::new(function, userdata).delivery(gate.clone());
                (delivery, Some(gate))
            }
        };
        let inner = EmbeddedClient::connect_blocking(options, delivery)?;
        client_out.write(Box::into_raw(Box::new(corral_client { inner, gate })));
        Ok(())
    })
}

/// Closes the session (its ephemeral nodes are deleted) and waits for the
/// server's answer. Later calls on the handle fail with
/// `CORRAL_RESULT_CLOSING`; the handle must still be freed. Closing twice
/// is not an error.
///
/// # Safety
/// `client` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn corral_client_close(client: *const corral_client) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        client.inner.close().wait(None)?;
        Ok(())
    })
}

/// Stops this client **without** ending its session: the connection is
/// dropped, but the session and its ephemeral nodes live on until another
/// client resumes it (`resume_token` of `corral_client_connect`) or its
/// timeout passes. Export the token first. Later calls fail with
/// `CORRAL_RESULT_CLOSING`; the handle must still be freed.
///
/// # Safety
/// `client` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn corral_client_detach(client: *const corral_client) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        client
            .inner
            .call(|c| async move {
                c.detach().await;
                Ok(())
            })
            .wait(None)?;
        Ok(())
    })
}

/// Frees a client handle. Without a prior `corral_client_close` the
/// connection is dropped and the session is left to expire on the
/// servers (as `corral_client_detach`). NULL is ignored. No other call on
/// this handle may run or follow; watchers taken from it stay valid (they
/// report `CORRAL_RESULT_CLOSING` once drained). Events not yet delivered
/// are dropped. With a callback: once this returns, the callback is not
/// running and is never called again (so `userdata` may be freed); this
/// waits for a callback in progress, so it must not be called from the
/// client's own callback.
///
/// # Safety
/// `client` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn corral_client_free(client: *mut corral_client) {
    crate::result::guard((), || {
        if !client.is_null() {
            let client = Box::from_raw(client);
            if let Some(gate) = &client.gate {
                gate.close();
            }
            drop(client);
        }
    })
}

/// Creates a node.
///
/// - `data`/`data_len`: the node's data; `data` NULL with `data_len` 0
///   creates a node with null data (as ZooKeeper's `create(path, null)`),
///   a non-NULL `data` with `data_len` 0 one with empty data.
/// - `mode`: one of `corral_create_mode` (anything else:
///   `CORRAL_RESULT_BAD_ARGUMENTS`).
/// - `ttl_ms`: the time to live for the TTL modes (required there, > 0);
///   must be 0 for the others.
/// - `path_out` (may be NULL): the created path, with the sequence suffix
///   of sequential modes; free with `corral_string_free`.
/// - `stat_out` (may be NULL): the new node's stat.
///
/// Errors: `NODE_EXISTS`, `NO_NODE` (no parent), `NO_CHILDREN_FOR_EPHEMERALS`,
/// `BAD_ARGUMENTS` (invalid path, mode or TTL), `UNIMPLEMENTED` (TTLs
/// disabled on the server), `NO_AUTH`.
///
/// # Safety
/// Pointers must be NULL or valid as described.
#[no_mangle]
pub unsafe extern "C" fn corral_client_create(
    client: *const corral_client,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    mode: i32,
    ttl_ms: i64,
    path_out: *mut *mut c_char,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        create(
            client, path, data, data_len, mode, ttl_ms, None, path_out, stat_out,
        )
    })
}

/// The body of `corral_client_create` and `corral_client_create_with_acl`
/// (`acl` `None`: the open ACL).
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn create(
    client: *const corral_client,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    mode: i32,
    ttl_ms: i64,
    acl: Option<Vec<corral::proto::Acl>>,
    path_out: *mut *mut c_char,
    stat_out: *mut corral_stat,
) -> Result<(), Failure> {
    let client = handle(client)?;
    let path = text(path, "path")?;
    let data = bytes(data, data_len, "data")?.map(<[u8]>::to_vec);
    let mode = CreateMode::from_flag(mode).ok_or_else(|| {
        Failure::new(
            corral_result::BadArguments,
            format!("unknown create mode {mode}"),
        )
    })?;
    let mut options = CreateOptions::new(mode);
    if let Some(acl) = acl {
        options = options.with_acl(acl);
    }
    if ttl_ms != 0 {
        let ttl = u64::try_from(ttl_ms).map_err(|_| {
            Failure::new(corral_result::BadArguments, "ttl_ms must not be negative")
        })?;
        options = options.with_ttl(Duration::from_millis(ttl));
    }
    let path = path.to_owned();
    let (created, stat) = client
        .inner
        .call(|c| async move { c.create_nullable(&path, data.as_deref(), &options).await })
        .wait(None)?;
    put(stat_out, stat.into());
    if !path_out.is_null() {
        path_out.write(string(created));
    }
    Ok(())
}

/// Reads a node's data and stat.
///
/// `*data_out` gets NULL (and `*data_len_out` 0) when the node's data is
/// null, otherwise a buffer (non-NULL even when empty) to free with
/// `corral_bytes_free(data, len)`. `stat_out` may be NULL.
///
/// Errors: `NO_NODE`, `NO_AUTH`, `BAD_ARGUMENTS` (invalid path).
///
/// # Safety
/// Pointers must be NULL or valid; `data_out` and `data_len_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_get_data(
    client: *const corral_client,
    path: *const c_char,
    data_out: *mut *mut u8,
    data_len_out: *mut usize,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?.to_owned();
        out(data_out, "data_out")?;
        out(data_len_out, "data_len_out")?;
        let (data, stat) = client
            .inner
            .call(|c| async move { c.get_data_nullable(&path).await })
            .wait(None)?;
        let (ptr, len) = match data {
            Some(data) => byte_buffer(data),
            None => (std::ptr::null_mut(), 0),
        };
        data_out.write(ptr);
        data_len_out.write(len);
        put(stat_out, stat.into());
        Ok(())
    })
}

/// Replaces a node's data if its data version is `version` (-1: any
/// version). `data` may be NULL only with `data_len` 0 (then the data
/// becomes empty). `stat_out` (may be NULL) gets the new stat.
///
/// Errors: `NO_NODE`, `BAD_VERSION`, `NO_AUTH`, `BAD_ARGUMENTS`.
///
/// # Safety
/// Pointers must be NULL or valid as described.
#[no_mangle]
pub unsafe extern "C" fn corral_client_set_data(
    client: *const corral_client,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    version: i32,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?;
        let data = bytes(data, data_len, "data")?.unwrap_or_default();
        let stat = client
            .inner
            .set_data(path, data, self::version(version))
            .wait(None)?;
        put(stat_out, stat.into());
        Ok(())
    })
}

/// Deletes a node if its data version is `version` (-1: any version).
///
/// Errors: `NO_NODE`, `BAD_VERSION`, `NOT_EMPTY`, `NO_AUTH`, `BAD_ARGUMENTS`.
///
/// # Safety
/// Pointers must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn corral_client_delete(
    client: *const corral_client,
    path: *const c_char,
    version: i32,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?;
        client
            .inner
            .delete(path, self::version(version))
            .wait(None)?;
        Ok(())
    })
}

/// Whether a node exists: `*exists_out` gets true or false (a missing
/// node is not an error); `stat_out` (may be NULL) gets its stat when it
/// exists and is left untouched otherwise.
///
/// # Safety
/// Pointers must be NULL or valid; `exists_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_exists(
    client: *const corral_client,
    path: *const c_char,
    exists_out: *mut bool,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?;
        out(exists_out, "exists_out")?;
        let stat = client.inner.exists(path).wait(None)?;
        exists_out.write(stat.is_some());
        if let Some(stat) = stat {
            put(stat_out, stat.into());
        }
        Ok(())
    })
}

/// The names of a node's children (not full paths, in no particular
/// order): `*children_out` gets an array of `*count_out` strings, to free
/// with `corral_strings_free(children, count)` (a non-NULL empty array
/// when there are none). `stat_out` (may be NULL) gets the node's stat
/// (ZooKeeper's getChildren2).
///
/// Errors: `NO_NODE`, `NO_AUTH`, `BAD_ARGUMENTS`.
///
/// # Safety
/// Pointers must be NULL or valid; the out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_get_children(
    client: *const corral_client,
    path: *const c_char,
    children_out: *mut *mut *mut c_char,
    count_out: *mut usize,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?.to_owned();
        out(children_out, "children_out")?;
        out(count_out, "count_out")?;
        let (children, stat) = client
            .inner
            .call(|c| async move { c.get_children_with_stat(&path).await })
            .wait(None)?;
        let (list, count) = string_list(children);
        children_out.write(list);
        count_out.write(count);
        put(stat_out, stat.into());
        Ok(())
    })
}

/// ZooKeeper's sync: once it returns, this client's reads of `path` see
/// every write committed before the sync started.
///
/// # Safety
/// Pointers must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn corral_client_sync(
    client: *const corral_client,
    path: *const c_char,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?.to_owned();
        client
            .inner
            .call(|c| async move { c.sync(&path).await })
            .wait(None)?;
        Ok(())
    })
}

/// The session as a text token
/// (`v1:<session id>:<timeout ms>:<last zxid>:<password>`), for
/// `corral_client_connect`'s `resume_token` in this or another process.
/// Free it with `corral_string_free`. The token holds the session's
/// password: whoever has it can take the session over. The exporter should
/// then detach (`corral_client_detach`), not close.
///
/// # Safety
/// Pointers must be NULL or valid; `token_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_session_token(
    client: *const corral_client,
    token_out: *mut *mut c_char,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        out(token_out, "token_out")?;
        let token = client.inner.session_token()?;
        token_out.write(string(token.to_string()));
        Ok(())
    })
}

/// The session's id (the `ephemeral_owner` of its ephemeral nodes).
///
/// # Safety
/// Pointers must be NULL or valid; `session_id_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_session_id(
    client: *const corral_client,
    session_id_out: *mut i64,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        out(session_id_out, "session_id_out")?;
        session_id_out.write(client.inner.client()?.session().id);
        Ok(())
    })
}

/// As `corral_client_get_data`, and sets a one-shot watch on the node's
/// next data change or deletion: `*watch_out` gets its id, which the event
/// (`CORRAL_EVENT_KIND_WATCH`) carries. This form does not tell null data
/// from empty: both come back as a non-NULL empty buffer.
///
/// # Safety
/// As `corral_client_get_data`; `watch_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_get_data_watch(
    client: *const corral_client,
    path: *const c_char,
    data_out: *mut *mut u8,
    data_len_out: *mut usize,
    stat_out: *mut corral_stat,
    watch_out: *mut u64,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?;
        out(data_out, "data_out")?;
        out(data_len_out, "data_len_out")?;
        out(watch_out, "watch_out")?;
        let (data, stat, watch) = client.inner.get_and_watch_data(path).wait(None)?;
        let (ptr, len) = byte_buffer(data);
        data_out.write(ptr);
        data_len_out.write(len);
        put(stat_out, stat.into());
        watch_out.write(watch);
        Ok(())
    })
}

/// Sets a persistent watch (ZooKeeper's addWatch) on `path`, which need
/// not exist; `mode` is one of `corral_add_watch_mode`. `*watch_out` gets
/// its id; its events (`CORRAL_EVENT_KIND_WATCH`) come until
/// `corral_client_remove_watch` or the session ends.
///
/// # Safety
/// Pointers must be NULL or valid; `watch_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_add_watch(
    client: *const corral_client,
    path: *const c_char,
    mode: i32,
    watch_out: *mut u64,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?;
        out(watch_out, "watch_out")?;
        let mode = AddWatchMode::from_code(mode).ok_or_else(|| {
            Failure::new(
                corral_result::BadArguments,
                format!("unknown add-watch mode {mode}"),
            )
        })?;
        let watch = client.inner.add_watch(path, mode).wait(None)?;
        watch_out.write(watch);
        Ok(())
    })
}

/// Stops delivering a watch's events (a data, persistent or lease watch).
/// Unknown ids are ignored.
///
/// # Safety
/// `client` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn corral_client_remove_watch(
    client: *const corral_client,
    watch: u64,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        client.inner.client()?;
        client.inner.remove_watch(watch);
        Ok(())
    })
}
