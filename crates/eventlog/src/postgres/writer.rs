//! The PostgreSQL writer: a thread that drains queued requests into one transaction under
//! the append lock, decides repeats and conflicts in memory, inserts every accepted row in
//! one statement, commits, and hands the answers to the follower, which gives them out once
//! the rows are in the local projections.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::mpsc::{Receiver, Sender};

use chrono::{DateTime, Utc};
use postgres::{Client, Transaction};
use uuid::Uuid;

use super::{
    append_transaction, connect, read_head, row_to_event, Pending, CHANNEL, EVENT_COLUMNS,
};
use crate::canonical::{format_timestamp, truncate_to_micros};
use crate::error::{pg, LogError};
use crate::event::{AppendOutcome, RecordedEvent};
use crate::options::LogOptions;
use crate::prepare::PreparedRequest;
use crate::projector::SharedProjector;
use crate::writer::{next_batch, WriterCommand};
use crate::Head;

/// The writer thread's state.
pub(crate) struct PgWriter {
    pub url: String,
    pub client: Option<Client>,
    pub options: LogOptions,
    /// Where committed batches go to be answered.
    pub follower: Sender<Pending>,
    /// The projections kept in the database, updated in the append transaction.
    pub shared: Option<Box<dyn SharedProjector>>,
}

/// Why an append transaction did not commit.
enum BatchError {
    /// The shared projector refused the rows of one request (its index in the batch): the
    /// batch is appended again without it.
    Refused((usize, usize), LogError),
    /// The whole batch failed.
    Failed(LogError),
}

impl From<LogError> for BatchError {
    fn from(error: LogError) -> Self {
        BatchError::Failed(error)
    }
}

/// The answers of a batch, one vector per caller.
type BatchAnswers = Vec<Vec<Result<AppendOutcome, LogError>>>;

/// Where an event id is stored (in the database or earlier in the same batch).
#[derive(Clone)]
struct Stored {
    stream_id: String,
    position: u64,
    stream_version: u64,
}

/// The columns of the rows one batch inserts, one vector per column.
#[derive(Default)]
struct Columns {
    position: Vec<i64>,
    stream_id: Vec<String>,
    stream_version: Vec<i64>,
    event_id: Vec<Uuid>,
    event_type: Vec<String>,
    schema_version: Vec<i32>,
    occurred_at: Vec<String>,
    actor: Vec<String>,
    correlation_id: Vec<Option<String>>,
    causation_id: Vec<Option<String>>,
    payload: Vec<String>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
}

const INSERT_ROWS: &str = "INSERT INTO events (position, stream_id, stream_version, event_id, \
     event_type, schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, \
     payload, prev_hash, hash) \
     SELECT p, s, v, e, t, sv, o, $8, a, c, ca, pl, ph, h FROM UNNEST( \
     $1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::integer[], \
     $7::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[], $14::bytea[]) \
     AS u(p, s, v, e, t, sv, o, a, c, ca, pl, ph, h)";

impl PgWriter {
    /// Runs until every sender is gone and the queue is drained.
    pub fn run(mut self, receiver: Receiver<WriterCommand>) {
        while let Some(batch) = next_batch(&receiver, &self.options) {
            let (requests, replies): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|command| (command.requests, command.reply))
                .unzip();
            let (answers, target) = match self.append_refusing(&requests) {
                Ok((answers, head)) => (answers, head.position),
                Err(error) => {
                    if self.client.as_ref().is_some_and(Client::is_closed) {
                        self.client = None;
                    }
                    let answers = requests
                        .iter()
                        .map(|command| vec![Err(error.clone()); command.len()])
                        .collect();
                    (answers, 0)
                }
            };
            let pending = Pending {
                target,
                replies: replies.into_iter().zip(answers).collect(),
            };
            if let Err(unsent) = self.follower.send(pending) {
                // The follower has stopped: answer directly.
                for (reply, answers) in unsent.0.replies {
                    let _ = reply.send(answers);
                }
            }
        }
    }

    /// Appends a batch; a request the shared projector refuses is answered with its error
    /// and the batch is appended again without it (each round drops one more request, so
    /// this ends).
    fn append_refusing(
        &mut self,
        batch: &[Vec<PreparedRequest>],
    ) -> Result<(BatchAnswers, Head), LogError> {
        let mut refused: HashMap<(usize, usize), LogError> = HashMap::new();
        loop {
            match self.append_batch(batch, &refused) {
                Ok(done) => return Ok(done),
                Err(BatchError::Failed(error)) => return Err(error),
                Err(BatchError::Refused(index, error)) => {
                    refused.insert(index, error);
                }
            }
        }
    }

    /// Appends a batch in one transaction, answering the requests in `refused` with their
    /// error. Returns each request's result and the head after the commit; `Failed` means
    /// the whole batch failed (nothing of it is stored, or, when the commit's answer was
    /// lost, possibly everything: callers repeat with the same event ids).
    fn append_batch(
        &mut self,
        batch: &[Vec<PreparedRequest>],
        refused: &HashMap<(usize, usize), LogError>,
    ) -> Result<(BatchAnswers, Head), BatchError> {
        let client = client_of(&mut self.client, &self.url)?;
        let mut transaction = append_transaction(client, "begin append transaction")?;
        let start = read_head(&mut transaction)?;
        let mut decided = Decided {
            stored: stored_events(&mut transaction, batch)?,
            versions: stream_versions(&mut transaction, batch)?,
            head: start,
            recorded_at: truncate_to_micros(Utc::now()),
            columns: Columns::default(),
            appended: Vec::new(),
        };
        let results = decided.decide_batch(batch, refused);
        let head = decided.head;
        if head.position != start.position {
            decided.insert(&mut transaction)?;
            if let Some(shared) = self.shared.as_deref_mut() {
                catch_up_within(shared, &mut transaction, start.position)?;
                decided.apply_shared(shared, &mut transaction, batch)?;
            }
        }
        transaction
            .commit()
            .map_err(pg("commit append transaction"))?;
        if head.position != start.position {
            if let Some(shared) = self.shared.as_deref_mut() {
                shared.after_commit();
            }
        }
        Ok((results, head))
    }
}

/// What the database already holds for the event ids of `batch`.
fn stored_events(
    transaction: &mut Transaction<'_>,
    batch: &[Vec<PreparedRequest>],
) -> Result<HashMap<Uuid, Stored>, LogError> {
    let event_ids: Vec<Uuid> = batch
        .iter()
        .flatten()
        .flat_map(|request| request.events.iter().map(|event| event.event_id))
        .collect();
    let mut stored: HashMap<Uuid, Stored> = HashMap::new();
    for row in transaction
        .query(
            "SELECT event_id, stream_id, position, stream_version FROM events \
             WHERE event_id = ANY($1)",
            &[&event_ids],
        )
        .map_err(pg("look up event ids"))?
    {
        let event_id: Uuid = row.try_get(0).map_err(pg("look up event ids"))?;
        let position: i64 = row.try_get(2).map_err(pg("look up event ids"))?;
        let version: i64 = row.try_get(3).map_err(pg("look up event ids"))?;
        stored.insert(
            event_id,
            Stored {
                stream_id: row.try_get(1).map_err(pg("look up event ids"))?,
                position: u64::try_from(position).unwrap_or(0),
                stream_version: u64::try_from(version).unwrap_or(0),
            },
        );
    }
    Ok(stored)
}

/// The current version of each stream `batch` appends to.
fn stream_versions(
    transaction: &mut Transaction<'_>,
    batch: &[Vec<PreparedRequest>],
) -> Result<HashMap<String, u64>, LogError> {
    let mut stream_ids: Vec<&str> = batch
        .iter()
        .flatten()
        .map(|request| request.stream_id.as_str())
        .collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    let mut versions: HashMap<String, u64> = HashMap::new();
    for row in transaction
        .query(
            "SELECT stream_id, MAX(stream_version) FROM events WHERE stream_id = ANY($1) \
             GROUP BY stream_id",
            &[&stream_ids],
        )
        .map_err(pg("read stream versions"))?
    {
        let version: i64 = row.try_get(1).map_err(pg("read stream versions"))?;
        versions.insert(
            row.try_get(0).map_err(pg("read stream versions"))?,
            u64::try_from(version).unwrap_or(0),
        );
    }
    Ok(versions)
}

/// A batch being decided: what is stored, the rows it appends and which request each is of.
struct Decided {
    stored: HashMap<Uuid, Stored>,
    versions: HashMap<String, u64>,
    head: Head,
    recorded_at: DateTime<Utc>,
    columns: Columns,
    /// The requests that appended rows, and where their rows are in `columns`.
    appended: Vec<((usize, usize), Range<usize>)>,
}

impl Decided {
    /// Decides every request of `batch` in order: each one's answer.
    fn decide_batch(
        &mut self,
        batch: &[Vec<PreparedRequest>],
        refused: &HashMap<(usize, usize), LogError>,
    ) -> BatchAnswers {
        let recorded_at_text = format_timestamp(&self.recorded_at);
        let mut results = Vec::with_capacity(batch.len());
        for (caller, requests) in batch.iter().enumerate() {
            let mut answers = Vec::with_capacity(requests.len());
            for (index, request) in requests.iter().enumerate() {
                if let Some(error) = refused.get(&(caller, index)) {
                    answers.push(Err(error.clone()));
                    continue;
                }
                let first_row = self.columns.position.len();
                let answer = decide(
                    request,
                    &mut self.stored,
                    &mut self.versions,
                    &mut self.head,
                    &recorded_at_text,
                    &mut self.columns,
                );
                if self.columns.position.len() > first_row {
                    self.appended
                        .push(((caller, index), first_row..self.columns.position.len()));
                }
                answers.push(answer);
            }
            results.push(answers);
        }
        results
    }

    /// Inserts the appended rows and tells the followers the new head.
    fn insert(&self, transaction: &mut Transaction<'_>) -> Result<(), LogError> {
        let columns = &self.columns;
        let recorded_at_text = format_timestamp(&self.recorded_at);
        transaction
            .execute(
                INSERT_ROWS,
                &[
                    &columns.position,
                    &columns.stream_id,
                    &columns.stream_version,
                    &columns.event_id,
                    &columns.event_type,
                    &columns.schema_version,
                    &columns.occurred_at,
                    &recorded_at_text,
                    &columns.actor,
                    &columns.correlation_id,
                    &columns.causation_id,
                    &columns.payload,
                    &columns.prev_hash,
                    &columns.hash,
                ],
            )
            .map_err(pg("insert events"))?;
        transaction
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANNEL, &self.head.position.to_string()],
            )
            .map_err(pg("notify followers"))?;
        Ok(())
    }

    /// Applies the appended rows to the shared projections in the same transaction.
    fn apply_shared(
        &self,
        shared: &mut dyn SharedProjector,
        transaction: &mut Transaction<'_>,
        batch: &[Vec<PreparedRequest>],
    ) -> Result<(), BatchError> {
        let requests: Vec<Vec<RecordedEvent>> = self
            .appended
            .iter()
            .map(|((caller, index), rows)| {
                recorded_rows(
                    &batch[*caller][*index],
                    &self.columns,
                    rows,
                    self.recorded_at,
                )
            })
            .collect();
        match shared.apply_all(transaction, &requests) {
            Ok(()) => Ok(()),
            Err((failed, error @ LogError::Projector { .. })) => {
                let index = self
                    .appended
                    .get(failed)
                    .map(|(index, _)| *index)
                    .ok_or_else(|| LogError::Corrupt {
                        reason: format!(
                            "the shared projector refused request {failed} of {}",
                            self.appended.len()
                        ),
                    })?;
                Err(BatchError::Refused(index, error))
            }
            // The database or the key store failed, not the request: the batch fails as a
            // whole and its callers repeat it.
            Err((_, error)) => Err(BatchError::Failed(error)),
        }
    }
}

/// The writer's connection, opened again when it broke.
fn client_of<'a>(slot: &'a mut Option<Client>, url: &str) -> Result<&'a mut Client, LogError> {
    match slot {
        Some(client) if !client.is_closed() => {}
        _ => *slot = Some(connect(url)?),
    }
    slot.as_mut().ok_or(LogError::Closed)
}

/// The rows `request` appended, as readers will read them.
fn recorded_rows(
    request: &PreparedRequest,
    columns: &Columns,
    rows: &Range<usize>,
    recorded_at: DateTime<Utc>,
) -> Vec<RecordedEvent> {
    rows.clone()
        .zip(&request.events)
        .map(|(row, event)| RecordedEvent {
            position: u64::try_from(columns.position[row]).unwrap_or(0),
            stream_id: request.stream_id.clone(),
            stream_version: u64::try_from(columns.stream_version[row]).unwrap_or(0),
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            occurred_at: event.occurred_at,
            recorded_at,
            actor_json: event.actor_json.clone(),
            correlation_id: event.correlation_id.clone(),
            causation_id: event.causation_id.clone(),
            payload_json: event.payload_json.clone(),
            prev_hash: to_hash(&columns.prev_hash[row]),
            hash: to_hash(&columns.hash[row]),
        })
        .collect()
}

fn to_hash(bytes: &[u8]) -> [u8; 32] {
    let mut hash = [0u8; 32];
    if bytes.len() == 32 {
        hash.copy_from_slice(bytes);
    }
    hash
}

/// Rows a catch-up reads and folds per step.
const CATCH_UP_ROWS: u64 = 2_000;

/// Folds into the shared projections the rows up to `through` they do not include yet
/// (appended by a handle without the projector, or imported), inside `transaction`.
/// Returns how many rows it folded.
fn catch_up_within(
    shared: &mut dyn SharedProjector,
    transaction: &mut Transaction<'_>,
    through: u64,
) -> Result<u64, LogError> {
    let projected = shared.position(transaction)?;
    if projected > through {
        return Err(LogError::Corrupt {
            reason: format!(
                "the shared projections include position {projected}, past the log's head \
                 {through}"
            ),
        });
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
         ORDER BY position"
    );
    let mut after = projected;
    while after < through {
        let until = through.min(after + CATCH_UP_ROWS);
        let rows = transaction
            .query(sql.as_str(), &[&to_i64(after), &to_i64(until)])
            .map_err(pg("read rows for the shared projections"))?
            .iter()
            .map(row_to_event)
            .collect::<Result<Vec<_>, _>>()?;
        if rows.len() as u64 != until - after {
            return Err(LogError::Corrupt {
                reason: format!("positions {} to {until} are not all stored", after + 1),
            });
        }
        for run in rows.chunk_by(|left, right| left.stream_id == right.stream_id) {
            shared.apply(transaction, run)?;
        }
        after = until;
    }
    Ok(through - projected)
}

/// Brings the shared projections up to the head before the writer takes requests, one
/// chunk per transaction (under the append lock, so appends from other processes wait for
/// one chunk at most). Returns how many rows it folded.
pub(crate) fn catch_up(
    client: &mut Client,
    shared: &mut dyn SharedProjector,
) -> Result<u64, LogError> {
    let mut folded = 0u64;
    let mut reported = std::time::Instant::now();
    loop {
        let mut transaction = append_transaction(client, "begin the shared projections' catch-up")?;
        let projected = shared.position(&mut transaction)?;
        let head = read_head(&mut transaction)?.position;
        if projected >= head {
            return Ok(folded);
        }
        let through = head.min(projected + 10 * CATCH_UP_ROWS);
        folded += catch_up_within(shared, &mut transaction, through)?;
        transaction
            .commit()
            .map_err(pg("commit the shared projections' catch-up"))?;
        shared.after_commit();
        if reported.elapsed() >= std::time::Duration::from_secs(2) {
            reported = std::time::Instant::now();
            tracing::info!(
                projected = through,
                head,
                "shared projections catching up with the log"
            );
        }
    }
}

/// Decides one request against what is stored and what the batch appended before it, and
/// adds its rows to `columns`.
fn decide(
    request: &PreparedRequest,
    stored: &mut HashMap<Uuid, Stored>,
    versions: &mut HashMap<String, u64>,
    head: &mut Head,
    recorded_at_text: &str,
    columns: &mut Columns,
) -> Result<AppendOutcome, LogError> {
    let (Some(first), Some(last)) = (request.events.first(), request.events.last()) else {
        return Err(LogError::invalid(
            "events",
            "at least one event is required",
        ));
    };
    if let Some(stored_first) = stored.get(&first.event_id) {
        if stored_first.stream_id != request.stream_id {
            return Err(LogError::DuplicateEventId {
                event_id: first.event_id,
                stored_stream_id: stored_first.stream_id.clone(),
            });
        }
        let stored_last = match stored.get(&last.event_id) {
            Some(stored_last) if stored_last.stream_id == request.stream_id => stored_last,
            _ => stored_first,
        };
        return Ok(AppendOutcome {
            first_position: stored_first.position,
            last_position: stored_last.position,
            stream_version: stored_last.stream_version,
            duplicate: true,
        });
    }
    let actual = versions.get(&request.stream_id).copied().unwrap_or(0);
    if !request.expected.accepts(actual) {
        return Err(LogError::Conflict {
            stream_id: request.stream_id.clone(),
            expected: request.expected,
            actual,
        });
    }
    if let Some((event_id, taken)) = request.events.iter().find_map(|event| {
        stored
            .get(&event.event_id)
            .map(|taken| (event.event_id, taken))
    }) {
        return Err(LogError::DuplicateEventId {
            event_id,
            stored_stream_id: taken.stream_id.clone(),
        });
    }
    let first_position = head.position + 1;
    let mut version = actual;
    for event in &request.events {
        let position = head.position + 1;
        version += 1;
        let hash = event.hash_at(&head.hash, position, version, recorded_at_text);
        columns.position.push(to_i64(position));
        columns.stream_id.push(request.stream_id.clone());
        columns.stream_version.push(to_i64(version));
        columns.event_id.push(event.event_id);
        columns.event_type.push(event.event_type.clone());
        columns
            .schema_version
            .push(i32::try_from(event.schema_version).unwrap_or(i32::MAX));
        columns.occurred_at.push(event.occurred_at_text.clone());
        columns.actor.push(event.actor_json.clone());
        columns.correlation_id.push(event.correlation_id.clone());
        columns.causation_id.push(event.causation_id.clone());
        columns.payload.push(event.payload_json.clone());
        columns.prev_hash.push(head.hash.to_vec());
        columns.hash.push(hash.to_vec());
        stored.insert(
            event.event_id,
            Stored {
                stream_id: request.stream_id.clone(),
                position,
                stream_version: version,
            },
        );
        *head = Head { position, hash };
    }
    versions.insert(request.stream_id.clone(), version);
    Ok(AppendOutcome {
        first_position,
        last_position: head.position,
        stream_version: version,
        duplicate: false,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
