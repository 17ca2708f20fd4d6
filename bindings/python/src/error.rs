//! Exceptions: one class per row of the error table
//! ([`ErrorCode::info`]), under kazoo's hierarchy
//! (`KazooException` > `ZookeeperError` > `NoNodeError`, ...), plus the
//! client-side errors of core and embed, each under the class of the code
//! it reports. The classes are made at import from the table, so Python
//! never lists them by hand.

use std::collections::HashMap;
use std::ffi::CString;

use corral::proto::ErrorCode;
use corral_embed::Error;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

/// Base of every exception this package raises (kazoo's name).
const BASE: &str = "KazooException";
/// Base of every error with a ZooKeeper code (kazoo's name).
const ZOOKEEPER_ERROR: &str = "ZookeeperError";
/// A lock not acquired within its timeout (kazoo's name and place:
/// directly under `KazooException`).
pub const LOCK_TIMEOUT: &str = "LockTimeout";

static CLASSES: PyOnceLock<HashMap<&'static str, Py<PyType>>> = PyOnceLock::new();

/// Errors that keep their own class although they report a code: one
/// example of each, so that their name and code come from core and embed.
fn client_side_examples() -> Vec<Error> {
    let core = |e: corral::Error| Error::Client(e);
    vec![
        core(corral::Error::InvalidPath {
            path: String::new(),
            reason: String::new(),
        }),
        core(corral::Error::LockHeld {
            path: String::new(),
        }),
        core(corral::Error::Protocol(String::new())),
        Error::WaitTimeout,
        Error::Cancelled,
        Error::Consumed,
        Error::Forked,
        Error::OnRuntimeThread,
    ]
}

fn new_class<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    base: &Bound<'py, PyType>,
    code: Option<i32>,
) -> PyResult<Py<PyType>> {
    let qualified = CString::new(format!("corral.exceptions.{name}"))?;
    let doc = CString::new(doc)?;
    let dict = PyDict::new(py);
    // Class-level defaults; raised instances set their own.
    dict.set_item("code", code)?;
    dict.set_item("path", py.None())?;
    // `new_type` drops the `Py` it is given before using its pointer, so
    // `dict` keeps the reference that keeps the dictionary alive.
    PyErr::new_type(
        py,
        &qualified,
        Some(&doc),
        Some(base),
        Some(dict.clone().into_any().unbind()),
    )
}

fn build(py: Python<'_>) -> PyResult<HashMap<&'static str, Py<PyType>>> {
    let mut classes = HashMap::new();
    let base = new_class(
        py,
        BASE,
        "Base of every exception raised by corral.",
        &py.get_type::<PyException>(),
        None,
    )?;
    let zookeeper = new_class(
        py,
        ZOOKEEPER_ERROR,
        "An error with a ZooKeeper code: `.code` (ZooKeeper's number) and `.path` (or None).",
        base.bind(py),
        None,
    )?;
    let lock_timeout = new_class(
        py,
        LOCK_TIMEOUT,
        "A lock was not acquired within its timeout.",
        base.bind(py),
        None,
    )?;
    for code in ErrorCode::ALL {
        let info = code.info();
        let doc = format!("ZooKeeper error {} ({}).", info.zookeeper_name, code.code());
        let class = new_class(
            py,
            info.python_exception,
            &doc,
            zookeeper.bind(py),
            Some(code.code()),
        )?;
        classes.insert(info.python_exception, class);
    }
    for example in client_side_examples() {
        let parent = classes[example.code().info().python_exception].clone_ref(py);
        let doc = format!(
            "Client-side error, reported with code {} ({}).",
            example.code().info().zookeeper_name,
            example.code().code()
        );
        let class = new_class(
            py,
            example.python_exception(),
            &doc,
            parent.bind(py),
            Some(example.code().code()),
        )?;
        classes.insert(example.python_exception(), class);
    }
    classes.insert(BASE, base);
    classes.insert(ZOOKEEPER_ERROR, zookeeper);
    classes.insert(LOCK_TIMEOUT, lock_timeout);
    Ok(classes)
}

fn classes(py: Python<'_>) -> PyResult<&HashMap<&'static str, Py<PyType>>> {
    CLASSES.get_or_try_init(py, || build(py))
}

/// Adds `EXCEPTIONS` (name -> class) to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let dict = PyDict::new(py);
    for (name, class) in classes(py)? {
        dict.set_item(*name, class.bind(py))?;
    }
    module.add("EXCEPTIONS", dict)
}

/// An exception of class `name` with `message`, `.code` and `.path`.
pub fn raise(
    py: Python<'_>,
    name: &str,
    message: String,
    code: Option<i32>,
    path: Option<&str>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let classes = classes(py)?;
        let class = classes
            .get(name)
            .or_else(|| classes.get(BASE))
            .expect("the base class is always registered");
        let instance = class.bind(py).call1((message,))?;
        instance.setattr("code", code)?;
        instance.setattr("path", path)?;
        Ok(PyErr::from_value(instance))
    };
    build().unwrap_or_else(|e| e)
}

/// The Python exception for an embedded call's error.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let path = match &err {
        Error::Client(e) => e.path(),
        _ => None,
    };
    let exception = raise(
        py,
        err.python_exception(),
        err.to_string(),
        Some(err.code().code()),
        path,
    );
    if let Error::Client(corral::Error::MultiFailed { index, .. }) = &err {
        // Which op of a transaction failed.
        let _ = exception.value(py).setattr("index", *index);
    }
    exception
}
