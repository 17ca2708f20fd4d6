//! ACLs (`corral_acl`): create with an ACL, get and set a node's ACL, and
//! add credentials to a session (`addAuth`).

use std::ffi::c_char;

use corral::proto::{Acl, Id};

use crate::client::{corral_client, corral_stat, handle};
use crate::memory::{bytes, out, put, string, text};
use crate::result::{boundary, corral_result, Failure};

/// Permission bits of a `corral_acl` (ZooKeeper's `ZooDefs.Perms`).
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_perm {
    /// Read data and list children.
    Read = 1,
    /// Set data.
    Write = 2,
    /// Create children.
    Create = 4,
    /// Delete children.
    Delete = 8,
    /// Set the ACL.
    Admin = 16,
    /// Everything.
    All = 31,
}

/// One ACL entry: permissions (`corral_perm` bits) for an identity
/// (`scheme`, `id`): `{CORRAL_PERM_ALL, "world", "anyone"}`,
/// `{CORRAL_PERM_ALL, "auth", ""}` (the session's own credentials),
/// `{CORRAL_PERM_READ, "digest", "user:base64(sha1(user:password))"}`.
///
/// Entries passed in are read and copied; entries returned by
/// `corral_client_get_acl` own their strings and are freed together with
/// `corral_acl_list_free`.
#[repr(C)]
#[derive(Debug)]
pub struct corral_acl {
    /// Bit set of `corral_perm`.
    pub perms: i32,
    /// The scheme: "world", "auth", "digest", "ip", ...
    pub scheme: *const c_char,
    /// The id within the scheme.
    pub id: *const c_char,
}

/// Reads an ACL argument: NULL with `count` 0 is `None` (the open ACL).
unsafe fn acl_in(acl: *const corral_acl, count: usize) -> Result<Option<Vec<Acl>>, Failure> {
    if acl.is_null() {
        return if count == 0 {
            Ok(None)
        } else {
            Err(Failure::null("acl"))
        };
    }
    std::slice::from_raw_parts(acl, count)
        .iter()
        .map(|entry| {
            Ok(Acl {
                perms: entry.perms,
                id: Id::new(text(entry.scheme, "acl.scheme")?, text(entry.id, "acl.id")?),
            })
        })
        .collect::<Result<Vec<_>, Failure>>()
        .map(Some)
}

/// As `corral_client_create`, with the node's ACL: `acl` points to
/// `acl_count` entries (NULL with 0: the open ACL, world:anyone with every
/// permission). Errors add `INVALID_ACL` (e.g. an "auth" entry on a
/// session without credentials).
///
/// # Safety
/// As `corral_client_create`; `acl` NULL or readable for `acl_count`
/// entries whose strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn corral_client_create_with_acl(
    client: *const corral_client,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    mode: i32,
    ttl_ms: i64,
    acl: *const corral_acl,
    acl_count: usize,
    path_out: *mut *mut c_char,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        let acl = acl_in(acl, acl_count)?;
        crate::client::create(
            client, path, data, data_len, mode, ttl_ms, acl, path_out, stat_out,
        )
    })
}

/// A node's ACL and stat: `*acl_out` gets an array of `*count_out`
/// entries, freed with `corral_acl_list_free(acl, count)`. `stat_out`
/// may be NULL.
///
/// Errors: `NO_NODE`, `NO_AUTH`, `BAD_ARGUMENTS`.
///
/// # Safety
/// Pointers must be NULL or valid; `acl_out` and `count_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_get_acl(
    client: *const corral_client,
    path: *const c_char,
    acl_out: *mut *mut corral_acl,
    count_out: *mut usize,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?.to_owned();
        out(acl_out, "acl_out")?;
        out(count_out, "count_out")?;
        let (acl, stat) = client
            .inner
            .call(|c| async move { c.get_acl(&path).await })
            .wait(None)?;
        let list: Box<[corral_acl]> = acl
            .into_iter()
            .map(|entry| corral_acl {
                perms: entry.perms,
                scheme: string(entry.id.scheme),
                id: string(entry.id.id),
            })
            .collect();
        count_out.write(list.len());
        acl_out.write(Box::into_raw(list).cast::<corral_acl>());
        put(stat_out, stat.into());
        Ok(())
    })
}

/// Replaces a node's ACL if its ACL version (`aversion`) is `version` (-1:
/// any). `stat_out` (may be NULL) gets the new stat.
///
/// Errors: `NO_NODE`, `BAD_VERSION`, `NO_AUTH`, `INVALID_ACL`,
/// `BAD_ARGUMENTS`.
///
/// # Safety
/// Pointers must be NULL or valid; `acl` readable for `acl_count` entries.
#[no_mangle]
pub unsafe extern "C" fn corral_client_set_acl(
    client: *const corral_client,
    path: *const c_char,
    acl: *const corral_acl,
    acl_count: usize,
    version: i32,
    stat_out: *mut corral_stat,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?.to_owned();
        let acl = acl_in(acl, acl_count)?.ok_or_else(|| Failure::null("acl"))?;
        let version = (version != -1).then_some(version);
        let stat = client
            .inner
            .call(|c| async move { c.set_acl(&path, &acl, version).await })
            .wait(None)?;
        put(stat_out, stat.into());
        Ok(())
    })
}

/// Adds credentials to the session (`scheme` "digest", `auth`
/// "user:password"); they are sent again on every reconnection. A scheme
/// the server does not know fails with `CORRAL_RESULT_AUTH_FAILED` and
/// ends the session, as in ZooKeeper.
///
/// # Safety
/// Pointers must be NULL or valid; `auth` readable for `auth_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn corral_client_add_auth(
    client: *const corral_client,
    scheme: *const c_char,
    auth: *const u8,
    auth_len: usize,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let scheme = text(scheme, "scheme")?.to_owned();
        let auth = bytes(auth, auth_len, "auth")?
            .ok_or_else(|| Failure::null("auth"))?
            .to_vec();
        client
            .inner
            .call(|c| async move { c.add_auth(&scheme, &auth).await })
            .wait(None)?;
        Ok(())
    })
}

/// Frees an ACL array returned by `corral_client_get_acl` (its strings
/// too), with the count it returned. NULL is ignored.
///
/// # Safety
/// `acl` must be NULL or an array returned by this library with this
/// `count`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn corral_acl_list_free(acl: *mut corral_acl, count: usize) {
    crate::result::guard((), || {
        if acl.is_null() {
            return;
        }
        let list = Box::from_raw(std::ptr::slice_from_raw_parts_mut(acl, count));
        for entry in list.iter() {
            crate::memory::corral_string_free(entry.scheme.cast_mut());
            crate::memory::corral_string_free(entry.id.cast_mut());
        }
    })
}
