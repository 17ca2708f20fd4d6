//! Client requests: one [`Request`] variant per client opcode, with the
//! multi forms ([`MultiOp`], [`ReadOp`]).

use super::error::DecodeError;
use super::frame::{finish_frame, start_frame};
use super::jute::{Reader, Record};
use super::opcode::OpCode;
use super::records::*;

/// A client request body, tagged by its opcode.
///
/// Create, create2 and createContainer share `CreateRequest`; delete and
/// deleteContainer share `DeleteRequest`; ping, whoAmI and closeSession have
/// no body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Request {
    /// create (1).
    Create(CreateRequest),
    /// create2 (15).
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// deleteContainer (20).
    DeleteContainer(DeleteRequest),
    /// exists (3).
    Exists(ExistsRequest),
    /// getData (4).
    GetData(GetDataRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// getACL (6).
    GetAcl(GetAclRequest),
    /// setACL (7).
    SetAcl(SetAclRequest),
    /// getChildren (8).
    GetChildren(GetChildrenRequest),
    /// getChildren2 (12).
    GetChildren2(GetChildren2Request),
    /// sync (9).
    Sync(SyncRequest),
    /// ping (11), xid -2.
    Ping,
    /// check (13); only meaningful inside multi.
    Check(CheckVersionRequest),
    /// multi (14): write ops, applied atomically.
    Multi(Vec<MultiOp>),
    /// multiRead (22): read ops.
    MultiRead(Vec<ReadOp>),
    /// reconfig (16).
    Reconfig(ReconfigRequest),
    /// checkWatches (17).
    CheckWatches(CheckWatchesRequest),
    /// removeWatches (18).
    RemoveWatches(RemoveWatchesRequest),
    /// auth (100), xid -4.
    Auth(AuthPacket),
    /// setWatches (101), xid -8.
    SetWatches(SetWatches),
    /// setWatches2 (105), xid -8.
    SetWatches2(SetWatches2),
    /// sasl (102).
    Sasl(GetSaslRequest),
    /// getEphemerals (103).
    GetEphemerals(GetEphemeralsRequest),
    /// getAllChildrenNumber (104).
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    /// addWatch (106).
    AddWatch(AddWatchRequest),
    /// whoAmI (107).
    WhoAmI,
    /// closeSession (-11).
    CloseSession,
}

/// An op allowed inside `multi` (14).
///
/// Decoding keeps the type the client wrote in the op's `MultiHeader`. Note
/// that Apache ZooKeeper's server does not: `MultiOperationRecord` turns
/// every create-like header (1, 15, 19) into `Op.create(.., flags)`, whose
/// kind comes from the flags alone (`Op.Create.getOpcode`). So a create2 op
/// gets a plain `create` result (no stat) there, and flags 4 a container
/// with a create2 result; a server wanting byte-identical replies should
/// map results from the flags too.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MultiOp {
    /// create.
    Create(CreateRequest),
    /// create2.
    Create2(CreateRequest),
    /// createContainer.
    CreateContainer(CreateRequest),
    /// createTTL.
    CreateTtl(CreateTtlRequest),
    /// delete.
    Delete(DeleteRequest),
    /// setData.
    SetData(SetDataRequest),
    /// check.
    Check(CheckVersionRequest),
}

/// An op allowed inside `multiRead` (22). The `watch` flags travel on the
/// wire but ZooKeeper ignores them in multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReadOp {
    /// getChildren.
    GetChildren(GetChildrenRequest),
    /// getData.
    GetData(GetDataRequest),
}

impl MultiOp {
    /// The op's opcode, as written in its `MultiHeader`.
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
        }
    }

    /// The op's path.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
        }
    }
}

impl ReadOp {
    /// The op's opcode, as written in its `MultiHeader`.
    pub fn op_code(&self) -> OpCode {
        match self {
            ReadOp::GetChildren(_) => OpCode::GetChildren,
            ReadOp::GetData(_) => OpCode::GetData,
        }
    }

    /// The op's path.
    pub fn path(&self) -> &str {
        match self {
            ReadOp::GetChildren(r) => &r.path,
            ReadOp::GetData(r) => &r.path,
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            ReadOp::GetChildren(r) => r.encode(out),
            ReadOp::GetData(r) => r.encode(out),
        }
    }
}

/// Opcodes that may appear in a multiRead; used to tell "mixing kinds" from
/// "not allowed in any multi".
fn is_read_op(op_type: i32) -> bool {
    op_type == OpCode::GetChildren.code() || op_type == OpCode::GetData.code()
}

fn is_write_op(op_type: i32) -> bool {
    [
        OpCode::Create,
        OpCode::Create2,
        OpCode::CreateContainer,
        OpCode::CreateTtl,
        OpCode::Delete,
        OpCode::SetData,
        OpCode::Check,
    ]
    .iter()
    .any(|op| op.code() == op_type)
}

/// Reads `MultiHeader` + op pairs up to the `done` header (ZooKeeper's
/// `MultiOperationRecord`: only `done` ends the list, the header's `err` is
/// ignored).
fn decode_multi<T>(
    r: &mut Reader<'_>,
    wanted: fn(i32) -> bool,
    other: fn(i32) -> bool,
    mut decode_op: impl FnMut(i32, &mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let header = MultiHeader::decode(r)?;
        if header.done {
            return Ok(ops);
        }
        if wanted(header.op_type) {
            ops.push(decode_op(header.op_type, r)?);
        } else if other(header.op_type) {
            return Err(DecodeError::InvalidValue(
                "mixing read and write ops in multi",
            ));
        } else {
            return Err(DecodeError::InvalidValue("op not allowed in multi"));
        }
    }
}

fn decode_multi_op(op_type: i32, r: &mut Reader<'_>) -> Result<MultiOp, DecodeError> {
    Ok(match OpCode::from_code(op_type) {
        Some(OpCode::Create) => MultiOp::Create(CreateRequest::decode(r)?),
        Some(OpCode::Create2) => MultiOp::Create2(CreateRequest::decode(r)?),
        Some(OpCode::CreateContainer) => MultiOp::CreateContainer(CreateRequest::decode(r)?),
        Some(OpCode::CreateTtl) => MultiOp::CreateTtl(CreateTtlRequest::decode(r)?),
        Some(OpCode::Delete) => MultiOp::Delete(DeleteRequest::decode(r)?),
        Some(OpCode::SetData) => MultiOp::SetData(SetDataRequest::decode(r)?),
        Some(OpCode::Check) => MultiOp::Check(CheckVersionRequest::decode(r)?),
        _ => return Err(DecodeError::InvalidValue("op not allowed in multi")),
    })
}

fn decode_read_op(op_type: i32, r: &mut Reader<'_>) -> Result<ReadOp, DecodeError> {
    Ok(match OpCode::from_code(op_type) {
        Some(OpCode::GetChildren) => ReadOp::GetChildren(GetChildrenRequest::decode(r)?),
        Some(OpCode::GetData) => ReadOp::GetData(GetDataRequest::decode(r)?),
        _ => return Err(DecodeError::InvalidValue("op not allowed in multi")),
    })
}

fn encode_multi_header(out: &mut Vec<u8>, op: OpCode) {
    MultiHeader {
        op_type: op.code(),
        done: false,
        err: -1,
    }
    .encode(out);
}

impl Request {
    /// The opcode this request travels under.
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// Decodes a request body (the bytes after the `RequestHeader`).
    ///
    /// Opcodes that are not client requests (notification, error,
    /// createSession, unassigned numbers) give
    /// [`DecodeError::UnknownOpCode`]. A multi with a read op, a multiRead
    /// with a write op, or either with any other op gives
    /// [`DecodeError::InvalidValue`]. Bytes after the record are ignored, as
    /// ZooKeeper does.
    pub fn decode(op_code: i32, body: &[u8]) -> Result<Request, DecodeError> {
        let r = &mut Reader::new(body);
        let op = OpCode::from_code(op_code).ok_or(DecodeError::UnknownOpCode(op_code))?;
        Ok(match op {
            OpCode::Create => Request::Create(Record::decode(r)?),
            OpCode::Create2 => Request::Create2(Record::decode(r)?),
            OpCode::CreateContainer => Request::CreateContainer(Record::decode(r)?),
            OpCode::CreateTtl => Request::CreateTtl(Record::decode(r)?),
            OpCode::Delete => Request::Delete(Record::decode(r)?),
            OpCode::DeleteContainer => Request::DeleteContainer(Record::decode(r)?),
            OpCode::Exists => Request::Exists(Record::decode(r)?),
            OpCode::GetData => Request::GetData(Record::decode(r)?),
            OpCode::SetData => Request::SetData(Record::decode(r)?),
            OpCode::GetAcl => Request::GetAcl(Record::decode(r)?),
            OpCode::SetAcl => Request::SetAcl(Record::decode(r)?),
            OpCode::GetChildren => Request::GetChildren(Record::decode(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(Record::decode(r)?),
            OpCode::Sync => Request::Sync(Record::decode(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(Record::decode(r)?),
            OpCode::Multi => {
                Request::Multi(decode_multi(r, is_write_op, is_read_op, decode_multi_op)?)
            }
            OpCode::MultiRead => {
                Request::MultiRead(decode_multi(r, is_read_op, is_write_op, decode_read_op)?)
            }
            OpCode::Reconfig => Request::Reconfig(Record::decode(r)?),
            OpCode::CheckWatches => Request::CheckWatches(Record::decode(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(Record::decode(r)?),
            OpCode::Auth => Request::Auth(Record::decode(r)?),
            OpCode::SetWatches => Request::SetWatches(Record::decode(r)?),
            OpCode::SetWatches2 => Request::SetWatches2(Record::decode(r)?),
            OpCode::Sasl => Request::Sasl(Record::decode(r)?),
            OpCode::GetEphemerals => Request::GetEphemerals(Record::decode(r)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(Record::decode(r)?),
            OpCode::AddWatch => Request::AddWatch(Record::decode(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => {
                return Err(DecodeError::UnknownOpCode(op_code))
            }
        })
    }

    /// Appends the request body (no header, no length prefix) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.encode(out),
            Request::CreateTtl(r) => r.encode(out),
            Request::Delete(r) | Request::DeleteContainer(r) => r.encode(out),
            Request::Exists(r) => r.encode(out),
            Request::GetData(r) => r.encode(out),
            Request::SetData(r) => r.encode(out),
            Request::GetAcl(r) => r.encode(out),
            Request::SetAcl(r) => r.encode(out),
            Request::GetChildren(r) => r.encode(out),
            Request::GetChildren2(r) => r.encode(out),
            Request::Sync(r) => r.encode(out),
            Request::Check(r) => r.encode(out),
            Request::Multi(ops) => {
                for op in ops {
                    encode_multi_header(out, op.op_code());
                    op.encode_body(out);
                }
                MultiHeader::END.encode(out);
            }
            Request::MultiRead(ops) => {
                for op in ops {
                    encode_multi_header(out, op.op_code());
                    op.encode_body(out);
                }
                MultiHeader::END.encode(out);
            }
            Request::Reconfig(r) => r.encode(out),
            Request::CheckWatches(r) => r.encode(out),
            Request::RemoveWatches(r) => r.encode(out),
            Request::Auth(r) => r.encode(out),
            Request::SetWatches(r) => r.encode(out),
            Request::SetWatches2(r) => r.encode(out),
            Request::Sasl(r) => r.encode(out),
            Request::GetEphemerals(r) => r.encode(out),
            Request::GetAllChildrenNumber(r) => r.encode(out),
            Request::AddWatch(r) => r.encode(out),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }
}

/// Decodes a request packet: the frame payload (without its 4-byte length),
/// i.e. a `RequestHeader` followed by the body.
pub fn decode_request(packet: &[u8]) -> Result<(RequestHeader, Request), DecodeError> {
    let mut r = Reader::new(packet);
    let header = RequestHeader::decode(&mut r)?;
    let request = Request::decode(header.op_code, r.rest())?;
    Ok((header, request))
}

/// Encodes a whole request frame: length prefix, `RequestHeader{xid, op}`
/// and body.
pub fn encode_request(xid: i32, req: &Request) -> Vec<u8> {
    let mut frame = start_frame();
    RequestHeader {
        xid,
        op_code: req.op_code().code(),
    }
    .encode(&mut frame);
    req.encode(&mut frame);
    finish_frame(frame)
}
