//! Network namespaces (`setns(2)`): run a closure on a fresh thread that has entered a named
//! namespace (`ip netns add NAME` creates `/run/netns/NAME`). Sockets and TAP devices created
//! on that thread belong to the namespace and stay there when the thread ends, so one process
//! can hold devices in several namespaces (the TAP modem simulator) or play both ends of a
//! link in tests. The calling thread's namespace is never changed.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use super::cvt;

/// The file `ip netns` keeps for the namespace `name`.
pub fn netns_path(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// Moves the calling thread into the network namespace `name`. Only call this on a thread you
/// own and that runs nothing else (see [`spawn_in_netns`]).
pub fn enter_netns(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid namespace name {name:?}"),
        ));
    }
    let file = File::open(netns_path(name))?;
    // SAFETY: `file` is an open namespace file; CLONE_NEWNET only affects this thread.
    cvt(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) })?;
    Ok(())
}

/// Runs `f` on a new thread inside the network namespace `name`; the handle yields `f`'s
/// result, or the error of entering the namespace.
pub fn spawn_in_netns<F, R>(name: &str, f: F) -> std::thread::JoinHandle<io::Result<R>>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let name = name.to_owned();
    std::thread::spawn(move || {
        enter_netns(&name)?;
        Ok(f())
    })
}

/// Runs `f` inside the network namespace `name` and waits for it.
pub fn run_in_netns<F, R>(name: &str, f: F) -> io::Result<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_in_netns(name, f)
        .join()
        .map_err(|_| io::Error::other("thread in network namespace panicked"))?
}

/// Spawns `command` with the child inside the network namespace `name` and in a new process
/// group of its own (so that it and everything it starts can be stopped together with
/// `kill -- -PID`). Unlike `ip netns exec`, the returned child's PID is the program's.
pub fn spawn_command_in_netns(
    command: &mut std::process::Command,
    name: &str,
) -> io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;

    if name.is_empty() || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid namespace name {name:?}"),
        ));
    }
    // Opened before the fork; the child only calls setns(2), which is async-signal-safe.
    let file = File::open(netns_path(name))?;
    let fd = file.as_raw_fd();
    command.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and only calls setns(2) on
    // a descriptor that `file` keeps open until `spawn` returns; it allocates nothing and
    // takes no locks.
    unsafe {
        command.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
    let child = command.spawn();
    drop(file);
    child
}
