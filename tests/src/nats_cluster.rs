//! The three-node JetStream cluster of `deploy/nats/`, on free loopback ports.

use crate::ports::{
    log_length, start_retrying, wait_child_listening, StartFailure, SAME_ADDRESS_PAUSE,
    START_ATTEMPTS,
};
use crate::{free_port, nats_server_binary, wait_until, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One node's addresses as the committed file `deploy/nats/cluster-node<N>.conf` has them.
#[derive(Debug, Clone)]
struct NodeFile {
    text: String,
    server_name: String,
    client: String,
    monitor: String,
    cluster: String,
    store_dir: String,
}

/// The value of the first `key: value` line in `text` after `after` (a line that starts a
/// block, or "" for the top level), quotes removed.
fn conf_value(text: &str, after: &str, key: &str) -> Option<String> {
    let start = if after.is_empty() {
        0
    } else {
        text.find(after)?
    };
    text[start..].lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix(key)?.trim_start();
        let value = rest.strip_prefix(':')?.trim();
        Some(value.trim_matches('"').to_owned())
    })
}

fn read_node_file(path: &Path) -> NodeFile {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    // The top-level `listen` comes before the `cluster {` block, which has its own.
    let top = text.split("cluster {").next().unwrap_or_default();
    let value = |found: Option<String>, what: &str| {
        found.unwrap_or_else(|| panic!("{}: no {what}", path.display()))
    };
    NodeFile {
        server_name: value(conf_value(top, "", "server_name"), "server_name"),
        client: value(conf_value(top, "", "listen"), "listen"),
        monitor: value(conf_value(top, "", "http"), "http"),
        cluster: value(conf_value(&text, "cluster {", "listen"), "cluster listen"),
        store_dir: value(conf_value(&text, "jetstream {", "store_dir"), "store_dir"),
        text,
    }
}

/// A test password for every `$CLOOP_NATS_<NAME>_PASSWORD` a nats-server configuration
/// reads from its environment (`deploy/nats`): `(variable, password)`, the password being
/// `e2e-<name>` in lower case (e.g. `CLOOP_NATS_INTAKE_PASSWORD` → `e2e-intake`).
pub fn identity_passwords(config: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for piece in config.split('$').skip(1) {
        let name: String = piece
            .chars()
            .take_while(|symbol| symbol.is_ascii_alphanumeric() || *symbol == '_')
            .collect();
        if let Some(identity) = name
            .strip_prefix("CLOOP_NATS_")
            .and_then(|rest| rest.strip_suffix("_PASSWORD"))
        {
            let password = format!("e2e-{}", identity.to_lowercase().replace('_', "-"));
            if !found.iter().any(|(known, _)| known == &name) {
                found.push((name, password));
            }
        }
    }
    found
}

/// A running node of a [`NatsCluster`].
struct ClusterNode {
    name: String,
    config: PathBuf,
    log: PathBuf,
    client_port: u16,
    monitor_port: u16,
    child: Option<Child>,
    /// Where the output of the latest start begins in the log.
    log_from: u64,
}

/// A three-node JetStream cluster started from the committed configuration files
/// `deploy/nats/cluster-node{1,2,3}.conf`: each file is read and only its addresses are
/// changed (client, cluster and monitoring ports to free ports, routes to the chosen cluster
/// ports, `store_dir` to a temporary folder), so the settings that run are the ones deployed.
/// Nodes can be killed (SIGKILL) and started again with the same ports and store; all are
/// killed when dropped.
pub struct NatsCluster {
    nodes: Vec<ClusterNode>,
    dir: tempfile::TempDir,
    /// The environment of every node: the passwords its file reads and the routes.
    env: Vec<(String, String)>,
}

impl NatsCluster {
    /// Starts `size` nodes (1 to 3: the committed files) and waits until every node sees the
    /// same JetStream meta leader, i.e. the cluster accepts streams. A free port can be taken
    /// by another test between choosing it and the node binding it: then the cluster is
    /// started again on new ports (see [`crate::ports`]).
    pub fn start(size: usize) -> Self {
        let mut attempt = 1;
        loop {
            match Self::start_once(size) {
                Ok(cluster) => return cluster,
                Err(failure) if failure.address_in_use && attempt < START_ATTEMPTS => {
                    eprintln!("NATS cluster: a chosen port was taken meanwhile, new ports");
                    attempt += 1;
                }
                Err(failure) => panic!("{failure}"),
            }
        }
    }

    fn start_once(size: usize) -> Result<Self, StartFailure> {
        assert!((1..=3).contains(&size), "deploy/nats has three node files");
        let dir = tempfile::Builder::new()
            .prefix("cloop-nats-cluster-")
            .tempdir()
            .expect("temp dir");
        let files: Vec<NodeFile> = (1..=size)
            .map(|node| {
                read_node_file(
                    &workspace_root().join(format!("deploy/nats/cluster-node{node}.conf")),
                )
            })
            .collect();
        // Every address of every file gets a free port; routes name the cluster addresses.
        let mut addresses: Vec<(String, String)> = Vec::new();
        for file in &files {
            for address in [&file.client, &file.monitor, &file.cluster] {
                let host = address
                    .rsplit_once(':')
                    .map_or("127.0.0.1", |(host, _)| host);
                addresses.push((address.clone(), format!("{host}:{}", free_port())));
            }
        }
        let mut nodes = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let store = dir.path().join(format!("node{}", index + 1));
            std::fs::create_dir_all(&store).expect("store folder");
            let mut text = file.text.replace(
                &format!("\"{}\"", file.store_dir),
                &format!("\"{}\"", store.join("js").display()),
            );
            assert_ne!(
                text, file.text,
                "store_dir of {} not replaced",
                file.server_name
            );
            for (from, to) in &addresses {
                // `127.0.0.1:4222` must not match inside `127.0.0.1:42220`.
                text = replace_address(&text, from, to);
            }
            // Routes come from the environment (`$CLOOP_NATS_ROUTE_<n>`, they carry the route
            // password); those of nodes that are not started are dropped.
            let text: String = text
                .lines()
                .filter(|line| {
                    !(size + 1..=3).any(|node| line.trim() == format!("$CLOOP_NATS_ROUTE_{node}"))
                })
                .map(|line| format!("{line}\n"))
                .collect();
            // The cluster scenarios are about failover, not identities (`nats_security` tests
            // those on the same permissions): clients without credentials are `admin` here.
            let text = format!("{text}\nno_auth_user: admin\n");
            let port_of = |address: &str| -> u16 {
                let mapped = &addresses
                    .iter()
                    .find(|(from, _)| from == address)
                    .expect("mapped address")
                    .1;
                mapped
                    .rsplit_once(':')
                    .and_then(|(_, port)| port.parse().ok())
                    .expect("port")
            };
            let config = store.join("nats.conf");
            std::fs::write(&config, text).expect("write node config");
            nodes.push(ClusterNode {
                name: file.server_name.clone(),
                log: store.join("nats-server.log"),
                config,
                client_port: port_of(&file.client),
                monitor_port: port_of(&file.monitor),
                child: None,
                log_from: 0,
            });
        }
        // Every password the files name, and each node's route with the route password.
        let mut env = identity_passwords(&files[0].text);
        let route_password = env
            .iter()
            .find(|(name, _)| name == "CLOOP_NATS_ROUTE_PASSWORD")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        for (index, file) in files.iter().enumerate() {
            let mapped = &addresses
                .iter()
                .find(|(from, _)| from == &file.cluster)
                .expect("mapped cluster address")
                .1;
            env.push((
                format!("CLOOP_NATS_ROUTE_{}", index + 1),
                format!("nats-route://route:{route_password}@{mapped}"),
            ));
        }
        let mut cluster = Self { nodes, dir, env };
        for index in 0..cluster.nodes.len() {
            cluster.spawn(index);
        }
        for index in 0..cluster.nodes.len() {
            cluster.listening(index)?;
        }
        assert!(
            cluster.wait_meta_leader(Duration::from_secs(60)),
            "no JetStream meta leader within 60 s:\n{}",
            cluster.logs()
        );
        Ok(cluster)
    }

    fn spawn(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        assert!(node.child.is_none(), "{} is already running", node.name);
        node.log_from = log_length(&node.log);
        let child = Command::new(nats_server_binary())
            .envs(self.env.iter().cloned())
            .args(["-c", &node.config.to_string_lossy()])
            .args(["-l", &node.log.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "start {}: {error} (run `make tools`)",
                    nats_server_binary().display()
                )
            });
        node.child = Some(child);
    }

    /// Waits until node `index`, started again on its ports, takes clients; while its port
    /// is in use it is started again after a pause (see [`crate::ports`]).
    fn wait_listening(&mut self, index: usize) {
        let name = self.nodes[index].name.clone();
        start_retrying(&name, |attempt| {
            if attempt > 1 {
                std::thread::sleep(SAME_ADDRESS_PAUSE);
                self.spawn(index);
            }
            self.listening(index)
        });
    }

    /// Waits until node `index` takes clients; why not, with its log, when it exits first or
    /// does not within 30 s (the node is gone then).
    fn listening(&mut self, index: usize) -> Result<(), StartFailure> {
        let address = format!("127.0.0.1:{}", self.nodes[index].client_port);
        let node = &mut self.nodes[index];
        let child = node.child.as_mut().expect("node is running");
        let started = wait_child_listening(
            &node.name,
            child,
            &address,
            Duration::from_secs(30),
            (&node.log, node.log_from),
        );
        if started.is_err() {
            self.kill(index);
        }
        started
    }

    /// The number of nodes (running or not).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Every node's client URL, comma-separated: what `--nats-url` takes for a cluster.
    pub fn urls(&self) -> String {
        (0..self.nodes.len())
            .map(|index| self.url(index))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `nats://127.0.0.1:<port>` of node `index` (0-based).
    pub fn url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[index].client_port)
    }

    /// The `server_name` of node `index`, as in its file (`cloop-nats-1`, ...).
    pub fn name(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// The index of the node called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.name == name)
    }

    pub fn is_running(&self, index: usize) -> bool {
        self.nodes[index].child.is_some()
    }

    /// The body of `GET <path>` on node `index`'s monitoring port, parsed as JSON.
    pub fn monitor(&self, index: usize, path: &str) -> Option<serde_json::Value> {
        let address = format!("127.0.0.1:{}", self.nodes[index].monitor_port);
        let answer = crate::http::exchange(&address, "GET", path, &[], b"").ok()?;
        serde_json::from_str(&answer.body).ok()
    }

    /// The JetStream meta leader as node `index` sees it.
    pub fn meta_leader(&self, index: usize) -> Option<String> {
        let jsz = self.monitor(index, "/jsz")?;
        jsz["meta_cluster"]["leader"]
            .as_str()
            .filter(|leader| !leader.is_empty())
            .map(str::to_owned)
    }

    /// Waits until every running node names the same meta leader (a running node).
    pub fn wait_meta_leader(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let running: Vec<usize> = (0..self.nodes.len())
                .filter(|index| self.is_running(*index))
                .collect();
            let leaders: Vec<Option<String>> = running
                .iter()
                .map(|index| self.meta_leader(*index))
                .collect();
            match leaders.first() {
                Some(Some(leader)) => {
                    leaders.iter().all(|other| other.as_ref() == Some(leader))
                        && self.index_of(leader).is_some_and(|at| self.is_running(at))
                }
                _ => false,
            }
        })
    }

    /// The stream as node `index` holds it, from `/jsz` (any account): `cluster` (`leader`,
    /// `replicas`) and `state` (`messages`, `first_seq`, `last_seq`, ...) of its own copy.
    pub fn stream_detail(&self, index: usize, stream: &str) -> Option<serde_json::Value> {
        let jsz = self.monitor(index, "/jsz?streams=true")?;
        jsz["account_details"]
            .as_array()?
            .iter()
            .filter_map(|account| account["stream_detail"].as_array())
            .flatten()
            .find(|detail| detail["name"] == stream)
            .cloned()
    }

    fn stream_cluster_at(&self, index: usize, stream: &str) -> Option<serde_json::Value> {
        self.stream_detail(index, stream)
            .map(|detail| detail["cluster"].clone())
    }

    /// The stream's cluster information as its leader reports it: `leader`, and `replicas`,
    /// the other nodes with `current` (caught up) and `lag`. Only the leader's view of the
    /// replicas is reliable, so it is asked.
    pub fn stream_cluster(&self, stream: &str) -> Option<serde_json::Value> {
        let leader = (0..self.nodes.len())
            .filter(|index| self.is_running(*index))
            .find_map(|index| {
                let cluster = self.stream_cluster_at(index, stream)?;
                let name = cluster["leader"].as_str()?;
                self.index_of(name)
            })?;
        if !self.is_running(leader) {
            return None;
        }
        self.stream_cluster_at(leader, stream)
            .filter(|cluster| cluster["leader"].as_str() == Some(self.name(leader)))
    }

    /// The index of the node that leads `stream` now.
    pub fn stream_leader(&self, stream: &str) -> Option<usize> {
        let cluster = self.stream_cluster(stream)?;
        self.index_of(cluster["leader"].as_str()?)
    }

    /// Kills node `index` with SIGKILL.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `index` again with the same ports and store, and waits until it listens
    /// and agrees with the others on the meta leader.
    pub fn restart(&mut self, index: usize) {
        self.spawn(index);
        self.wait_listening(index);
        assert!(
            self.wait_meta_leader(Duration::from_secs(60)),
            "no common JetStream meta leader 60 s after restarting {}:\n{}",
            self.nodes[index].name,
            self.logs()
        );
    }

    /// The tails of every node's log, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|node| {
                let log = std::fs::read_to_string(&node.log).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                format!(
                    "--- {} ---\n{}",
                    node.name,
                    lines[lines.len().saturating_sub(20)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The folder with every node's configuration, store and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Replaces `from` (a `host:port`) by `to` wherever it is not followed by another digit.
fn replace_address(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let after = &rest[at + from.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.kill(index);
        }
    }
}
