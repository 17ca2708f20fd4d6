//! The peer network: openraft's RPCs over TCP.
//!
//! Protocol: each direction is a sequence of frames, `u32` big-endian length
//! then a bincode body, at most [`PEER_FRAME_BYTES_MAX`] bytes. The client
//! sends one [`PeerRequest`] and reads one [`PeerResponse`], strictly in
//! turn: one connection serves one openraft replication stream (or vote
//! sender), whose calls are sequential anyway. A request names its target
//! node, so a connection that reached the wrong server is refused.
//!
//! The peer port is for a trusted network: there is no authentication.
//!
//! Failures: a connect failure is `Unreachable` (openraft backs off), other
//! I/O errors and timeouts are `Network` (openraft retries); either drops the
//! connection, and the next call reconnects. An AppendEntries too large for
//! one frame returns `PayloadTooLarge` so openraft sends fewer entries.

use std::future::Future;
use std::io;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::type_config::TypeConfig;
use super::{Consensus, MembershipChange, ProposeError};
use crate::txn::{BatchOutcome, TxnBatch};

/// Largest peer frame (AppendEntries batches, snapshot chunks).
pub const PEER_FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Most peer connections served at once (openraft opens a few per peer).
const PEER_CONNECTIONS_MAX: usize = 256;
/// How long a server-side peer connection may sit idle between requests.
const PEER_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long writing a response may take.
const PEER_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

type RpcError<E = openraft::error::Infallible> = RPCError<u64, BasicNode, RaftError<u64, E>>;

/// A request from one server to another.
#[derive(Serialize, Deserialize)]
struct PeerRequest {
    /// The node the sender means to reach.
    target: u64,
    body: PeerRequestBody,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum PeerRequestBody {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A follower forwards a batch for the leader to propose.
    Propose(TxnBatch),
    /// A follower asks the leader for a read index (ZooKeeper's sync).
    ReadIndex,
    /// A follower reports sessions it saw alive: each id with the age in
    /// ms of its last packet (ages, not times: the clocks may differ).
    SessionActivity(Vec<(i64, u64)>),
    /// A member asks the leader to change the membership.
    Reconfigure(MembershipChange),
}

/// The answer to a [`PeerRequest`].
#[derive(Serialize, Deserialize)]
pub(crate) enum PeerResponse {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Propose(Result<BatchOutcome, ProposeError>),
    ReadIndex(Result<u64, ProposeError>),
    SessionActivity,
    Reconfigure(Result<u64, ProposeError>),
    /// The request reached a node other than its target.
    WrongNode {
        node_id: u64,
    },
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let body = bincode::serialize(value).map_err(|e| invalid(e.to_string()))?;
    if body.len() > PEER_FRAME_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            "peer frame too large",
        ));
    }
    Ok(body)
}

async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, body: &[u8]) -> io::Result<()> {
    w.write_all(&(body.len() as u32).to_be_bytes()).await?;
    w.write_all(body).await?;
    w.flush().await
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame.
async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > PEER_FRAME_BYTES_MAX {
        return Err(invalid(format!(
            "peer frame of {len} bytes exceeds the limit"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Creates connections to peers from the address in the membership.
pub(crate) struct Network {
    /// Local address outgoing peer connections are made from, if set.
    source_ip: Option<std::net::IpAddr>,
}

impl Network {
    pub(crate) fn new(source_ip: Option<std::net::IpAddr>) -> Self {
        Self { source_ip }
    }
}

type Connection = (
    BufReader<tokio::net::tcp::OwnedReadHalf>,
    BufWriter<tokio::net::tcp::OwnedWriteHalf>,
);

/// A connection to one peer (made lazily, remade after an error).
pub(crate) struct Peer {
    target: u64,
    addr: String,
    source_ip: Option<std::net::IpAddr>,
    connection: Option<Connection>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer::new(target, node.addr.clone(), self.source_ip)
    }
}

/// Why a forwarded request failed.
#[derive(Debug)]
pub(crate) enum RequestError {
    /// It never left this server (no connection, or too large): retrying
    /// cannot apply it twice.
    NotSent(io::Error),
    /// The connection failed after it was sent: the peer may have acted on
    /// it.
    Lost(io::Error),
}

/// Why one call failed.
enum CallError {
    /// Could not connect.
    Connect(io::Error),
    /// The request was too large to send.
    TooLarge,
    /// Anything else on the wire.
    Io(io::Error),
}

impl Peer {
    /// A connection to `target` at `addr`, made on first use.
    pub(crate) fn new(target: u64, addr: String, source_ip: Option<std::net::IpAddr>) -> Peer {
        Peer {
            target,
            addr,
            source_ip,
            connection: None,
        }
    }

    /// Whether this is the connection to `target` at `addr`.
    pub(crate) fn is(&self, target: u64, addr: &str) -> bool {
        self.target == target && self.addr == addr
    }

    /// One request/response exchange for the forwarding link.
    pub(crate) async fn request(
        &mut self,
        body: PeerRequestBody,
        timeout: Duration,
    ) -> Result<PeerResponse, RequestError> {
        self.call(body, timeout).await.map_err(|e| match e {
            CallError::Connect(e) => RequestError::NotSent(e),
            CallError::TooLarge => {
                RequestError::NotSent(invalid("request exceeds the peer frame limit"))
            }
            CallError::Io(e) => RequestError::Lost(e),
        })
    }

    /// Drop the connection if the peer has closed it (a killed server's
    /// socket reads end-of-stream at once), so the next request reconnects
    /// rather than being written into a dead socket with an unknown fate.
    fn drop_if_closed(&mut self) {
        let Some((r, _)) = self.connection.as_ref() else {
            return;
        };
        if !r.buffer().is_empty() {
            // An unasked-for response: the stream is out of step.
            self.connection = None;
            return;
        }
        let mut probe = [0u8; 1];
        match r.get_ref().try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            _ => self.connection = None,
        }
    }

    async fn call(
        &mut self,
        body: PeerRequestBody,
        timeout: Duration,
    ) -> Result<PeerResponse, CallError> {
        let request = encode(&PeerRequest {
            target: self.target,
            body,
        })
        .map_err(|e| match e.kind() {
            io::ErrorKind::FileTooLarge => CallError::TooLarge,
            _ => CallError::Io(e),
        })?;
        let result = tokio::time::timeout(timeout, self.exchange(&request)).await;
        let result = match result {
            Ok(r) => r,
            Err(_) => Err(CallError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer rpc timed out",
            ))),
        };
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<PeerResponse, CallError> {
        self.drop_if_closed();
        if self.connection.is_none() {
            if self.addr.is_empty() {
                return Err(CallError::Connect(io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!("node {} has no peer address", self.target),
                )));
            }
            let stream = connect(&self.addr, self.source_ip)
                .await
                .map_err(CallError::Connect)?;
            stream.set_nodelay(true).map_err(CallError::Connect)?;
            let (r, w) = stream.into_split();
            self.connection = Some((BufReader::new(r), BufWriter::new(w)));
        }
        let Some((r, w)) = self.connection.as_mut() else {
            unreachable!("connected above")
        };
        write_frame(w, request).await.map_err(CallError::Io)?;
        let frame = read_frame(r).await.map_err(CallError::Io)?.ok_or_else(|| {
            CallError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed"))
        })?;
        let response: PeerResponse =
            bincode::deserialize(&frame).map_err(|e| CallError::Io(invalid(e.to_string())))?;
        if let PeerResponse::WrongNode { node_id } = response {
            return Err(CallError::Connect(invalid(format!(
                "{} is node {node_id}, not node {}",
                self.addr, self.target
            ))));
        }
        Ok(response)
    }

    fn error<E: std::error::Error>(&self, e: CallError, entries: usize) -> RpcError<E> {
        match e {
            CallError::Connect(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::TooLarge => RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(
                (entries as u64 / 2).max(1),
            )),
            CallError::Io(e) => RPCError::Network(NetworkError::new(&e)),
        }
    }

    fn unexpected<E: std::error::Error>(&self) -> RpcError<E> {
        RPCError::Network(NetworkError::new(&invalid("mismatched peer response")))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RpcError> {
        let entries = rpc.entries.len();
        match self
            .call(PeerRequestBody::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(PeerResponse::AppendEntries(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.unexpected()),
            Err(e) => Err(self.error(e, entries)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RpcError<InstallSnapshotError>> {
        match self
            .call(PeerRequestBody::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(PeerResponse::InstallSnapshot(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.unexpected()),
            Err(CallError::TooLarge) => Err(RPCError::Network(NetworkError::new(&invalid(
                "snapshot chunk exceeds the peer frame limit",
            )))),
            Err(e) => Err(self.error(e, 0)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RpcError> {
        match self
            .call(PeerRequestBody::Vote(rpc), option.hard_ttl())
            .await
        {
            Ok(PeerResponse::Vote(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.unexpected()),
            Err(e) => Err(self.error(e, 0)),
        }
    }
}

/// Notices a dead leader sooner than the election timer does.
///
/// A follower's timer elects only after the leader lease
/// (`election_timeout_max`) plus a random election timeout of silence, and
/// openraft 0.9 voters refuse any vote inside their lease. A closed
/// connection from the leader is a strong hint that it died (a killed
/// process's sockets close at once): then the follower campaigns as soon as
/// the other voters' leases have run out, `election_timeout_max` after the
/// last append it had from the leader. Every follower gets the same hint at
/// about the same time, so they take turns to avoid splitting the vote: the
/// surviving voters in id order, [`CAMPAIGN_STAGGER`] apart; a later one
/// campaigns only if no new leader has reached it by then. If the old
/// leader is alive after all (it dropped the connection after an RPC
/// timeout), its next heartbeat arrives on a new connection first and
/// nothing happens. Without the hint (a partition, a frozen leader)
/// openraft's timer elects as usual.
pub(crate) struct LeaderContact {
    lease: Duration,
    /// The leader whose appends arrived last, and when.
    last: std::sync::Mutex<Option<(u64, tokio::time::Instant)>>,
}

/// Margin past the lease, so the other voters see it expired too.
const CAMPAIGN_MARGIN: Duration = Duration::from_millis(5);
/// Time between the turns of successive followers to campaign: more than a
/// vote round trip (a vote is fsynced) on a loaded machine.
const CAMPAIGN_STAGGER: Duration = Duration::from_millis(60);

impl LeaderContact {
    pub(crate) fn new(lease: Duration) -> LeaderContact {
        LeaderContact {
            lease,
            last: std::sync::Mutex::new(None),
        }
    }

    /// An append from `leader` arrived.
    fn heard(&self, leader: u64) {
        *self.last.lock().expect("leader contact lock") =
            Some((leader, tokio::time::Instant::now()));
    }

    /// A connection that carried appends from `leader` closed.
    fn closed(&self, consensus: &Consensus, leader: u64) {
        let Some((last_leader, heard_at)) = *self.last.lock().expect("leader contact lock") else {
            return;
        };
        let status = consensus.status();
        if last_leader != leader || status.leader != Some(leader) {
            return;
        }
        let node_id = consensus.inner.node_id;
        let Some(turn) = status
            .voters
            .iter()
            .filter(|&&v| v != leader)
            .position(|&v| v == node_id)
        else {
            return; // not a voter
        };
        let at = heard_at + self.lease + CAMPAIGN_MARGIN + CAMPAIGN_STAGGER * turn as u32;
        let consensus = consensus.clone();
        tracing::info!(leader, turn, "connection from the leader closed");
        consensus.inner.runtime.handle().clone().spawn(async move {
            tokio::time::sleep_until(at).await;
            let inner = &consensus.inner;
            // Nothing from the old leader nor from a new one since.
            let still_silent = *inner
                .leader_contact
                .last
                .lock()
                .expect("leader contact lock")
                == Some((leader, heard_at));
            if still_silent && consensus.status().role == super::Role::Follower {
                tracing::info!(
                    leader,
                    "leader silent since its connection closed: campaigning"
                );
                if let Err(e) = inner.raft.trigger().elect().await {
                    tracing::debug!(error = %e, "election not triggered");
                }
            }
        });
    }
}

/// Connect to `addr`, from `source_ip` if given (so that each server's
/// peer traffic can be told apart by its source address, which the fault
/// tests' proxies use to cut links between chosen servers).
async fn connect(addr: &str, source_ip: Option<std::net::IpAddr>) -> io::Result<TcpStream> {
    let Some(ip) = source_ip else {
        return TcpStream::connect(addr).await;
    };
    let target = tokio::net::lookup_host(addr)
        .await?
        .find(|a| a.is_ipv4() == ip.is_ipv4())
        .ok_or_else(|| invalid(format!("no address for {addr}")))?;
    let socket = if ip.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(std::net::SocketAddr::new(ip, 0))?;
    socket.connect(target).await
}

/// Serves peer RPCs for `consensus` on `listener` until `shutdown`
/// resolves; open peer connections are closed when it returns.
pub async fn serve_peers(
    listener: TcpListener,
    consensus: Consensus,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors and the like: keep serving.
                        tracing::warn!(error = %e, "peer accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if connections.len() >= PEER_CONNECTIONS_MAX {
                    tracing::warn!(%peer, "too many peer connections; refusing");
                    drop(stream);
                    continue;
                }
                let consensus = consensus.clone();
                // Served on the Raft runtime, apart from client work.
                let runtime = consensus.inner.runtime.handle().clone();
                connections.spawn_on(async move {
                    if let Err(e) = serve_connection(stream, consensus).await {
                        tracing::debug!(%peer, error = %e, "peer connection closed");
                    }
                }, &runtime);
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    Ok(())
}

async fn serve_connection(stream: TcpStream, consensus: Consensus) -> io::Result<()> {
    // The leader whose appends this connection carried, if any: when it
    // closes, that leader may be dead.
    let mut appends_from = None;
    let result = serve_requests(stream, &consensus, &mut appends_from).await;
    if let Some(leader) = appends_from {
        consensus.inner.leader_contact.closed(&consensus, leader);
    }
    result
}

async fn serve_requests(
    stream: TcpStream,
    consensus: &Consensus,
    appends_from: &mut Option<u64>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let (mut r, mut w) = (BufReader::new(r), BufWriter::new(w));
    let raft = &consensus.inner.raft;
    let node_id = consensus.inner.node_id;
    loop {
        let frame = match tokio::time::timeout(PEER_IDLE_TIMEOUT, read_frame(&mut r)).await {
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None)) | Err(_) => return Ok(()),
            Ok(Err(e)) => return Err(e),
        };
        let request: PeerRequest =
            bincode::deserialize(&frame).map_err(|e| invalid(e.to_string()))?;
        let response = if request.target != node_id {
            PeerResponse::WrongNode { node_id }
        } else {
            match request.body {
                PeerRequestBody::AppendEntries(rpc) => {
                    let leader = rpc.vote.leader_id().voted_for();
                    if rpc.vote.is_committed() {
                        if let Some(leader) = leader {
                            consensus.inner.leader_contact.heard(leader);
                            *appends_from = Some(leader);
                        }
                    }
                    PeerResponse::AppendEntries(raft.append_entries(rpc).await)
                }
                PeerRequestBody::Vote(rpc) => PeerResponse::Vote(raft.vote(rpc).await),
                PeerRequestBody::InstallSnapshot(rpc) => {
                    PeerResponse::InstallSnapshot(raft.install_snapshot(rpc).await)
                }
                // Forwarded requests are answered by this node alone: a
                // node that no longer leads says so rather than forwarding
                // again, so requests never travel in circles.
                PeerRequestBody::Propose(batch) => {
                    PeerResponse::Propose(consensus.propose_local(batch).await)
                }
                PeerRequestBody::ReadIndex => {
                    PeerResponse::ReadIndex(consensus.read_index_local().await)
                }
                PeerRequestBody::SessionActivity(ids) => {
                    consensus.deliver_session_activity(&ids);
                    PeerResponse::SessionActivity
                }
                PeerRequestBody::Reconfigure(change) => {
                    PeerResponse::Reconfigure(consensus.reconfigure_local(change).await)
                }
            }
        };
        let body = encode(&response)?;
        tokio::time::timeout(PEER_WRITE_TIMEOUT, write_frame(&mut w, &body))
            .await
            .map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "peer response write timed out")
            })??;
    }
}
