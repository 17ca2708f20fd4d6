//! The peer network (placeholder until the TCP transport lands).

use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use super::type_config::TypeConfig;
use super::Consensus;

type RpcError<E = openraft::error::Infallible> = RPCError<u64, BasicNode, RaftError<u64, E>>;

/// Connects to peers.
pub(crate) struct Network {}

impl Network {
    pub(crate) fn new() -> Self {
        Self {}
    }
}

/// A connection to one peer.
pub(crate) struct Peer {
    target: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("no transport to peer {0}")]
struct NoTransport(u64);

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Peer {
        Peer { target }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RpcError> {
        Err(RPCError::Unreachable(Unreachable::new(&NoTransport(
            self.target,
        ))))
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RpcError<InstallSnapshotError>> {
        Err(RPCError::Unreachable(Unreachable::new(&NoTransport(
            self.target,
        ))))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RpcError> {
        Err(RPCError::Unreachable(Unreachable::new(&NoTransport(
            self.target,
        ))))
    }
}

/// Serves peer RPCs on `listener` until `shutdown` resolves (placeholder:
/// the TCP transport is not implemented yet; it only waits).
pub async fn serve_peers(
    _listener: tokio::net::TcpListener,
    _consensus: Consensus,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    shutdown.await;
    Ok(())
}
