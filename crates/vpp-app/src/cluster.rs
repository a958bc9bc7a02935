//! One node among several on one database: it says it is alive, and runs
//! each piece of singleton work (market clearing, the control loop,
//! ingestion, physical forecasts, the alert webhook) only while it holds
//! that work's lease. When the holder dies, another node takes the lease
//! once it expires, within the lease time and a third of it, and starts the
//! work; a holder that was paused past its lease finds the lease gone when
//! it wakes and stops the work, and the writes that matter (an auction's
//! clearing) are refused by their fence in between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use vpp_store::{ClusterNode, Fence, LeaseRow, Store};

use crate::AppResult;

/// Who this node is and how long it holds a lease without renewing it.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Node id, unique among the nodes on one database.
    pub id: String,
    /// Lease time; renewed every third of it.
    pub lease_ttl: Duration,
}

/// The host's name and a random suffix, so a restarted node is a new one.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".into());
    let id = vpp_store::new_id();
    format!("{host}-{}", &id[id.len() - 8..])
}

/// Stops a job when dropped.
pub type JobGuard = Box<dyn Send>;

/// A job that runs on the lease holder only: `start` is called with the
/// fence each time this node takes the lease, and what it returns is
/// dropped (stopping the job) when the node loses or gives the lease up.
pub struct SingletonJob {
    /// Lease name (`market`, `control`, …).
    pub lease: &'static str,
    /// Starts the job.
    pub start: Box<dyn Fn(Fence) -> JobGuard + Send + Sync>,
}

/// A spawned task that is aborted when this is dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The leases this node holds now, by name.
#[derive(Debug, Default)]
pub struct Held(Mutex<HashMap<String, Fence>>);

impl Held {
    fn set(&self, name: &str, fence: Option<Fence>) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match fence {
            Some(f) => held.insert(name.to_string(), f),
            None => held.remove(name),
        };
    }

    /// The names of the leases held.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }
}

/// A running node: stop it with [`Node::stop`] to give its leases up at once.
pub struct Node {
    /// Its id.
    pub id: String,
    /// The leases it holds.
    pub held: Arc<Held>,
    keeper: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Node {
    /// Stops the jobs, gives the leases up and says the node is gone, so
    /// another node takes over without waiting for the leases to expire.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.keeper.await;
    }
}

/// Starts the node: says it is alive every third of the lease time, and
/// takes or renews each job's lease then, starting the job when the lease
/// is taken and stopping it when it is lost. A database that cannot be
/// reached stops every job: the node cannot know it still holds a lease.
pub fn spawn_node(store: Arc<Store>, settings: NodeSettings, jobs: Vec<SingletonJob>) -> Node {
    let held = Arc::new(Held::default());
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let id = settings.id.clone();
    let keeper = {
        let held = held.clone();
        tokio::spawn(async move {
            let started = Timestamp::now();
            let ttl = SignedDuration::try_from(settings.lease_ttl).unwrap_or(SignedDuration::from_secs(10));
            let mut running: HashMap<&'static str, (Fence, JobGuard)> = HashMap::new();
            let version = env!("CARGO_PKG_VERSION");
            loop {
                let now = Timestamp::now();
                if let Err(e) = store.node_alive(&settings.id, version, started, now).await {
                    tracing::warn!(node = %settings.id, error = %e, "cannot tell the cluster this node is alive");
                }
                // Nodes silent for three lease times have stopped: their
                // imports and backtests will never finish.
                let gone = now - ttl * 3;
                let _ = store.forget_nodes(gone).await;
                match store.interrupt_import_jobs(gone, None).await {
                    Ok(0) | Err(_) => {}
                    Ok(n) => tracing::warn!(jobs = n, "import jobs of a stopped node are marked interrupted"),
                }
                match store.interrupt_stale_backtests(gone, None).await {
                    Ok(0) | Err(_) => {}
                    Ok(n) => tracing::warn!(backtests = n, "backtests of a stopped node are marked INTERRUPTED"),
                }
                for job in &jobs {
                    // A renewal that hangs (a database that does not answer)
                    // counts as lost, before the lease could expire under
                    // the work still running here.
                    let renewal = tokio::time::timeout(
                        settings.lease_ttl / 3,
                        store.acquire_lease(job.lease, &settings.id, Timestamp::now(), ttl),
                    )
                    .await
                    .unwrap_or_else(|_| {
                        Err(vpp_store::StoreError::Conflict { field: None, message: "timed out".into() })
                    });
                    match renewal {
                        Ok(Some(fence)) => {
                            let same = running.get(job.lease).is_some_and(|(f, _)| f.token == fence.token);
                            if !same {
                                // The old run (an older token) stops before the new one starts.
                                drop(running.remove(job.lease));
                                tracing::info!(node = %settings.id, lease = job.lease, token = fence.token, "lease taken; starting");
                                running.insert(job.lease, (fence.clone(), (job.start)(fence.clone())));
                                held.set(job.lease, Some(fence));
                            }
                        }
                        Ok(None) => {
                            if running.remove(job.lease).is_some() {
                                tracing::warn!(node = %settings.id, lease = job.lease, "lease lost to another node; stopped");
                            }
                            held.set(job.lease, None);
                        }
                        Err(e) => {
                            if running.remove(job.lease).is_some() {
                                tracing::error!(node = %settings.id, lease = job.lease, error = %e, "lease not renewed; stopped");
                            }
                            held.set(job.lease, None);
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(settings.lease_ttl / 3) => {}
                    _ = stopped.changed() => break,
                }
            }
            for (name, (fence, guard)) in running.drain() {
                drop(guard);
                held.set(name, None);
                if let Err(e) = store.release_lease(&fence).await {
                    tracing::warn!(lease = name, error = %e, "lease not released; it expires instead");
                }
            }
            let _ = store.node_gone(&settings.id).await;
        })
    };
    Node { id, held, keeper, stop }
}

/// The nodes on the database and who holds which lease.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cluster {
    /// The node that answered.
    pub answered_by: Option<String>,
    /// The nodes that said they were alive lately.
    pub nodes: Vec<NodeView>,
    /// Every lease.
    pub leases: Vec<LeaseRow>,
}

/// A node and the leases it holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeView {
    /// The node.
    #[serde(flatten)]
    pub node: ClusterNode,
    /// Names of the unexpired leases it holds.
    pub holds: Vec<String>,
}

/// The cluster as the database sees it at `now`; `this` is the answering node.
pub async fn cluster(store: &Store, this: Option<&str>, now: Timestamp) -> AppResult<Cluster> {
    let leases = store.leases().await?;
    let nodes = store
        .cluster_nodes()
        .await?
        .into_iter()
        .map(|node| {
            let holds = leases
                .iter()
                .filter(|l| l.holder.as_deref() == Some(node.id.as_str()) && l.expires_at >= now)
                .map(|l| l.name.clone())
                .collect();
            NodeView { node, holds }
        })
        .collect();
    Ok(Cluster { answered_by: this.map(str::to_string), nodes, leases })
}
