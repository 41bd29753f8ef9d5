//! The ports of every process the harness starts, and what it does when one is taken anyway.
//!
//! A port the harness chose is free when chosen, but the process that is to bind it binds it
//! a moment later; in between another test (nextest runs each test as a process of its own,
//! in parallel) could take it. Three things close that window:
//!
//! 1. **Outside the kernel's ephemeral range.** [`free_port`] picks at random among the ports
//!    from 20000 up that `/proc/sys/net/ipv4/ip_local_port_range` leaves out, so no `bind` to
//!    port 0 and no outgoing connection (whose local port the kernel picks from that range)
//!    of any process can take it. Where that range leaves too few, it asks the kernel (port 0).
//! 2. **Reserved across test processes.** Each port handed out is locked (`flock`) in a file
//!    of its own under `<temp>/cloop-e2e-ports/` until the test process ends, so no other
//!    process of this harness hands it out meanwhile, and this process never hands it out
//!    twice. The lock files are left in place (empty): removing a file another process may
//!    be locking would let two processes lock the same port.
//! 3. **Started again on fresh ports.** When a start fails because an address is in use
//!    anyway (the process exits or stays unready, and what it wrote since it started says so;
//!    see [`address_in_use`]), the harness takes fresh ports and starts it again, up to
//!    [`START_ATTEMPTS`] times; an address the scenario fixed itself stays fixed, and a
//!    restart of a running scenario's service keeps its address.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Seek, SeekFrom};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Child;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

/// How many times the harness starts a process whose address was in use before it gives up.
pub const START_ATTEMPTS: usize = 5;

/// The lowest port [`free_port`] picks outside the ephemeral range.
const LOWEST: u16 = 20_000;

/// Below this many candidate ports the harness asks the kernel instead.
const FEWEST_CANDIDATES: usize = 1_000;

/// The ports this process has handed out, each with the locked file that reserves it (none
/// where the file could not be made).
fn reserved() -> MutexGuard<'static, HashMap<u16, Option<File>>> {
    static RESERVED: LazyLock<Mutex<HashMap<u16, Option<File>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    RESERVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

thread_local! {
    /// Ports to hand out next on this thread, unchecked (see [`hand_out_next`]).
    static NEXT: RefCell<VecDeque<u16>> = const { RefCell::new(VecDeque::new()) };
}

/// The ports from [`LOWEST`] up that the kernel does not hand out by itself, or `None` when
/// its ephemeral range is unknown or leaves too few.
fn candidates() -> Option<Vec<u16>> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut bounds = text.split_whitespace().map(str::parse::<u16>);
    let (low, high) = (bounds.next()?.ok()?, bounds.next()?.ok()?);
    let ports: Vec<u16> = (LOWEST..=u16::MAX)
        .filter(|port| !(low..=high).contains(port))
        .collect();
    (ports.len() >= FEWEST_CANDIDATES).then_some(ports)
}

/// A random number (the standard library's per-process random hasher keys).
fn random() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(u64::from(std::process::id()));
    hasher.finish()
}

/// Locks the reservation file of `port`; `None` when another process holds it. A folder or
/// file that cannot be made leaves the port unreserved across processes (still checked free).
fn lock(port: u16) -> Result<Option<File>, ()> {
    let dir = std::env::temp_dir().join("cloop-e2e-ports");
    if std::fs::create_dir_all(&dir).is_err() {
        return Ok(None);
    }
    let Ok(file) = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{port}.lock")))
    else {
        return Ok(None);
    };
    // SAFETY: `flock` only acts on the descriptor `file` owns, which outlives the call.
    #[allow(unsafe_code)]
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if locked {
        return Ok(Some(file));
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EWOULDBLOCK) => Err(()),
        _ => Ok(None),
    }
}

/// A TCP port on 127.0.0.1 that nothing listened on when it was chosen, reserved for this
/// test process (see the module documentation): this process never hands it out again, and
/// no other process of the harness hands it out while this one lives.
pub fn free_port() -> u16 {
    let mut reserved = reserved();
    if let Some(port) = NEXT.with(|next| next.borrow_mut().pop_front()) {
        reserved.entry(port).or_insert(None);
        return port;
    }
    let candidates = candidates();
    for _ in 0..10_000 {
        let port = match &candidates {
            Some(ports) => ports[(random() % ports.len() as u64) as usize],
            None => TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("bind an ephemeral port")
                .port(),
        };
        if reserved.contains_key(&port) {
            continue;
        }
        let Ok(file) = lock(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            reserved.insert(port, file);
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 after 10000 tries")
}

/// For the harness's self-tests: the next [`free_port`] calls on this thread return these
/// ports, in order, without checking them, so that a test can hold one and watch the harness
/// collide with it.
pub fn hand_out_next(ports: &[u16]) {
    NEXT.with(|next| next.borrow_mut().extend(ports));
}

/// Whether a process's output says that an address it wanted was taken: Rust's and Go's
/// `address already in use` (intake, workflow, nats-server, ...) and PostgreSQL's
/// `Address already in use`.
pub fn address_in_use(output: &str) -> bool {
    output
        .to_ascii_lowercase()
        .contains("address already in use")
}

/// Why a process the harness started does not listen.
#[derive(Debug)]
pub struct StartFailure {
    /// What the process wrote since it was started says that an address was in use.
    pub address_in_use: bool,
    /// What happened, with the process's output, for the panic message.
    pub message: String,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

/// The length of the file at `path` (0 when there is none): where the output of a start
/// begins in a log that restarts append to.
pub fn log_length(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

/// What the file at `path` holds from byte `from` on (empty when it cannot be read).
pub fn log_since(path: &Path, from: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = File::open(path) {
        if file.seek(SeekFrom::Start(from)).is_ok() {
            let _ = file.read_to_end(&mut text);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Whether the process `pid` itself listens on the port of `address`: a socket of its own (in
/// `/proc/<pid>/fd`) is the listening socket of that port (`/proc/net/tcp`, `tcp6`). Another
/// process that holds the port would answer a connection just as well, so connecting proves
/// nothing. Where `/proc` cannot be read, whether anything accepts connections there.
pub fn listens_on(pid: u32, address: &str) -> bool {
    let Some(port) = address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
    else {
        return TcpStream::connect(address).is_ok();
    };
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return TcpStream::connect(address).is_ok();
    };
    let listening = listening_inodes(port);
    if listening.is_empty() {
        return false;
    }
    fds.filter_map(Result::ok).any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let target = target.to_string_lossy();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inode| inode.parse::<u64>().ok())
                .is_some_and(|inode| listening.contains(&inode))
        })
    })
}

/// The inodes of the sockets that listen on `port` (any local address), from the kernel's
/// TCP tables: columns `local_address` (`ADDR:PORT`, hexadecimal), `st` (`0A` = LISTEN) and
/// `inode`.
fn listening_inodes(port: u16) -> Vec<u64> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let columns: Vec<&str> = line.split_whitespace().collect();
                    let local_port = columns.get(1)?.rsplit_once(':')?.1;
                    let listens = u16::from_str_radix(local_port, 16).ok() == Some(port)
                        && *columns.get(3)? == "0A";
                    listens.then(|| columns.get(9)?.parse().ok()).flatten()
                })
                .collect::<Vec<u64>>()
        })
        .collect()
}

/// Waits until the process `child` called `name` listens at `address` itself (see
/// [`listens_on`]); it writes to `log` (from byte `log_from` on for this start). Fails when
/// the process exits first, when its output says an address is in use (it is killed then),
/// or after `timeout`; the failure carries the output of this start.
pub fn wait_child_listening(
    name: &str,
    child: &mut Child,
    address: &str,
    timeout: Duration,
    (log, log_from): (&Path, u64),
) -> Result<(), StartFailure> {
    let mut exited = None;
    let mut in_use = false;
    let ready = crate::wait_until(timeout, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        if listens_on(child.id(), address) {
            return true;
        }
        in_use = address_in_use(&log_since(log, log_from));
        in_use
    });
    let output = log_since(log, log_from);
    let message = match exited {
        Some(status) => format!("{name} exited with {status}:\n{output}"),
        None if in_use => {
            let _ = child.kill();
            let _ = child.wait();
            format!("{name} could not bind an address:\n{output}")
        }
        None if ready => return Ok(()),
        None => format!("{name} did not listen on {address} in {timeout:?}:\n{output}"),
    };
    Err(StartFailure {
        address_in_use: address_in_use(&output),
        message,
    })
}

/// Runs `start` (given the attempt, from 1) until it succeeds. When it fails because an
/// address was in use, it runs again, up to [`START_ATTEMPTS`] times: from the second attempt
/// on, `start` takes fresh ports first, or pauses where its addresses must stay. Any other
/// failure, or the last, panics with what the process wrote.
pub fn start_retrying(name: &str, mut start: impl FnMut(usize) -> Result<(), StartFailure>) {
    for attempt in 1..=START_ATTEMPTS {
        match start(attempt) {
            Ok(()) => return,
            Err(failure) if failure.address_in_use && attempt < START_ATTEMPTS => {
                eprintln!("{name}: an address was in use (attempt {attempt}), starting again");
            }
            Err(failure) => panic!("{failure}"),
        }
    }
}

/// The pause before a restart that must keep its addresses tries again.
pub const SAME_ADDRESS_PAUSE: Duration = Duration::from_millis(500);
