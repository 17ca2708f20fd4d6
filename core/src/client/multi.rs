//! Atomic multi-ops ([`MultiBuilder`]) and batched reads ([`ReadOp`]).

use crate::error::{Error, Result};
use crate::proto::{self, CheckVersionRequest, DeleteRequest, SetDataRequest, Stat};

use super::options::CreateOptions;
use super::Client;

/// The result of one op of a successful multi, in op order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiOpResult {
    /// A create: the node's path (with its sequence suffix, chroot
    /// stripped) and, when the server sends it, its stat. Apache ZooKeeper
    /// sends a stat only for container and TTL creates (it answers every
    /// other create inside a multi with a plain create result), so do not
    /// rely on it.
    Create {
        /// The created node.
        path: String,
        /// Its stat, when the server sent one.
        stat: Option<Stat>,
    },
    /// A delete.
    Delete,
    /// A set_data: the node's new stat.
    SetData {
        /// The new stat.
        stat: Stat,
    },
    /// A check.
    Check,
}

/// A transaction: ops applied atomically, all or none, built with
/// [`Client::multi`].
///
/// ```no_run
/// # async fn demo(client: corral::client::Client) -> Result<(), corral::Error> {
/// use corral::client::{CreateOptions, MultiOpResult};
/// let results = client
///     .multi()
///     .check("/config", 3)
///     .create("/config/v4", b"...", &CreateOptions::persistent())
///     .set_data("/config", b"v4", Some(3))
///     .commit()
///     .await?;
/// assert!(matches!(results[1], MultiOpResult::Create { .. }));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a multi does nothing until committed"]
pub struct MultiBuilder {
    client: Client,
    ops: Vec<proto::MultiOp>,
    /// Client paths, per op, for errors.
    paths: Vec<String>,
    /// The first argument error, reported by `commit`.
    invalid: Option<Error>,
}

impl MultiBuilder {
    pub(crate) fn new(client: Client) -> MultiBuilder {
        MultiBuilder {
            client,
            ops: Vec::new(),
            paths: Vec::new(),
            invalid: None,
        }
    }

    fn push(
        mut self,
        path: &str,
        sequential: bool,
        op: impl FnOnce(String) -> Result<proto::MultiOp>,
    ) -> Self {
        if self.invalid.is_some() {
            return self;
        }
        match self.client.checked_path(path, sequential).and_then(op) {
            Ok(op) => {
                self.ops.push(op);
                self.paths.push(path.to_owned());
            }
            Err(err) => self.invalid = Some(err),
        }
        self
    }

    /// Adds a create (every [`CreateMode`](crate::proto::CreateMode),
    /// containers and TTLs included).
    pub fn create(self, path: &str, data: &[u8], options: &CreateOptions) -> Self {
        self.push(path, options.mode.is_sequential(), |server| {
            Ok(match Client::create_request(server, Some(data), options)? {
                proto::Request::CreateTtl(r) => proto::MultiOp::CreateTtl(r),
                proto::Request::CreateContainer(r) => proto::MultiOp::CreateContainer(r),
                proto::Request::Create2(r) | proto::Request::Create(r) => {
                    proto::MultiOp::Create2(r)
                }
                other => {
                    return Err(Error::Protocol(format!(
                        "not a create: {:?}",
                        other.op_code()
                    )))
                }
            })
        })
    }

    /// Adds a delete; `version` is the expected data version, `None` for any.
    pub fn delete(self, path: &str, version: Option<i32>) -> Self {
        self.push(path, false, |path| {
            Ok(proto::MultiOp::Delete(DeleteRequest {
                path,
                version: version.unwrap_or(-1),
            }))
        })
    }

    /// Adds a set_data; `version` is the expected data version, `None` for any.
    pub fn set_data(self, path: &str, data: &[u8], version: Option<i32>) -> Self {
        self.push(path, false, |path| {
            Ok(proto::MultiOp::SetData(SetDataRequest {
                path,
                data: Some(data.to_vec()),
                version: version.unwrap_or(-1),
            }))
        })
    }

    /// Adds a check that the node's data version is `version` (the multi
    /// fails with `BadVersion` otherwise, `NoNode` if it is missing).
    pub fn check(self, path: &str, version: i32) -> Self {
        self.push(path, false, |path| {
            Ok(proto::MultiOp::Check(CheckVersionRequest { path, version }))
        })
    }

    /// The number of ops so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no op was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Sends the ops as one atomic multi.
    ///
    /// Success gives one [`MultiOpResult`] per op, in order. If an op fails
    /// the whole multi is rolled back and the error is
    /// [`Error::MultiFailed`] with the failing op's index and error (e.g.
    /// `NodeExists { path }`); [`Error::code`] is that op's code. Invalid
    /// arguments are reported here, before sending. An empty multi succeeds
    /// with no results.
    pub async fn commit(self) -> Result<Vec<MultiOpResult>> {
        if let Some(err) = self.invalid {
            return Err(err);
        }
        let first_path = self.paths.first().cloned().unwrap_or_else(|| "/".into());
        let response = self
            .client
            .call(proto::Request::Multi(self.ops), &first_path)
            .await?;
        let proto::Response::Multi(results) = response else {
            return Err(Error::Protocol(
                "multi answered with a non-multi reply".into(),
            ));
        };
        if results.len() != self.paths.len() {
            return Err(Error::Protocol(format!(
                "multi of {} ops answered with {} results",
                self.paths.len(),
                results.len()
            )));
        }
        if let Some((index, code)) = results.iter().enumerate().find_map(|(i, r)| match r {
            proto::MultiResult::Error(code) if *code != 0 => Some((i, *code)),
            _ => None,
        }) {
            return Err(Error::MultiFailed {
                index,
                source: Box::new(Error::from_wire(code, &self.paths[index])),
            });
        }
        let chroot = self.client.shared().chroot.clone();
        results
            .into_iter()
            .map(|r| {
                Ok(match r {
                    proto::MultiResult::Create { path } => MultiOpResult::Create {
                        path: crate::path::strip_chroot(&chroot, &path),
                        stat: None,
                    },
                    proto::MultiResult::Create2 { path, stat } => MultiOpResult::Create {
                        path: crate::path::strip_chroot(&chroot, &path),
                        stat: Some(stat),
                    },
                    proto::MultiResult::Delete => MultiOpResult::Delete,
                    proto::MultiResult::SetData { stat } => MultiOpResult::SetData { stat },
                    proto::MultiResult::Check => MultiOpResult::Check,
                    other => {
                        return Err(Error::Protocol(format!(
                            "unexpected multi result {other:?}"
                        )))
                    }
                })
            })
            .collect()
    }
}

/// A read inside [`Client::multi_read`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadOp {
    /// Read a node's data and stat.
    GetData {
        /// The node.
        path: String,
    },
    /// List a node's children.
    GetChildren {
        /// The node.
        path: String,
    },
}

impl ReadOp {
    /// A getData op.
    pub fn get_data(path: &str) -> ReadOp {
        ReadOp::GetData { path: path.into() }
    }

    /// A getChildren op.
    pub fn get_children(path: &str) -> ReadOp {
        ReadOp::GetChildren { path: path.into() }
    }

    /// The op's path.
    pub fn path(&self) -> &str {
        match self {
            ReadOp::GetData { path } | ReadOp::GetChildren { path } => path,
        }
    }
}

/// The result of one successful [`ReadOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadResult {
    /// A node's data and stat.
    Data {
        /// The data.
        data: Vec<u8>,
        /// The stat.
        stat: Stat,
    },
    /// A node's children (names).
    Children {
        /// Child names.
        children: Vec<String>,
    },
}

impl Client {
    /// Builds an atomic multi; see [`MultiBuilder`].
    pub fn multi(&self) -> MultiBuilder {
        MultiBuilder::new(self.clone())
    }

    /// Reads several nodes in one round trip (ZooKeeper 3.6+ multiRead).
    /// Unlike [`multi`](Client::multi), each read succeeds or fails on its
    /// own; the outer error is for the request as a whole (connection loss,
    /// timeout, invalid path).
    pub async fn multi_read(&self, ops: &[ReadOp]) -> Result<Vec<Result<ReadResult>>> {
        let mut wire = Vec::with_capacity(ops.len());
        for op in ops {
            let path = self.checked_path(op.path(), false)?;
            wire.push(match op {
                ReadOp::GetData { .. } => {
                    proto::ReadOp::GetData(proto::GetDataRequest { path, watch: false })
                }
                ReadOp::GetChildren { .. } => {
                    proto::ReadOp::GetChildren(proto::GetChildrenRequest { path, watch: false })
                }
            });
        }
        let first_path = ops.first().map_or("/", |op| op.path());
        let response = self
            .call(proto::Request::MultiRead(wire), first_path)
            .await?;
        let proto::Response::Multi(results) = response else {
            return Err(Error::Protocol(
                "multiRead answered with a non-multi reply".into(),
            ));
        };
        if results.len() != ops.len() {
            return Err(Error::Protocol(format!(
                "multiRead of {} ops answered with {} results",
                ops.len(),
                results.len()
            )));
        }
        Ok(results
            .into_iter()
            .zip(ops)
            .map(|(result, op)| match result {
                proto::MultiResult::GetData { data, stat } => Ok(ReadResult::Data { data, stat }),
                proto::MultiResult::GetChildren { children } => {
                    Ok(ReadResult::Children { children })
                }
                proto::MultiResult::Error(code) => Err(Error::from_wire(code, op.path())),
                other => Err(Error::Protocol(format!(
                    "unexpected multiRead result {other:?}"
                ))),
            })
            .collect())
    }
}
