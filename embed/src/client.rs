//! [`EmbeddedClient`]: a core [`corral::Client`] on the shared runtime,
//! with calls usable from any thread and its events delivered in order to
//! a pull queue or a callback thread.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral::client::{
    Client, Connector, CreateOptions, ReadConsistency, SessionState, SinkEvent, WatchSink,
};
use corral::proto::{AddWatchMode, Stat};
use corral::recipes::{LatchState, LeaderLatch, Lease, TreeCache};
use tokio::task::AbortHandle;

use crate::call::Call;
use crate::error::{Error, Result};
use crate::events::{
    spawn_delivery_thread, Event, EventQueue, WatchId, EVENT_QUEUE_CAPACITY_DEFAULT,
};
use crate::runtime;
use crate::token::SessionToken;

/// How a client's events reach foreign code.
pub enum Delivery {
    /// Foreign code pulls them: [`EmbeddedClient::events`], `next(timeout)`.
    Queue,
    /// A thread of this client (`corral-events`) calls this for every
    /// event, in order. The callback may block (take the GIL, wait for a
    /// lock): that delays this client's later events, never its pings.
    Callback(Box<dyn FnMut(Event) + Send + 'static>),
}

/// What to connect to and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// `host:port,host:port/chroot`.
    pub connect_string: String,
    /// Session timeout to ask for (`None`: core's default).
    pub session_timeout: Option<Duration>,
    /// How long `connect` may take (`None`: core's default).
    pub connect_timeout: Option<Duration>,
    /// Per-request timeout (`None`: core's default).
    pub request_timeout: Option<Duration>,
    /// A session to resume instead of creating one.
    pub resume: Option<SessionToken>,
    /// Capacity of the event queue (overflow ends in [`Event::Resync`]).
    pub event_capacity: usize,
    /// What the client's reads promise (default `Local`, ZooKeeper's);
    /// per call, [`EmbeddedClient::call`] with `c.linearizable()`.
    pub read_consistency: ReadConsistency,
    /// Credentials sent on every (re)connection: `(scheme, credential)`.
    pub auth: Vec<(String, Vec<u8>)>,
    /// Whether a read-only server may serve the session.
    pub read_only: bool,
}

impl Options {
    /// Defaults for `connect_string`.
    pub fn new(connect_string: &str) -> Options {
        Options {
            connect_string: connect_string.to_owned(),
            session_timeout: None,
            connect_timeout: None,
            request_timeout: None,
            resume: None,
            event_capacity: EVENT_QUEUE_CAPACITY_DEFAULT,
            read_consistency: ReadConsistency::Local,
            auth: Vec::new(),
            read_only: false,
        }
    }

    fn connector(&self) -> Connector {
        let mut connector = Client::connector(&self.connect_string).runtime(runtime::handle());
        if let Some(token) = &self.resume {
            connector = token.resume(connector);
        }
        if let Some(t) = self.session_timeout {
            connector = connector.session_timeout(t);
        }
        if let Some(t) = self.connect_timeout {
            connector = connector.connect_timeout(t);
        }
        if let Some(t) = self.request_timeout {
            connector = connector.request_timeout(t);
        }
        for (scheme, credential) in &self.auth {
            connector = connector.auth(scheme, credential);
        }
        connector.read_only(self.read_only)
    }
}

/// The tasks that forward core's watchers into the event queue.
#[derive(Default)]
struct Forwarders {
    watches: HashMap<WatchId, AbortHandle>,
    session: Option<AbortHandle>,
}

/// A client for foreign code: every operation returns a [`Call`] (wait,
/// interruptible wait, callback, cancel), from any thread.
///
/// Events go to one bounded queue per client. Session states and watch
/// events come through core's [`WatchSink`](corral::client::WatchSink), so
/// they are in the one order the client's session task produced them
/// (across watches too; the terminal state last); lease losses
/// ([`watch_lease`](Self::watch_lease)) come from their own task and are
/// ordered only among themselves. With [`Delivery::Callback`] a thread of
/// the client pulls them and calls the callback.
///
/// Fork: a client made before `fork()` fails every call in the child with
/// [`Error::Forked`] and, when dropped there, touches nothing of the
/// parent's (its memory is leaked instead). Make a new client in the child.
pub struct EmbeddedClient {
    client: Option<Client>,
    pid: u32,
    events: EventQueue,
    forwarders: Arc<Mutex<Forwarders>>,
    /// Where this client's watches deliver (with its states), in order.
    sink: WatchSink,
    /// Ids of lease watches (above core's watch ids, which count from 1).
    next_lease_watch: Arc<AtomicU64>,
    delivery: Option<std::thread::JoinHandle<()>>,
    pulls: bool,
}

/// The first id of a lease watch: far above any id core gives a watch.
const LEASE_WATCH_ID_BASE: u64 = 1 << 62;

impl EmbeddedClient {
    /// Connects on the shared runtime.
    pub fn connect(options: Options, delivery: Delivery) -> Call<EmbeddedClient> {
        Call::spawn(async move {
            let client = options
                .connector()
                .connect()
                .await?
                .with_consistency(options.read_consistency);
            Ok(EmbeddedClient::from_client(
                client,
                options.event_capacity,
                delivery,
            ))
        })
    }

    /// Connects and waits (at most the connect timeout): the blocking form
    /// of [`connect`](Self::connect).
    pub fn connect_blocking(options: Options, delivery: Delivery) -> Result<EmbeddedClient> {
        EmbeddedClient::connect(options, delivery).wait(None)
    }

    /// Wraps a client connected on the shared runtime
    /// ([`runtime::handle`]); its events start flowing now.
    pub fn from_client(
        client: Client,
        event_capacity: usize,
        delivery: Delivery,
    ) -> EmbeddedClient {
        let events = EventQueue::new(event_capacity);
        let forwarders = Arc::new(Mutex::new(Forwarders::default()));
        let (sink, mut ordered, current) = client.watch_sink();
        let queue = events.clone();
        let session = runtime::handle().spawn(async move {
            queue.push(Event::Session(current));
            if current.is_terminal() {
                queue.close();
                return;
            }
            while let Some(event) = ordered.recv().await {
                match event {
                    SinkEvent::State(state) if state.is_terminal() => {
                        // The client is over (closed, expired, auth
                        // failed): this state is the queue's last event.
                        // Watch ends that come later are dropped; this
                        // says it all.
                        queue.push_last(Event::Session(state));
                        return;
                    }
                    SinkEvent::State(state) => {
                        queue.push(Event::Session(state));
                    }
                    SinkEvent::Watch { id, event } => {
                        queue.push(Event::Watch { watch: id, event });
                    }
                }
            }
            queue.close();
        });
        lock(&forwarders).session = Some(session.abort_handle());
        let (delivery, pulls) = match delivery {
            Delivery::Queue => (None, true),
            Delivery::Callback(callback) => {
                (Some(spawn_delivery_thread(events.clone(), callback)), false)
            }
        };
        EmbeddedClient {
            client: Some(client),
            pid: runtime::current_pid(),
            events,
            forwarders,
            sink,
            next_lease_watch: Arc::new(AtomicU64::new(LEASE_WATCH_ID_BASE)),
            delivery,
            pulls,
        }
    }

    /// The core client, to reach everything core offers (recipes, multi).
    /// Fails in a forked child.
    pub fn client(&self) -> Result<&Client> {
        match &self.client {
            Some(client) if self.pid == runtime::current_pid() => Ok(client),
            _ => Err(Error::Forked),
        }
    }

    /// The pull queue of this client's events ([`Delivery::Queue`]); with
    /// a callback, the delivery thread owns it and this is `None`.
    pub fn events(&self) -> Option<&EventQueue> {
        self.pulls.then_some(&self.events)
    }

    /// Runs `request` against the core client on the shared runtime: the
    /// one door every binding method goes through.
    pub fn call<T, F, Fut>(&self, request: F) -> Call<T>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = corral::Result<T>> + Send + 'static,
    {
        match self.client() {
            Ok(client) => {
                let request = request(client.clone());
                Call::spawn(async move { request.await.map_err(Error::from) })
            }
            Err(e) => Call::failed(e),
        }
    }

    /// getData.
    pub fn get_data(&self, path: &str) -> Call<(Vec<u8>, Stat)> {
        let path = path.to_owned();
        self.call(|c| async move { c.get_data(&path).await })
    }

    /// exists.
    pub fn exists(&self, path: &str) -> Call<Option<Stat>> {
        let path = path.to_owned();
        self.call(|c| async move { c.exists(&path).await })
    }

    /// getChildren.
    pub fn get_children(&self, path: &str) -> Call<Vec<String>> {
        let path = path.to_owned();
        self.call(|c| async move { c.get_children(&path).await })
    }

    /// create: the created path (with its sequence suffix) and stat.
    pub fn create(&self, path: &str, data: &[u8], options: CreateOptions) -> Call<(String, Stat)> {
        let (path, data) = (path.to_owned(), data.to_vec());
        self.call(|c| async move { c.create(&path, &data, &options).await })
    }

    /// setData (`None`: any version).
    pub fn set_data(&self, path: &str, data: &[u8], version: Option<i32>) -> Call<Stat> {
        let (path, data) = (path.to_owned(), data.to_vec());
        self.call(|c| async move { c.set_data(&path, &data, version).await })
    }

    /// delete (`None`: any version).
    pub fn delete(&self, path: &str, version: Option<i32>) -> Call<()> {
        let path = path.to_owned();
        self.call(|c| async move { c.delete(&path, version).await })
    }

    /// getData with a one-shot data watch: the data, the stat and the
    /// watch's id, whose event arrives as [`Event::Watch`].
    pub fn get_and_watch_data(&self, path: &str) -> Call<(Vec<u8>, Stat, WatchId)> {
        let (path, sink) = (path.to_owned(), self.sink.clone());
        self.call(|c| async move { c.get_and_watch_data_into(&path, &sink).await })
    }

    /// exists with a one-shot watch (on creation, data change or
    /// deletion): the stat (`None`: no node) and the watch's id, whose
    /// event arrives as [`Event::Watch`].
    pub fn exists_and_watch(&self, path: &str) -> Call<(Option<Stat>, WatchId)> {
        let (path, sink) = (path.to_owned(), self.sink.clone());
        self.call(|c| async move { c.exists_and_watch_into(&path, &sink).await })
    }

    /// getChildren with a one-shot child watch: the children, the stat and
    /// the watch's id, whose event arrives as [`Event::Watch`].
    pub fn get_and_watch_children(&self, path: &str) -> Call<(Vec<String>, Stat, WatchId)> {
        let (path, sink) = (path.to_owned(), self.sink.clone());
        self.call(|c| async move { c.get_and_watch_children_into(&path, &sink).await })
    }

    /// addWatch (persistent or persistent-recursive): the watch's id; its
    /// events arrive as [`Event::Watch`] until [`remove_watch`](Self::remove_watch)
    /// or the session ends.
    pub fn add_watch(&self, path: &str, mode: AddWatchMode) -> Call<WatchId> {
        let (path, sink) = (path.to_owned(), self.sink.clone());
        self.call(|c| async move { c.add_watch_into(&path, mode, &sink).await })
    }

    /// Reports the loss of `lease` as an [`Event::LeaseLost`] with the
    /// returned id (once; [`remove_watch`](Self::remove_watch) stops it).
    pub fn watch_lease(&self, lease: &Lease) -> Result<WatchId> {
        let (path, loss) = (lease.path().to_owned(), lease.loss());
        self.forward(move |queue, id| async move {
            let reason = loss.await;
            queue.push(Event::LeaseLost {
                watch: id,
                path,
                reason,
            });
        })
    }

    /// Reports every state change of `latch` (leader, follower, closed)
    /// as an [`Event::Leadership`] with the returned id, until the latch
    /// closes or [`remove_watch`](Self::remove_watch).
    pub fn watch_latch(&self, latch: &LeaderLatch) -> Result<WatchId> {
        let mut states = latch.state_receiver();
        self.forward(move |queue, id| async move {
            loop {
                let state = *states.borrow_and_update();
                queue.push(Event::Leadership { watch: id, state });
                if state == LatchState::Closed || states.changed().await.is_err() {
                    return;
                }
            }
        })
    }

    /// Reports every change of `cache` as an [`Event::Cache`] with the
    /// returned id. A cache event stream that lagged (the cache's own
    /// buffer overflowed) is reported as an [`Event::Resync`].
    pub fn watch_cache(&self, cache: &TreeCache) -> Result<WatchId> {
        let mut events = cache.subscribe();
        self.forward(move |queue, id| async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        queue.push(Event::Cache { watch: id, event });
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        queue.push(Event::Resync);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    /// Runs a forwarder of a recipe's events under a new (lease) watch id.
    fn forward<F, Fut>(&self, forwarder: F) -> Result<WatchId>
    where
        F: FnOnce(EventQueue, WatchId) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.client()?;
        let id = self.next_lease_watch.fetch_add(1, Ordering::Relaxed);
        let task = runtime::handle().spawn(forwarder(self.events.clone(), id));
        lock(&self.forwarders)
            .watches
            .insert(id, task.abort_handle());
        Ok(id)
    }

    /// Stops delivering a watch's events (a data, persistent or lease
    /// watch; for the first two, as dropping core's watcher: the server's
    /// watch goes once no local one is left). Unknown ids are ignored.
    pub fn remove_watch(&self, watch: WatchId) {
        let Ok(client) = self.client() else {
            return;
        };
        if let Some(task) = lock(&self.forwarders).watches.remove(&watch) {
            task.abort();
            return;
        }
        client.remove_sink_watch(watch);
    }

    /// The session as a token, to resume it elsewhere
    /// ([`Options::resume`]).
    pub fn session_token(&self) -> Result<SessionToken> {
        Ok(SessionToken::of(self.client()?))
    }

    /// The session state now.
    pub fn state(&self) -> Result<SessionState> {
        Ok(self.client()?.state())
    }

    /// Closes the session (deleting its ephemerals); the event queue ends
    /// with the `Closed` state.
    pub fn close(&self) -> Call<()> {
        self.call(|c| async move { c.close().await })
    }
}

fn lock(forwarders: &Mutex<Forwarders>) -> std::sync::MutexGuard<'_, Forwarders> {
    forwarders.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for EmbeddedClient {
    fn drop(&mut self) {
        if self.pid != runtime::current_pid() {
            // Forked child: the client, its tasks and its sockets belong to
            // the parent's runtime. Leak them; touch nothing.
            if let Some(client) = self.client.take() {
                std::mem::forget(client);
            }
            std::mem::forget(Arc::clone(&self.forwarders));
            if let Some(thread) = self.delivery.take() {
                std::mem::forget(thread);
            }
            return;
        }
        let mut forwarders = lock(&self.forwarders);
        for (_, task) in forwarders.watches.drain() {
            task.abort();
        }
        if let Some(task) = forwarders.session.take() {
            task.abort();
        }
        drop(forwarders);
        // Dropping the core client stops its connection without closing
        // the session (core's contract); the queue ends for the consumer.
        self.client.take();
        self.events.close();
        // The delivery thread ends once it has drained the queue; it is not
        // joined here, as this may run on that very thread (a callback
        // dropping its client).
        self.delivery.take();
    }
}
