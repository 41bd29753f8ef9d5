//! The follower of a PostgreSQL log: reads every committed row past the position it has
//! seen (this handle's and every other writer's), feeds it to the projector in a local
//! SQLite file, moves the handle's head, and answers the appends that waited for it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::{connect, read_head, row_to_event, CHANNEL, EVENT_COLUMNS};
use crate::error::{pg, sqlite, LogError};
use crate::event::{AppendOutcome, RecordedEvent};
use crate::projector::Projector;
use crate::writer::SharedHead;
use crate::Head;

/// Rows read and projected per transaction.
const ROWS_PER_STEP: i64 = 2_000;
/// How long the follower sleeps between looks when nothing wakes it.
const WAKE_INTERVAL: Duration = Duration::from_millis(10);
/// How often it reads the head even without a notification (a lost `NOTIFY`, a broken
/// listening connection).
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long an append waits for its rows to reach the projections before it is answered
/// `Unavailable` (its rows are committed; a repeat with the same event ids is a no-op).
const PROJECTION_PATIENCE: Duration = Duration::from_secs(5);

/// A committed batch waiting to be answered: the answers go out once the follower has seen
/// `target` (0 for a batch that failed, answered at once).
pub(crate) struct Pending {
    pub target: u64,
    pub replies: Vec<(Reply, Answers)>,
}

/// The answers of one caller's requests, in order.
pub(crate) type Answers = Vec<Result<AppendOutcome, LogError>>;
/// Where they go.
pub(crate) type Reply = oneshot::Sender<Answers>;

/// The local projections of a PostgreSQL log.
pub(crate) struct LocalProjection {
    pub path: PathBuf,
    pub connection: Connection,
    pub projector: Box<dyn Projector>,
}

/// The follower's state.
pub(crate) struct Follower {
    url: String,
    client: Option<Client>,
    projection: Option<LocalProjection>,
    seen: Head,
    shared: Arc<SharedHead>,
    waiting: Vec<(Instant, Pending)>,
    last_poll: Instant,
    last_error: Option<String>,
}

/// The running follower thread.
pub(crate) type FollowerHandle = std::thread::JoinHandle<()>;

/// Opens the local projection file: WAL, `synchronous = NORMAL` (it is rebuilt from the log,
/// so a lost last transaction is caught up again), the projector's tables and the follower's
/// own position.
pub(crate) fn open_projection(
    path: &Path,
    mut projector: Box<dyn Projector>,
) -> Result<LocalProjection, LogError> {
    let connection = Connection::open(path).map_err(sqlite("open the projections"))?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(sqlite("set busy timeout"))?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite("switch the projections to WAL mode"))?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite("set synchronous"))?;
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS log_follower (
                id       INTEGER PRIMARY KEY CHECK (id = 1),
                position INTEGER NOT NULL,
                hash     BLOB    NOT NULL
            );",
        )
        .map_err(sqlite("create log_follower"))?;
    projector.migrate(&connection)?;
    Ok(LocalProjection {
        path: path.to_path_buf(),
        connection,
        projector,
    })
}

/// Starts following: checks that the projections were built from this log, catches up to
/// the head before returning (so a new handle's reads see everything committed when it
/// opened), then runs the follower thread.
pub(crate) fn start_follower(
    url: &str,
    projection: Option<LocalProjection>,
    shared: Arc<SharedHead>,
    pending: Receiver<Pending>,
) -> Result<FollowerHandle, LogError> {
    let mut client = connect(url)?;
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(pg("listen for new events"))?;
    let seen = match &projection {
        Some(projection) => projected_head(projection, &mut client)?,
        None => read_head(&mut client)?,
    };
    let mut follower = Follower {
        url: url.to_string(),
        client: Some(client),
        projection,
        seen,
        shared,
        waiting: Vec::new(),
        last_poll: Instant::now(),
        last_error: None,
    };
    follower.shared.publish(seen);
    follower.catch_up()?;
    std::thread::Builder::new()
        .name("eventlog-follower".to_string())
        .spawn(move || follower.run(pending))
        .map_err(|source| LogError::Io {
            context: "start the follower thread",
            source: Arc::new(source),
        })
}

/// Where the projections stand, checked against the log: the row at that position must have
/// the hash the projections remember, or they were built from another log.
fn projected_head(projection: &LocalProjection, client: &mut Client) -> Result<Head, LogError> {
    let stored: Option<(u64, Vec<u8>)> = projection
        .connection
        .query_row(
            "SELECT position, hash FROM log_follower WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(sqlite("read the projected position"))?;
    let Some((position, hash)) = stored else {
        return Ok(Head {
            position: 0,
            hash: crate::GENESIS_HASH,
        });
    };
    let in_log: Option<Vec<u8>> = client
        .query_opt(
            "SELECT hash FROM events WHERE position = $1",
            &[&i64::try_from(position).unwrap_or(i64::MAX)],
        )
        .map_err(pg("check the projected position"))?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(pg("check the projected position"))?;
    if in_log.as_deref() != Some(hash.as_slice()) {
        return Err(LogError::Corrupt {
            reason: format!(
                "the projections in {} were built from another log (position {position} {}); \
                 delete the file to rebuild them",
                projection.path.display(),
                if in_log.is_some() {
                    "has another hash there"
                } else {
                    "is not in this log"
                }
            ),
        });
    }
    let hash: [u8; 32] = hash.try_into().map_err(|_| LogError::Corrupt {
        reason: "the projected hash is not 32 bytes".to_string(),
    })?;
    Ok(Head { position, hash })
}

impl Follower {
    fn run(mut self, pending: Receiver<Pending>) {
        let mut open = true;
        while open || !self.waiting.is_empty() {
            let mut woken = false;
            match pending.recv_timeout(WAKE_INTERVAL) {
                Ok(batch) => {
                    self.waiting.push((Instant::now(), batch));
                    while let Ok(batch) = pending.try_recv() {
                        self.waiting.push((Instant::now(), batch));
                    }
                    woken = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
            woken |= self.notified();
            if woken || self.last_poll.elapsed() >= POLL_INTERVAL || !open {
                self.last_poll = Instant::now();
                match self.catch_up() {
                    Ok(()) => self.last_error = None,
                    Err(error) => {
                        if self.client.as_ref().is_some_and(Client::is_closed) {
                            self.client = None;
                        }
                        self.last_error = Some(error.to_string());
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
            self.answer(!open);
        }
    }

    /// True when a writer has notified a commit since the last look (never blocks).
    fn notified(&mut self) -> bool {
        let Some(client) = self.client.as_mut() else {
            return false;
        };
        let mut notifications = client.notifications();
        let mut iter = notifications.iter();
        let mut any = false;
        loop {
            match iter.next() {
                Ok(Some(_)) => any = true,
                Ok(None) => return any,
                Err(_) => return true,
            }
        }
    }

    fn client(&mut self) -> Result<&mut Client, LogError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let mut client = connect(&self.url)?;
            client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(pg("listen for new events"))?;
            self.client = Some(client);
        }
        self.client.as_mut().ok_or(LogError::Closed)
    }

    /// Reads and projects every row past the seen position.
    pub(crate) fn catch_up(&mut self) -> Result<(), LogError> {
        if self.projection.is_none() {
            let head = read_head(self.client()?)?;
            if head.position > self.seen.position {
                self.seen = head;
                self.shared.publish(head);
            }
            return Ok(());
        }
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
        );
        loop {
            let after = i64::try_from(self.seen.position).unwrap_or(i64::MAX);
            let rows = self
                .client()?
                .query(sql.as_str(), &[&after, &ROWS_PER_STEP])
                .map_err(pg("read new events"))?;
            let events = rows
                .iter()
                .map(row_to_event)
                .collect::<Result<Vec<_>, _>>()?;
            let Some(last) = events.last() else {
                return Ok(());
            };
            if events[0].position != self.seen.position + 1 {
                return Err(LogError::Corrupt {
                    reason: format!(
                        "the log skips from position {} to {}",
                        self.seen.position, events[0].position
                    ),
                });
            }
            let head = Head {
                position: last.position,
                hash: last.hash,
            };
            if let Some(projection) = self.projection.as_mut() {
                project(projection, &events, head)?;
            }
            self.seen = head;
            self.shared.publish(head);
            self.answer(false);
            if events.len() < ROWS_PER_STEP as usize {
                return Ok(());
            }
        }
    }

    /// Answers the batches whose rows are seen, and those that waited too long (or all, when
    /// the follower stops).
    fn answer(&mut self, all: bool) {
        let seen = self.seen.position;
        let last_error = self.last_error.clone();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(since, pending)| {
                all || pending.target <= seen || since.elapsed() >= PROJECTION_PATIENCE
            });
        self.waiting = waiting;
        for (_, pending) in ready {
            let projected = pending.target <= seen;
            for (reply, answers) in pending.replies {
                let answers = if projected {
                    answers
                } else {
                    let reason = format!(
                        "the events are stored, but this replica's projections are behind \
                         (at position {seen}{})",
                        last_error
                            .as_deref()
                            .map(|error| format!(": {error}"))
                            .unwrap_or_default()
                    );
                    answers
                        .into_iter()
                        .map(|answer| {
                            answer.and_then(|_| {
                                Err(LogError::Unavailable {
                                    reason: reason.clone(),
                                })
                            })
                        })
                        .collect()
                };
                let _ = reply.send(answers);
            }
        }
    }
}

/// Projects rows in one SQLite transaction: the projector sees each run of one stream's
/// consecutive rows (what one request appended, or several requests to the same stream),
/// and the follower's position moves with them.
fn project(
    projection: &mut LocalProjection,
    events: &[RecordedEvent],
    head: Head,
) -> Result<(), LogError> {
    let transaction = projection
        .connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite("begin projection transaction"))?;
    for run in events.chunk_by(|a, b| a.stream_id == b.stream_id) {
        projection.projector.apply(&transaction, run)?;
    }
    transaction
        .execute(
            "INSERT INTO log_follower (id, position, hash) VALUES (1, ?1, ?2) \
             ON CONFLICT(id) DO UPDATE SET position = excluded.position, hash = excluded.hash",
            rusqlite::params![head.position, &head.hash[..]],
        )
        .map_err(sqlite("record the projected position"))?;
    transaction
        .commit()
        .map_err(sqlite("commit projection transaction"))?;
    projection.projector.after_commit(&projection.connection);
    Ok(())
}
