//! The PostgreSQL writer: a thread that drains queued requests into one transaction under
//! the append lock, decides repeats and conflicts in memory, inserts every accepted row in
//! one statement, commits, and hands the answers to the follower, which gives them out once
//! the rows are in the local projections.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};

use chrono::Utc;
use postgres::Client;
use uuid::Uuid;

use super::{connect, read_head, Pending, APPEND_LOCK, CHANNEL};
use crate::canonical::{
    chain_hash, finish_digest, format_timestamp, truncate_to_micros, WriterFields,
};
use crate::error::{pg, LogError};
use crate::event::AppendOutcome;
use crate::options::LogOptions;
use crate::prepare::PreparedRequest;
use crate::writer::{next_batch, WriterCommand};
use crate::Head;

/// The writer thread's state.
pub(crate) struct PgWriter {
    pub url: String,
    pub client: Option<Client>,
    pub options: LogOptions,
    /// Where committed batches go to be answered.
    pub follower: Sender<Pending>,
}

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
            let (answers, target) = match self.append_batch(&requests) {
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

    fn client(&mut self) -> Result<&mut Client, LogError> {
        match &mut self.client {
            Some(client) if !client.is_closed() => {}
            _ => self.client = Some(connect(&self.url)?),
        }
        self.client.as_mut().ok_or(LogError::Closed)
    }

    /// Appends a batch in one transaction. Returns each request's result and the head after
    /// the commit; an `Err` means the whole batch failed (nothing of it is stored, or, when the
    /// commit's answer was lost, possibly everything: callers repeat with the same event ids).
    #[allow(clippy::type_complexity)]
    fn append_batch(
        &mut self,
        batch: &[Vec<PreparedRequest>],
    ) -> Result<(Vec<Vec<Result<AppendOutcome, LogError>>>, Head), LogError> {
        let client = self.client()?;
        let mut transaction = client
            .transaction()
            .map_err(pg("begin append transaction"))?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])
            .map_err(pg("take the append lock"))?;
        let start = read_head(&mut transaction)?;
        let mut head = start;

        // What the database already holds for this batch's event ids and streams.
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

        let recorded_at = truncate_to_micros(Utc::now());
        let recorded_at_text = format_timestamp(&recorded_at);
        let mut columns = Columns::default();
        let mut results = Vec::with_capacity(batch.len());
        for requests in batch {
            let mut answers = Vec::with_capacity(requests.len());
            for request in requests {
                answers.push(decide(
                    request,
                    &mut stored,
                    &mut versions,
                    &mut head,
                    &recorded_at_text,
                    &mut columns,
                ));
            }
            results.push(answers);
        }
        if head.position != start.position {
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
                    &[&CHANNEL, &head.position.to_string()],
                )
                .map_err(pg("notify followers"))?;
        }
        transaction
            .commit()
            .map_err(pg("commit append transaction"))?;
        Ok((results, head))
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
        let digest = finish_digest(
            event.digest_prefix.clone(),
            &WriterFields {
                stream_version: version,
                position,
                recorded_at: recorded_at_text,
            },
        );
        let hash = chain_hash(&head.hash, &digest);
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
