//! The threads that hash passwords: a small pool of its own, at low CPU priority.
//!
//! Argon2 is pure CPU work of tens of milliseconds. On tokio's shared blocking
//! pool, a burst of logins would compete on equal terms with the runtime's worker
//! threads, and every other request would wait behind the hashes. These threads
//! lower their own priority (Linux `nice` 10) when they start, so the scheduler
//! prefers the request handlers: hashes still get every idle cycle, and a login
//! flood slows logins rather than the rest of the application.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// The `nice` value hashing threads take (0 is normal, 19 the lowest priority).
const HASH_THREAD_NICE: i32 = 10;

pub(super) struct HashPool {
    jobs: Mutex<Sender<Job>>,
}

impl HashPool {
    /// Starts `threads` hashing threads (at least one).
    pub(super) fn start(threads: usize, lower_priority: bool) -> Result<Self> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("axum-users-hash-{index}"))
                .spawn(move || worker(&queue, lower_priority))
                .map_err(|e| Error::internal("starting a hashing thread", e))?;
        }
        Ok(Self {
            jobs: Mutex::new(jobs),
        })
    }

    /// Runs `work` on a hashing thread. Work whose caller went away (a cancelled
    /// request) is skipped.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            if !done.is_closed() {
                let _ = done.send(work());
            }
        });
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .send(job)
            .map_err(|_| Error::Internal("the hashing threads have stopped".into()))?;
        result
            .await
            .map_err(|_| Error::Internal("a password hashing job failed".into()))?
    }
}

fn worker(queue: &Mutex<Receiver<Job>>, lower_priority: bool) {
    if lower_priority {
        lower_thread_priority();
    }
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv()
        {
            Ok(job) => job,
            // Every sender is gone: the hasher was dropped.
            Err(_) => return,
        };
        // A panicking job drops its result sender, which its caller sees as an
        // error; the thread carries on with the next job.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(target_os = "linux")]
fn lower_thread_priority() {
    // On Linux the nice value is per thread: PRIO_PROCESS with a thread id
    // changes that thread only.
    let tid = rustix::thread::gettid();
    // Never raise a priority the process was started with (`nice -n 15 …`).
    let current = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
    if let Err(e) = rustix::process::setpriority_process(Some(tid), current.max(HASH_THREAD_NICE)) {
        tracing::debug!(error = %e, "could not lower the hashing thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_thread_priority() {
    let _ = HASH_THREAD_NICE;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_pool_carries_on() {
        let pool = HashPool::start(1, false).unwrap();
        let failed = pool.run::<()>(|| panic!("boom")).await;
        assert!(matches!(failed, Err(Error::Internal(_))));
        assert_eq!(pool.run(|| Ok(41 + 1)).await.unwrap(), 42);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_lower_priority() {
        let pool = HashPool::start(2, true).unwrap();
        for _ in 0..4 {
            let nice = pool
                .run(|| {
                    rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                        .map_err(|e| Error::Internal(e.to_string().into()))
                })
                .await
                .unwrap();
            assert!(nice >= HASH_THREAD_NICE, "nice {nice}");
        }
        let normal = HashPool::start(1, false).unwrap();
        let nice = normal
            .run(|| {
                rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                    .map_err(|e| Error::Internal(e.to_string().into()))
            })
            .await
            .unwrap();
        assert_eq!(nice, rustix::process::getpriority_process(None).unwrap());
    }
}
