//! Arguments in (C strings, buffers) and allocations out (strings, byte
//! buffers, string lists), each with its one free function.

use std::ffi::{c_char, CStr, CString};

use crate::result::{corral_result, Failure};

/// Reads a required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives
/// the returned borrow.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, argument: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(argument));
    }
    CStr::from_ptr(ptr).to_str().map_err(|e| {
        Failure::new(
            corral_result::InvalidUtf8,
            format!("argument `{argument}` is not valid utf-8: {e}"),
        )
    })
}

/// Reads an optional byte buffer: NULL with `len` 0 is `None` (ZooKeeper's
/// null data); NULL with a length is a NULL-argument error.
///
/// # Safety
/// `ptr` must be NULL or readable for `len` bytes.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    argument: &str,
) -> Result<Option<&'a [u8]>, Failure> {
    match (ptr.is_null(), len) {
        (true, 0) => Ok(None),
        (true, _) => Err(Failure::null(argument)),
        (false, _) => Ok(Some(std::slice::from_raw_parts(ptr, len))),
    }
}

/// Checks that a required out-pointer is not NULL.
pub(crate) fn out<T>(ptr: *mut T, argument: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        Err(Failure::null(argument))
    } else {
        Ok(())
    }
}

/// Writes `value` through an optional out-pointer (skipped when NULL).
///
/// # Safety
/// `ptr` must be NULL or writable.
pub(crate) unsafe fn put<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        ptr.write(value);
    }
}

/// A library-allocated C string (free with `corral_string_free`).
pub(crate) fn string(value: String) -> *mut c_char {
    // Paths, tokens and names never hold NUL (ZooKeeper refuses it in
    // paths); cut at one rather than fail.
    let value = CString::new(value).unwrap_or_else(|e| {
        let end = e.nul_position();
        let mut bytes = e.into_vec();
        bytes.truncate(end);
        CString::new(bytes).unwrap_or_default()
    });
    value.into_raw()
}

/// A library-allocated byte buffer (free with `corral_bytes_free`). Empty
/// data gives a non-NULL pointer with length 0, so it differs from NULL
/// (null data).
pub(crate) fn byte_buffer(value: Vec<u8>) -> (*mut u8, usize) {
    let boxed = value.into_boxed_slice();
    let len = boxed.len();
    (Box::into_raw(boxed).cast::<u8>(), len)
}

/// A library-allocated array of C strings (free with `corral_strings_free`).
pub(crate) fn string_list(values: Vec<String>) -> (*mut *mut c_char, usize) {
    let list: Box<[*mut c_char]> = values.into_iter().map(string).collect();
    let len = list.len();
    (Box::into_raw(list).cast::<*mut c_char>(), len)
}

/// Frees a string this library returned. NULL is ignored.
///
/// # Safety
/// `string` must be NULL or a string returned by this library and not yet
/// freed.
#[no_mangle]
pub unsafe extern "C" fn corral_string_free(string: *mut c_char) {
    crate::result::guard((), || {
        if !string.is_null() {
            drop(CString::from_raw(string));
        }
    })
}

/// Frees a byte buffer this library returned, with the length it returned.
/// NULL is ignored.
///
/// # Safety
/// `data` must be NULL or a buffer returned by this library with this
/// `len`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn corral_bytes_free(data: *mut u8, len: usize) {
    crate::result::guard((), || {
        if !data.is_null() {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)));
        }
    })
}

/// Frees an array of strings this library returned (each string and the
/// array), with the count it returned. NULL is ignored.
///
/// # Safety
/// `strings` must be NULL or an array returned by this library with this
/// `count`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn corral_strings_free(strings: *mut *mut c_char, count: usize) {
    crate::result::guard((), || {
        if strings.is_null() {
            return;
        }
        let list = Box::from_raw(std::ptr::slice_from_raw_parts_mut(strings, count));
        for item in list.iter() {
            if !item.is_null() {
                drop(CString::from_raw(*item));
            }
        }
    })
}
