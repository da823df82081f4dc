//! The only place passwords are hashed or verified while the server runs: a
//! small fixed pool of worker threads behind a bounded queue.
//!
//! Each Argon2 call needs ~19 MiB; every worker owns one such array and
//! reuses it (`password::Memory`), so the memory of hashing is the number
//! of workers, not the number of requests. Before this pool,
//! every login ran on tokio's blocking pool (up to 512 threads): 150
//! concurrent failed logins grew the server from 252 MB to 2.98 GB. Now at
//! most `workers` hashes run at once, at most `queue` wait, and a job that
//! waited longer than the deadline is not run at all: its caller is told
//! the server is busy (503 with `Retry-After`) instead of waiting without
//! bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::password::Memory;

/// Why a hashing job did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HashError {
    /// The queue is full, or the job waited past its deadline.
    #[error("password hashing is busy")]
    Busy,
    /// Hashing itself failed (a bad parameter; never for user input).
    #[error("password hashing failed")]
    Failed,
}

enum Work {
    Verify { password: String, hash: String },
    Hash { password: String },
}

enum Done {
    Verified(bool),
    Hashed(Result<String, String>),
}

struct Job {
    work: Work,
    deadline: Instant,
    reply: oneshot::Sender<Done>,
}

/// Counters of the pool (for tests and diagnostics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HashingStats {
    /// Worker threads.
    pub workers: usize,
    /// Most jobs that ever ran at the same time.
    pub peak_running: usize,
    /// Jobs run to the end.
    pub completed: u64,
    /// Jobs refused: queue full or deadline passed while queued.
    pub refused: u64,
}

#[derive(Default)]
struct Counters {
    running: AtomicUsize,
    peak_running: AtomicUsize,
    completed: AtomicU64,
    refused: AtomicU64,
}

/// The hashing pool. Dropping it lets its threads end once the queue drains.
pub(crate) struct HashPool {
    queue: SyncSender<Job>,
    deadline: Duration,
    workers: usize,
    counters: Arc<Counters>,
}

impl HashPool {
    /// `workers` threads (at least one), at most `queue` jobs waiting, each
    /// run only if a worker takes it within `deadline`.
    pub(crate) fn new(workers: usize, queue: usize, deadline: Duration) -> HashPool {
        let workers = workers.max(1);
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let counters = Arc::new(Counters::default());
        let mut started = 0;
        for index in 0..workers {
            let receiver = receiver.clone();
            let counters = counters.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("trackd-hash-{index}"))
                .spawn(move || work(&receiver, &counters));
            match spawned {
                Ok(_) => started += 1,
                Err(err) => tracing::error!(%err, "starting a password hashing thread"),
            }
        }
        HashPool {
            queue: sender,
            deadline,
            workers: started,
            counters,
        }
    }

    /// Whether `password` matches the stored PHC `hash`.
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> Result<bool, HashError> {
        let work = Work::Verify {
            password: password.to_owned(),
            hash: hash.to_owned(),
        };
        match self.run(work).await? {
            Done::Verified(matches) => Ok(matches),
            Done::Hashed(_) => Err(HashError::Failed),
        }
    }

    /// A new PHC hash of `password`.
    pub(crate) async fn hash(&self, password: &str) -> Result<String, HashError> {
        let work = Work::Hash {
            password: password.to_owned(),
        };
        match self.run(work).await? {
            Done::Hashed(Ok(hash)) => Ok(hash),
            Done::Hashed(Err(err)) => {
                tracing::error!(%err, "password hashing failed");
                Err(HashError::Failed)
            }
            Done::Verified(_) => Err(HashError::Failed),
        }
    }

    async fn run(&self, work: Work) -> Result<Done, HashError> {
        let (reply, done) = oneshot::channel();
        let job = Job {
            work,
            deadline: Instant::now() + self.deadline,
            reply,
        };
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                return Err(HashError::Busy);
            }
        }
        // The worker drops the reply of a job whose deadline passed.
        done.await.map_err(|_| HashError::Busy)
    }

    /// The pool's counters.
    pub(crate) fn stats(&self) -> HashingStats {
        HashingStats {
            workers: self.workers,
            peak_running: self.counters.peak_running.load(Ordering::Relaxed),
            completed: self.counters.completed.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
        }
    }
}

fn next_job(receiver: &Mutex<Receiver<Job>>) -> Option<Job> {
    let receiver = receiver.lock().ok()?;
    receiver.recv().ok()
}

fn work(receiver: &Mutex<Receiver<Job>>, counters: &Counters) {
    // One Argon2 working array per thread, reused for every job.
    let mut memory = Memory::default();
    while let Some(job) = next_job(receiver) {
        if job.reply.is_closed() {
            // The request went away while queued.
            continue;
        }
        if Instant::now() > job.deadline {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let running = counters.running.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak_running.fetch_max(running, Ordering::SeqCst);
        let done = match job.work {
            Work::Verify { password, hash } => Done::Verified(memory.verify(&password, &hash)),
            Work::Hash { password } => Done::Hashed(memory.hash(&password)),
        };
        counters.running.fetch_sub(1, Ordering::SeqCst);
        counters.completed.fetch_add(1, Ordering::Relaxed);
        let _ = job.reply.send(done);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::auth::hash_password;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_concurrency_never_exceeds_the_pool_and_excess_is_refused() {
        let pool = Arc::new(HashPool::new(2, 4, Duration::from_secs(30)));
        let hash = hash_password("correct horse").unwrap();
        let attempts: Vec<_> = (0..40)
            .map(|_| {
                let pool = pool.clone();
                let hash = hash.clone();
                tokio::spawn(async move { pool.verify("wrong", &hash).await })
            })
            .collect();
        let mut verified = 0;
        let mut busy = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(matches) => {
                    assert!(!matches);
                    verified += 1;
                }
                Err(HashError::Busy) => busy += 1,
                Err(HashError::Failed) => panic!("verification failed"),
            }
        }
        let stats = pool.stats();
        assert_eq!(stats.workers, 2);
        assert!(stats.peak_running <= 2, "{stats:?}");
        // At most the two running and the four queued were accepted at any
        // time; 40 at once cannot all have been.
        assert!(busy > 0, "some attempts were refused: {stats:?}");
        assert_eq!(verified + busy, 40);
        assert_eq!(stats.refused, busy as u64);
        assert!(pool.verify("correct horse", &hash).await.unwrap());
    }

    #[tokio::test]
    async fn a_job_queued_past_its_deadline_is_not_run() {
        // A deadline of zero: every job is stale by the time a worker looks.
        let pool = HashPool::new(1, 4, Duration::ZERO);
        let hash = hash_password("correct horse").unwrap();
        assert_eq!(
            pool.verify("correct horse", &hash).await,
            Err(HashError::Busy)
        );
        assert_eq!(pool.stats().completed, 0);
        assert_eq!(pool.stats().refused, 1);
    }

    #[tokio::test]
    async fn hashes_made_by_the_pool_verify() {
        let pool = HashPool::new(1, 1, Duration::from_secs(30));
        let hash = pool.hash("correct horse").await.unwrap();
        assert!(pool.verify("correct horse", &hash).await.unwrap());
        assert!(!pool.verify("wrong", &hash).await.unwrap());
    }
}
