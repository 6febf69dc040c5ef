//! A thread that owns the server processes.
//!
//! Each process is started with a parent-death signal (`PR_SET_PDEATHSIG`, Linux): if the test
//! process dies without unwinding (SIGKILL, `abort`, a timeout), the kernel kills the servers
//! too. Linux ties that signal to the *thread* that forked the child, not to the process, so the
//! children are forked here, on a thread that lives exactly as long as the [`Supervisor`],
//! never on a short-lived test or runtime thread. Dropping the supervisor kills the processes
//! (last started first) and reaps them.

use std::collections::BTreeMap;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

type Reply = mpsc::Sender<std::io::Result<u32>>;

/// Owns the processes started through it; see the module docs.
#[derive(Debug)]
pub struct Supervisor {
    requests: Option<mpsc::Sender<(&'static str, Command, Reply)>>,
    exited: Arc<Mutex<BTreeMap<&'static str, ExitStatus>>>,
    thread: Option<JoinHandle<()>>,
}

impl Supervisor {
    /// Starts the supervising thread.
    pub fn new() -> std::io::Result<Self> {
        let (requests, incoming) = mpsc::channel::<(&'static str, Command, Reply)>();
        let exited = Arc::new(Mutex::new(BTreeMap::new()));
        let seen = Arc::clone(&exited);
        let thread = std::thread::Builder::new()
            .name("nim-envtest-supervisor".to_owned())
            .spawn(move || supervise(&incoming, &seen))?;
        Ok(Self {
            requests: Some(requests),
            exited,
            thread: Some(thread),
        })
    }

    /// Starts `command` as the process called `name`; returns its pid.
    pub fn spawn(&self, name: &'static str, command: Command) -> std::io::Result<u32> {
        let gone = || std::io::Error::other("the supervisor thread has stopped");
        let (reply, answer) = mpsc::channel();
        self.requests
            .as_ref()
            .ok_or_else(gone)?
            .send((name, command, reply))
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// The exit status of the process called `name`, once it has exited.
    pub fn exit_status(&self, name: &str) -> Option<ExitStatus> {
        self.exited
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Closing the channel tells the thread to kill and reap its children.
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn supervise(
    incoming: &mpsc::Receiver<(&'static str, Command, Reply)>,
    exited: &Mutex<BTreeMap<&'static str, ExitStatus>>,
) {
    let mut children: Vec<(&'static str, Child)> = Vec::new();
    loop {
        match incoming.recv_timeout(Duration::from_millis(50)) {
            Ok((name, mut command, reply)) => {
                die_with_this_thread(&mut command);
                let result = command.spawn().map(|child| {
                    let pid = child.id();
                    children.push((name, child));
                    pid
                });
                let _ = reply.send(result);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let mut exited = exited.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, child) in &mut children {
            if let Ok(Some(status)) = child.try_wait() {
                exited.insert(name, status);
            }
        }
    }
    for (_, child) in children.iter_mut().rev() {
        // SIGKILL: the servers hold nothing worth a graceful shutdown (etcd's data directory
        // is deleted next), and a draining apiserver would hold the test run for seconds.
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_this_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before `exec`; it calls only `prctl` and
    // `getppid`, which are async-signal-safe, allocates nothing and touches no locks.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then no signal will come.
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("the parent exited during spawn"));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_this_thread(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    #[cfg(target_os = "linux")]
    fn records_exits_and_kills_on_drop() {
        let supervisor = Supervisor::new().expect("thread");
        let mut quick = Command::new("sh");
        quick.args(["-c", "exit 3"]);
        supervisor.spawn("quick", quick).expect("spawn sh");
        let mut slow = Command::new("sleep");
        slow.arg("600");
        let pid = supervisor.spawn("slow", slow).expect("spawn sleep");

        let mut status = None;
        for _ in 0..200 {
            status = supervisor.exit_status("quick");
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        assert_eq!(supervisor.exit_status("slow"), None);

        drop(supervisor);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "sleep {pid} survived the supervisor"
        );
    }

    #[test]
    fn spawn_errors_are_returned() {
        let supervisor = Supervisor::new().expect("thread");
        let error = supervisor
            .spawn("missing", Command::new("/nonexistent/binary"))
            .expect_err("no such binary");
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    }
}
