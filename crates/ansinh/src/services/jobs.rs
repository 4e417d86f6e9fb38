//! Imports started from the web page run in the background so that the page can show their
//! progress (a million-row file takes tens of seconds). Jobs live in memory for an hour,
//! visible only to the user who started them; a restart forgets them (the import itself is
//! one transaction: it either committed before the restart or left nothing).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::AppError;
use crate::services::import::{ImportReport, Progress};

/// Where a job is.
#[derive(Clone)]
pub enum JobState {
    Running,
    Done(ImportReport),
    Failed(Arc<AppError>),
}

/// A snapshot of one import job.
#[derive(Clone)]
pub struct ImportJob {
    pub user: i64,
    pub file_name: String,
    pub started: Instant,
    /// Data rows in the file (known once it is read).
    pub total: usize,
    pub validated: usize,
    /// Persons written into the (uncommitted) transaction.
    pub written: usize,
    pub committing: bool,
    pub state: JobState,
}

impl ImportJob {
    /// Percent of the work done, for the progress bar: validation and writing share it.
    pub fn percent(&self) -> usize {
        if self.total == 0 {
            return 0;
        }
        ((self.validated + self.written) * 100 / (2 * self.total)).min(100)
    }

    pub fn seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    pub fn running(&self) -> bool {
        matches!(self.state, JobState::Running)
    }
}

type Shared = Arc<Mutex<ImportJob>>;

#[derive(Default)]
pub struct ImportJobs {
    inner: Mutex<HashMap<String, Shared>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ImportJobs {
    const KEEP: Duration = Duration::from_secs(3600);

    /// Registers a running job; returns the handle its task updates.
    pub fn start(&self, id: &str, user: i64, file_name: &str) -> Shared {
        let job = Arc::new(Mutex::new(ImportJob {
            user,
            file_name: file_name.to_string(),
            started: Instant::now(),
            total: 0,
            validated: 0,
            written: 0,
            committing: false,
            state: JobState::Running,
        }));
        let mut m = lock(&self.inner);
        m.retain(|_, j| {
            let j = lock(j);
            j.running() || j.started.elapsed() < Self::KEEP
        });
        m.insert(id.to_string(), job.clone());
        job
    }

    /// The job, if it exists and belongs to `user`.
    pub fn get(&self, id: &str, user: i64) -> Option<ImportJob> {
        let m = lock(&self.inner);
        m.get(id).map(|j| lock(j).clone()).filter(|j| j.user == user)
    }
}

/// Records a progress report of the import service in the job.
pub fn record(job: &Shared, p: Progress) {
    let mut j = lock(job);
    match p {
        Progress::Read { rows } => j.total = rows,
        Progress::Validated { done, total } => {
            j.validated = done;
            j.total = total;
        }
        Progress::Written { rows } => j.written = rows,
        Progress::Committing => j.committing = true,
    }
}

/// Records the outcome.
pub fn finish(job: &Shared, outcome: Result<ImportReport, AppError>) {
    let mut j = lock(job);
    if let Ok(r) = &outcome {
        // a file that was not written shows full validation, not a half-empty bar
        j.validated = r.rows;
        j.written = if r.imported > 0 { r.imported } else { r.rows };
    }
    j.state = match outcome {
        Ok(r) => JobState::Done(r),
        Err(e) => JobState::Failed(Arc::new(e)),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_private_and_report_progress() {
        let jobs = ImportJobs::default();
        let h = jobs.start("a1", 7, "x.csv");
        assert!(jobs.get("a1", 8).is_none(), "another user sees nothing");
        assert!(jobs.get("zz", 7).is_none());
        record(&h, Progress::Read { rows: 1000 });
        record(&h, Progress::Validated { done: 500, total: 1000 });
        assert_eq!(jobs.get("a1", 7).unwrap().percent(), 25);
        record(&h, Progress::Validated { done: 1000, total: 1000 });
        record(&h, Progress::Written { rows: 1000 });
        record(&h, Progress::Committing);
        let j = jobs.get("a1", 7).unwrap();
        assert!(j.running() && j.committing);
        assert_eq!(j.percent(), 100);
        finish(&h, Err(AppError::Invalid("x".into())));
        assert!(matches!(jobs.get("a1", 7).unwrap().state, JobState::Failed(_)));
    }
}
