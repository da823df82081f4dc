//! The only place passwords are hashed or verified while the server runs: a
//! small fixed pool of worker threads behind a bounded queue.
//!
//! Each Argon2 call needs ~19 MiB; every worker owns one such array and
//! reuses it (`password::Memory`), so the memory of hashing is the number
//! of workers, not the number of requests. Before this pool,
//! every login ran on tokio's blocking pool (up to 512 threads): 150
//! concurrent failed logins grew the server from 252 MB to 2.98 GB. Now at
//! most `workers` hashes run at once, at most `queue` wait (in each of two
//! queues: addresses without recent failures are served first), and a job
//! that waited longer than the deadline is not run at all: its caller is
//! told the server is busy (503 with `Retry-After`) instead of waiting
//! without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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

/// Which queue a job waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    /// An address without recent failures, or an authenticated caller.
    First,
    /// An address that failed recently: served only when no `First` job
    /// waits, so a distributed guessing campaign, which the per-address
    /// throttle cannot stop, does not keep the real user out.
    Later,
}

#[derive(Default)]
struct Queues {
    first: VecDeque<Job>,
    later: VecDeque<Job>,
    closed: bool,
}

struct Inner {
    queues: Mutex<Queues>,
    ready: Condvar,
    /// Jobs each queue holds at most.
    capacity: usize,
    counters: Counters,
}

/// The hashing pool. Dropping it ends its threads (jobs still waiting are
/// answered busy).
pub(crate) struct HashPool {
    inner: Arc<Inner>,
    deadline: Duration,
    workers: usize,
}

impl Drop for HashPool {
    fn drop(&mut self) {
        if let Ok(mut queues) = self.inner.queues.lock() {
            queues.closed = true;
        }
        self.inner.ready.notify_all();
    }
}

impl HashPool {
    /// `workers` threads (at least one), at most `queue` jobs waiting in
    /// each of the two queues, each run only if a worker takes it within
    /// `deadline`.
    pub(crate) fn new(workers: usize, queue: usize, deadline: Duration) -> HashPool {
        let workers = workers.max(1);
        let inner = Arc::new(Inner {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
            capacity: queue,
            counters: Counters::default(),
        });
        let mut started = 0;
        for index in 0..workers {
            let inner = inner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("trackd-hash-{index}"))
                .spawn(move || work(&inner));
            match spawned {
                Ok(_) => started += 1,
                Err(err) => tracing::error!(%err, "starting a password hashing thread"),
            }
        }
        HashPool {
            inner,
            deadline,
            workers: started,
        }
    }

    /// Whether `password` matches the stored PHC `hash`.
    pub(crate) async fn verify(
        &self,
        password: &str,
        hash: &str,
        priority: Priority,
    ) -> Result<bool, HashError> {
        let work = Work::Verify {
            password: password.to_owned(),
            hash: hash.to_owned(),
        };
        match self.run(work, priority).await? {
            Done::Verified(matches) => Ok(matches),
            Done::Hashed(_) => Err(HashError::Failed),
        }
    }

    /// A new PHC hash of `password` (for an authenticated caller: first).
    pub(crate) async fn hash(&self, password: &str) -> Result<String, HashError> {
        let work = Work::Hash {
            password: password.to_owned(),
        };
        match self.run(work, Priority::First).await? {
            Done::Hashed(Ok(hash)) => Ok(hash),
            Done::Hashed(Err(err)) => {
                tracing::error!(%err, "password hashing failed");
                Err(HashError::Failed)
            }
            Done::Verified(_) => Err(HashError::Failed),
        }
    }

    async fn run(&self, work: Work, priority: Priority) -> Result<Done, HashError> {
        let (reply, done) = oneshot::channel();
        let job = Job {
            work,
            deadline: Instant::now() + self.deadline,
            reply,
        };
        let queued = match self.inner.queues.lock() {
            Ok(mut queues) => {
                let queue = match priority {
                    Priority::First => &mut queues.first,
                    Priority::Later => &mut queues.later,
                };
                if queue.len() < self.inner.capacity && self.workers > 0 {
                    queue.push_back(job);
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
        if !queued {
            self.inner.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(HashError::Busy);
        }
        self.inner.ready.notify_one();
        // The worker drops the reply of a job whose deadline passed.
        done.await.map_err(|_| HashError::Busy)
    }

    /// The pool's counters.
    pub(crate) fn stats(&self) -> HashingStats {
        let counters = &self.inner.counters;
        HashingStats {
            workers: self.workers,
            peak_running: counters.peak_running.load(Ordering::Relaxed),
            completed: counters.completed.load(Ordering::Relaxed),
            refused: counters.refused.load(Ordering::Relaxed),
        }
    }
}

/// The next job, `First` before `Later`; `None` once the pool is dropped.
fn next_job(inner: &Inner) -> Option<Job> {
    let mut queues = inner.queues.lock().ok()?;
    loop {
        if queues.closed {
            return None;
        }
        if let Some(job) = queues
            .first
            .pop_front()
            .or_else(|| queues.later.pop_front())
        {
            return Some(job);
        }
        queues = inner.ready.wait(queues).ok()?;
    }
}

fn work(inner: &Inner) {
    let counters = &inner.counters;
    // One Argon2 working array per thread, reused for every job.
    let mut memory = Memory::default();
    while let Some(job) = next_job(inner) {
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
                tokio::spawn(async move { pool.verify("wrong", &hash, Priority::Later).await })
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
        assert!(pool
            .verify("correct horse", &hash, Priority::First)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_job_queued_past_its_deadline_is_not_run() {
        // A deadline of zero: every job is stale by the time a worker looks.
        let pool = HashPool::new(1, 4, Duration::ZERO);
        let hash = hash_password("correct horse").unwrap();
        assert_eq!(
            pool.verify("correct horse", &hash, Priority::First).await,
            Err(HashError::Busy)
        );
        assert_eq!(pool.stats().completed, 0);
        assert_eq!(pool.stats().refused, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn addresses_without_failures_are_served_first() {
        let pool = Arc::new(HashPool::new(1, 16, Duration::from_secs(60)));
        let hash = hash_password("correct horse").unwrap();
        // Occupy the only worker with a slow hash (256 MiB, 2 passes).
        let slow = argon2::password_hash::PasswordHasher::hash_password(
            &argon2::Argon2::new(
                argon2::Algorithm::Argon2id,
                argon2::Version::V0x13,
                argon2::Params::new(256 * 1024, 2, 1, None).unwrap(),
            ),
            b"slow",
            &argon2::password_hash::SaltString::generate(
                &mut argon2::password_hash::rand_core::OsRng,
            ),
        )
        .unwrap()
        .to_string();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.verify("slow", &slow, Priority::First).await })
        };
        while pool.inner.counters.running.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for (name, priority) in [
            ("later 1", Priority::Later),
            ("later 2", Priority::Later),
            ("first", Priority::First),
        ] {
            let queued = pool.clone();
            let hash = hash.clone();
            let order = order.clone();
            waiting.push(tokio::spawn(async move {
                queued.verify("wrong", &hash, priority).await.unwrap();
                order.lock().unwrap().push(name);
            }));
            // Queued in this order.
            while pool_len(&pool) < waiting.len() {
                tokio::task::yield_now().await;
            }
        }
        assert!(busy.await.unwrap().unwrap());
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["first", "later 1", "later 2"]);
    }

    fn pool_len(pool: &HashPool) -> usize {
        let queues = pool.inner.queues.lock().unwrap();
        queues.first.len() + queues.later.len()
    }

    #[tokio::test]
    async fn hashes_made_by_the_pool_verify() {
        let pool = HashPool::new(1, 1, Duration::from_secs(30));
        let hash = pool.hash("correct horse").await.unwrap();
        assert!(pool
            .verify("correct horse", &hash, Priority::First)
            .await
            .unwrap());
        assert!(!pool.verify("wrong", &hash, Priority::Later).await.unwrap());
    }
}
