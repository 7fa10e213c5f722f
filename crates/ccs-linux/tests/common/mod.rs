//! Namespace test support: unique names, namespaces and veth pairs that clean up after
//! themselves (also when a test fails), and running async code inside a namespace.
//!
//! Every test builds its own network: namespaces `ccsl-<pid>-<n>-ev`/`-evse`, interfaces
//! created inside them, all deleted by `Drop` guards. Needs root (CAP_NET_ADMIN).
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use ccs_linux::iface::Interface;
use ccs_linux::sys::netns;

pub use ccs_testdata::netns::{Netns, TwoHosts, ip, require_root, unique};

/// How long a fresh interface may take to get its link-local address (DAD ~1-2 s).
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `f` (an async block built inside the namespace) on a thread in namespace `ns`, on a
/// current-thread tokio runtime.
pub fn spawn_async_in<F, Fut, R>(ns: &str, f: F) -> std::thread::JoinHandle<std::io::Result<R>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = R>,
    R: Send + 'static,
{
    netns::spawn_in_netns(ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(f())
    })
}

/// Joins a namespace thread, propagating its panic.
pub fn join<R>(handle: std::thread::JoinHandle<std::io::Result<R>>) -> R {
    match handle.join() {
        Ok(result) => result.expect("entering the namespace"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Waits for `name` to be ready inside the current namespace.
pub async fn ready(name: &str) -> Interface {
    Interface::wait_ready(name, READY_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}
