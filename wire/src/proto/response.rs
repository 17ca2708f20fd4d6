//! Server replies: [`Response`] bodies, multi results, and whole reply and
//! notification frames.

use super::error::DecodeError;
use super::frame::{finish_frame, start_frame};
use super::jute::{Reader, Record, Writer};
use super::opcode::{OpCode, NOTIFICATION_XID};
use super::records::*;
use super::types::Stat;

/// A reply body. Which variant answers which request is fixed by the
/// request's opcode (see [`Response::decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Response {
    /// No body: delete, deleteContainer, check (3.9.3+), ping, auth,
    /// setWatches, setWatches2, checkWatches, removeWatches, closeSession.
    Empty,
    /// create.
    Create(CreateResponse),
    /// create2, createContainer, createTTL.
    Create2(Create2Response),
    /// exists.
    Exists(ExistsResponse),
    /// getData, and reconfig (the new `/zookeeper/config`).
    GetData(GetDataResponse),
    /// setData, and standalone check before 3.9.3.
    SetData(SetDataResponse),
    /// getACL.
    GetAcl(GetAclResponse),
    /// setACL.
    SetAcl(SetAclResponse),
    /// getChildren.
    GetChildren(GetChildrenResponse),
    /// getChildren2.
    GetChildren2(GetChildren2Response),
    /// sync.
    Sync(SyncResponse),
    /// multi and multiRead: one result per op.
    Multi(Vec<MultiResult>),
    /// getEphemerals.
    GetEphemerals(GetEphemeralsResponse),
    /// getAllChildrenNumber.
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// whoAmI.
    WhoAmI(WhoAmIResponse),
    /// sasl.
    Sasl(SetSaslResponse),
    /// addWatch; encodes as `ErrorResponse{err: 0}` as ZooKeeper does.
    AddWatch,
    /// A watch notification (opcode 0, xid -1); see [`encode_notification`].
    Notification(WatcherEvent),
}

/// The result of one op of a multi or multiRead.
///
/// Encoded as `MultiHeader{type, false, err}` + body; error results as
/// `MultiHeader{-1, false, code}` + `ErrorResponse{code}`. When a multi fails,
/// ops before the failing one report `Error(0)`, the failing op its code and
/// later ops `Error(-2)` (RUNTIMEINCONSISTENCY); inside multiRead each failed
/// read is an `Error` on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MultiResult {
    /// create: the created path.
    Create {
        /// The created node.
        path: String,
    },
    /// create2, createContainer, createTTL: path and stat.
    Create2 {
        /// The created node.
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// delete (no body).
    Delete,
    /// setData: the new stat.
    SetData {
        /// The node's new stat.
        stat: Stat,
    },
    /// check (no body).
    Check,
    /// A failed (or rolled back) op: an error code, 0 for ops before the failure.
    Error(i32),
    /// getData inside multiRead.
    GetData {
        /// The data.
        data: Vec<u8>,
        /// The node's stat.
        stat: Stat,
    },
    /// getChildren inside multiRead.
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
}

impl MultiResult {
    /// The opcode written in this result's `MultiHeader`.
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiResult::Create { .. } => OpCode::Create,
            MultiResult::Create2 { .. } => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData { .. } => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::Error(_) => OpCode::Error,
            MultiResult::GetData { .. } => OpCode::GetData,
            MultiResult::GetChildren { .. } => OpCode::GetChildren,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let err = match self {
            MultiResult::Error(err) => *err,
            _ => 0,
        };
        MultiHeader {
            op_type: self.op_code().code(),
            done: false,
            err,
        }
        .encode(out);
        match self {
            MultiResult::Create { path } => out.write_string(path),
            MultiResult::Create2 { path, stat } => {
                out.write_string(path);
                stat.encode(out);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.encode(out),
            MultiResult::Error(err) => ErrorResponse { err: *err }.encode(out),
            MultiResult::GetData { data, stat } => {
                out.write_buffer(data);
                stat.encode(out);
            }
            MultiResult::GetChildren { children } => out.write_string_vec(children),
        }
    }

    /// Decodes the body after a result header (ZooKeeper's
    /// `MultiResponse.deserialize`: the result kind comes from the header's
    /// type, an error's code from its `ErrorResponse`).
    fn decode(op_type: i32, r: &mut Reader<'_>) -> Result<MultiResult, DecodeError> {
        Ok(match OpCode::from_code(op_type) {
            Some(OpCode::Create) => MultiResult::Create {
                path: r.read_string()?,
            },
            Some(OpCode::Create2) => {
                let resp = Create2Response::decode(r)?;
                MultiResult::Create2 {
                    path: resp.path,
                    stat: resp.stat,
                }
            }
            Some(OpCode::Delete) => MultiResult::Delete,
            Some(OpCode::SetData) => MultiResult::SetData {
                stat: Stat::decode(r)?,
            },
            Some(OpCode::Check) => MultiResult::Check,
            Some(OpCode::Error) => MultiResult::Error(r.read_i32()?),
            Some(OpCode::GetData) => {
                let resp = GetDataResponse::decode(r)?;
                MultiResult::GetData {
                    data: resp.data.unwrap_or_default(),
                    stat: resp.stat,
                }
            }
            Some(OpCode::GetChildren) => MultiResult::GetChildren {
                children: r.read_string_vec()?,
            },
            _ => return Err(DecodeError::InvalidValue("unknown multi result type")),
        })
    }
}

fn decode_multi_results(r: &mut Reader<'_>) -> Result<Vec<MultiResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let header = MultiHeader::decode(r)?;
        if header.done {
            return Ok(results);
        }
        results.push(MultiResult::decode(header.op_type, r)?);
    }
}

impl Response {
    /// Appends the reply body (no header, no length prefix) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.encode(out),
            Response::Create2(r) => r.encode(out),
            Response::Exists(r) => r.encode(out),
            Response::GetData(r) => r.encode(out),
            Response::SetData(r) => r.encode(out),
            Response::GetAcl(r) => r.encode(out),
            Response::SetAcl(r) => r.encode(out),
            Response::GetChildren(r) => r.encode(out),
            Response::GetChildren2(r) => r.encode(out),
            Response::Sync(r) => r.encode(out),
            Response::Multi(results) => {
                for result in results {
                    result.encode(out);
                }
                MultiHeader::END.encode(out);
            }
            Response::GetEphemerals(r) => r.encode(out),
            Response::GetAllChildrenNumber(r) => r.encode(out),
            Response::WhoAmI(r) => r.encode(out),
            Response::Sasl(r) => r.encode(out),
            Response::AddWatch => ErrorResponse { err: 0 }.encode(out),
            Response::Notification(event) => event.encode(out),
        }
    }

    /// Decodes a successful reply body (`ReplyHeader.err == 0`) to a request
    /// sent under `op`. Client side: the caller knows which request an xid
    /// belongs to.
    ///
    /// A check with a body decodes as [`Response::SetData`] (servers before
    /// 3.9.3), without one as [`Response::Empty`]; addWatch tolerates a
    /// missing `ErrorResponse`. Opcodes without replies (createSession,
    /// error) give [`DecodeError::UnknownOpCode`]. Trailing bytes are ignored.
    pub fn decode(op: OpCode, body: &[u8]) -> Result<Response, DecodeError> {
        let r = &mut Reader::new(body);
        Ok(match op {
            OpCode::Create => Response::Create(Record::decode(r)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2(Record::decode(r)?)
            }
            OpCode::Exists => Response::Exists(Record::decode(r)?),
            OpCode::GetData | OpCode::Reconfig => Response::GetData(Record::decode(r)?),
            OpCode::SetData => Response::SetData(Record::decode(r)?),
            OpCode::Check if !r.is_empty() => Response::SetData(Record::decode(r)?),
            OpCode::GetAcl => Response::GetAcl(Record::decode(r)?),
            OpCode::SetAcl => Response::SetAcl(Record::decode(r)?),
            OpCode::GetChildren => Response::GetChildren(Record::decode(r)?),
            OpCode::GetChildren2 => Response::GetChildren2(Record::decode(r)?),
            OpCode::Sync => Response::Sync(Record::decode(r)?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(decode_multi_results(r)?),
            OpCode::GetEphemerals => Response::GetEphemerals(Record::decode(r)?),
            OpCode::GetAllChildrenNumber => Response::GetAllChildrenNumber(Record::decode(r)?),
            OpCode::WhoAmI => Response::WhoAmI(Record::decode(r)?),
            OpCode::Sasl => Response::Sasl(Record::decode(r)?),
            OpCode::AddWatch => Response::AddWatch,
            OpCode::Notification => Response::Notification(Record::decode(r)?),
            OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::Check
            | OpCode::Ping
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CloseSession => Response::Empty,
            OpCode::CreateSession | OpCode::Error => {
                return Err(DecodeError::UnknownOpCode(op.code()))
            }
        })
    }
}

/// Encodes a whole reply frame: length prefix, `ReplyHeader{xid, zxid, err}`
/// and, only when `err == 0`, the body (ZooKeeper omits it on errors; a
/// failed multi still has `err == 0` and carries its per-op results).
pub fn encode_reply(xid: i32, zxid: i64, err: i32, resp: &Response) -> Vec<u8> {
    let mut frame = start_frame();
    ReplyHeader { xid, zxid, err }.encode(&mut frame);
    if err == 0 {
        resp.encode(&mut frame);
    }
    finish_frame(frame)
}

/// Encodes a whole watch notification frame: `ReplyHeader{-1, zxid, 0}` and
/// the event. ZooKeeper up to 3.8 sends zxid -1, 3.9 the triggering zxid
/// (ZOOKEEPER-4655); the caller chooses.
pub fn encode_notification(zxid: i64, event: &WatcherEvent) -> Vec<u8> {
    let mut frame = start_frame();
    ReplyHeader {
        xid: NOTIFICATION_XID,
        zxid,
        err: 0,
    }
    .encode(&mut frame);
    event.encode(&mut frame);
    finish_frame(frame)
}

/// Decodes a reply packet's header (the frame payload without its 4-byte
/// length) and returns it with the body bytes, which the caller decodes
/// with [`Response::decode`] once it knows the request's opcode.
pub fn decode_reply_header(packet: &[u8]) -> Result<(ReplyHeader, &[u8]), DecodeError> {
    let mut r = Reader::new(packet);
    let header = ReplyHeader::decode(&mut r)?;
    Ok((header, r.rest()))
}
