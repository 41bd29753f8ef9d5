//! The key store backup timer: copies `keys.db` (the customer keys that open the sealed
//! personal data in the log) into `<data dir>/backups/keys-<UTC time>.db` with SQLite's
//! online backup while the service runs, and keeps only the newest few copies.
//!
//! Backups of keys must be kept apart from backups of the log (whoever holds both holds the
//! personal data), and an erased key lives on in every backup taken before the erasure
//! until that backup is deleted: `key_backups_kept` bounds how long that is (with the
//! default daily interval and 7 copies, a week). `docs/audit.md` has the procedure.

use crate::error::WorkflowError;
use service::duty::Duty;
use service::shutdown::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use vault::Vault;

/// The folder of the data folder the backups go to.
pub const BACKUP_FOLDER: &str = "backups";

/// The name prefix and suffix of a key store backup.
const PREFIX: &str = "keys-";
const SUFFIX: &str = ".db";

/// The key store backup timer.
#[derive(Debug, Clone)]
pub struct KeyBackup {
    pub vault: Arc<Vault>,
    /// Where the backups go, `<data dir>/backups`.
    pub folder: PathBuf,
    /// How often; `None` turns the timer off.
    pub interval: Option<Duration>,
    /// How many backups are kept.
    pub keep: usize,
}

/// The backups in `folder`, oldest first (their names sort by time).
pub fn list_backups(folder: &Path) -> Result<Vec<PathBuf>, WorkflowError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(WorkflowError::Io {
                action: format!("list key backups in {}", folder.display()),
                source,
            })
        }
    };
    let mut backups: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(PREFIX) && name.ends_with(SUFFIX))
        })
        .collect();
    backups.sort();
    Ok(backups)
}

impl KeyBackup {
    /// Runs until `shutdown`: a backup at once when the newest one is older than the
    /// interval (or there is none), then one every interval.
    pub async fn run(self, shutdown: Shutdown) {
        let Some(interval) = self.interval else {
            return;
        };
        Duty::every("key store backup", interval)
            .first_after(self.first_wait(interval))
            .period_after_each_run()
            .failures_are_errors()
            .run(shutdown, || async {
                let path = self.backup_now().await?;
                tracing::info!(backup = %path.display(), "key store backed up");
                Ok::<_, WorkflowError>(())
            })
            .await;
    }

    /// How long to wait before the first backup: what is left of the interval since the
    /// newest backup was written, nothing when there is none.
    fn first_wait(&self, interval: Duration) -> Duration {
        let newest = list_backups(&self.folder)
            .ok()
            .and_then(|backups| backups.last().cloned())
            .and_then(|path| std::fs::metadata(path).ok())
            .and_then(|metadata| metadata.modified().ok());
        match newest.and_then(|modified| SystemTime::now().duration_since(modified).ok()) {
            Some(age) => interval.saturating_sub(age),
            None => Duration::ZERO,
        }
    }

    /// Takes one backup now, on the blocking pool; returns its path.
    pub async fn backup_now(&self) -> Result<PathBuf, WorkflowError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.backup_blocking(chrono::Utc::now()))
            .await
            .map_err(|error| WorkflowError::Corrupt(format!("key backup task failed: {error}")))?
    }

    /// Takes one backup named after `now`, then deletes all but the newest `keep`.
    pub fn backup_blocking(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<PathBuf, WorkflowError> {
        std::fs::create_dir_all(&self.folder).map_err(|source| WorkflowError::Io {
            action: format!("create {}", self.folder.display()),
            source,
        })?;
        let name = format!("{PREFIX}{}{SUFFIX}", now.format("%Y%m%dT%H%M%S%.3fZ"));
        let path = self.folder.join(name);
        self.vault
            .backup_to(&path)
            .map_err(|error| WorkflowError::Corrupt(format!("back up the key store: {error}")))?;
        let backups = list_backups(&self.folder)?;
        let excess = backups.len().saturating_sub(self.keep.max(1));
        for old in &backups[..excess] {
            std::fs::remove_file(old).map_err(|source| WorkflowError::Io {
                action: format!("delete old key backup {}", old.display()),
                source,
            })?;
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backups_are_named_by_time_and_only_the_newest_are_kept() {
        let directory = tempfile::tempdir().expect("temp dir");
        let vault = Arc::new(Vault::open_file(directory.path().join("keys.db")).expect("vault"));
        let reference = vault::CustomerRef::from_fields(Some("c-1"), None, None, None)
            .expect("a customer id is a reference");
        vault.ensure_keys(&[reference]).expect("key");
        let backup = KeyBackup {
            vault,
            folder: directory.path().join(BACKUP_FOLDER),
            interval: Some(Duration::from_secs(60)),
            keep: 2,
        };
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 18, 47, 0)
            .single()
            .expect("valid instant");
        for minute in 0..4 {
            backup
                .backup_blocking(start + chrono::TimeDelta::minutes(minute))
                .expect("backup");
        }
        let names: Vec<String> = list_backups(&backup.folder)
            .expect("list")
            .iter()
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect();
        assert_eq!(
            names,
            vec![
                "keys-20261123T184900.000Z.db".to_owned(),
                "keys-20261123T185000.000Z.db".to_owned()
            ]
        );
        let restored = directory.path().join("restored.db");
        Vault::restore(backup.folder.join(&names[1]), &restored).expect("restore");
        let copy = Vault::open_file(&restored).expect("open the copy");
        assert_eq!(copy.key_count().expect("count"), 1);
        // A backup was just written: the next is due about an interval from now.
        assert!(backup.first_wait(Duration::from_secs(3_600)) > Duration::from_secs(3_000));
    }
}
