//! Shared state: the store, the fleet cache and the server settings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use vpp_domain::fleet::{AggregatedParams, aggregate};
use vpp_store::{FleetSnapshot, Store};

use crate::auth::{Auth, AuthSettings};
use crate::error::ApiResult;

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Largest accepted request body, bytes.
    pub body_limit_bytes: usize,
    /// After this long a cached fleet is reloaded in the background, even if
    /// this process saw no write (other processes may write to PostgreSQL).
    pub fleet_cache_ttl: Duration,
    /// Authentication, sessions and rate limits.
    pub auth: AuthSettings,
    /// Origins allowed to call the API from a browser (CORS); empty = same origin only.
    pub cors_origins: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 16 * 1024 * 1024,
            fleet_cache_ttl: Duration::from_secs(1),
            auth: AuthSettings::default(),
            cors_origins: vec![],
        }
    }
}

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<Store>,
    /// Cached fleets for the read-heavy aggregation endpoint.
    pub fleets: Arc<FleetCache>,
    /// Authentication keys, caches and limiters.
    pub auth: Arc<Auth>,
    /// Settings.
    pub settings: ServerSettings,
    /// Counters of the MQTT device bridge, when one runs.
    pub devices: Option<Arc<vpp_devices::bridge::BridgeStats>>,
    /// Counters and link states of the Modbus links, when they run.
    pub modbus: Option<Arc<vpp_devices::modbus::ModbusStats>>,
    /// Charging stations connected over OCPP.
    pub ocpp: Arc<crate::ocpp::OcppHub>,
    /// Cancel flags of running backtests.
    pub tasks: Arc<vpp_app::strategies::Tasks>,
    /// Imports running in the background, and those that ended lately.
    pub imports: Arc<crate::imports::ImportJobs>,
    /// This node's id in the cluster, when it runs as a node.
    pub node_id: Option<String>,
}

impl AppState {
    /// State over a migrated store.
    pub async fn new(store: Arc<Store>, settings: ServerSettings) -> vpp_store::Result<Self> {
        let auth = Arc::new(Auth::new(&store, settings.auth.clone()).await?);
        spawn_refusal_flusher(&auth, &store);
        Ok(Self {
            fleets: Arc::new(FleetCache::new(settings.fleet_cache_ttl)),
            auth,
            imports: Arc::new(crate::imports::ImportJobs::new(store.clone())),
            store,
            settings,
            devices: None,
            modbus: None,
            ocpp: Arc::default(),
            tasks: Arc::default(),
            node_id: None,
        })
    }
}

/// Writes the count rows of refusal windows as their minutes close, for as
/// long as the state lives.
fn spawn_refusal_flusher(auth: &Arc<Auth>, store: &Arc<Store>) {
    let (auth, store) = (Arc::downgrade(auth), Arc::downgrade(store));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            let (Some(auth), Some(store)) = (auth.upgrade(), store.upgrade()) else { break };
            auth.refusals.flush(&store, false).await;
        }
    });
}

/// A fleet snapshot, when it was loaded, and the aggregates computed from it.
#[derive(Debug)]
pub struct CachedFleet {
    generation: u64,
    loaded: Instant,
    refreshing: AtomicBool,
    /// When the snapshot was read from the database.
    pub loaded_at: Timestamp,
    /// The snapshot.
    pub snapshot: FleetSnapshot,
    /// Aggregates by duration (hours as bits), computed once per snapshot.
    aggregates: Mutex<Vec<(u64, Arc<AggregatedParams>)>>,
}

impl CachedFleet {
    /// Aggregated parameters over `hours`, computed at most once per snapshot and duration.
    pub fn aggregate(&self, hours: f64) -> Arc<AggregatedParams> {
        let key = hours.to_bits();
        let mut memo = self.aggregates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, a)) = memo.iter().find(|(k, _)| *k == key) {
            return a.clone();
        }
        let computed = Arc::new(aggregate(&self.snapshot.fleet, hours));
        // A handful of durations is all clients ask for; keep the memo small.
        if memo.len() >= 16 {
            memo.remove(0);
        }
        memo.push((key, computed.clone()));
        computed
    }
}

/// Caches fleet snapshots per VPP.
///
/// Any successful write request through this process bumps the generation;
/// a snapshot of an older generation is never served, the next reader
/// reloads it. A snapshot older than the TTL is still served while one
/// background task reloads it (stale-while-revalidate), so readers never
/// queue behind a 10,000-row query; the TTL bounds how stale data written by
/// other processes can be.
#[derive(Debug)]
pub struct FleetCache {
    generation: AtomicU64,
    ttl: Duration,
    entries: RwLock<HashMap<String, Arc<CachedFleet>>>,
    reload: tokio::sync::Mutex<()>,
}

impl FleetCache {
    fn new(ttl: Duration) -> Self {
        Self { generation: AtomicU64::new(0), ttl, entries: RwLock::default(), reload: tokio::sync::Mutex::new(()) }
    }

    /// Marks every cached fleet stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn current(&self, vpp_id: &str) -> Option<Arc<CachedFleet>> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(vpp_id).filter(|c| c.generation == generation).cloned()
    }

    /// The fleet of a VPP, from the cache when current.
    pub async fn get(self: &Arc<Self>, store: &Arc<Store>, vpp_id: &str) -> ApiResult<Arc<CachedFleet>> {
        if let Some(hit) = self.current(vpp_id) {
            if hit.loaded.elapsed() >= self.ttl && !hit.refreshing.swap(true, Ordering::AcqRel) {
                let (cache, store, id, stale) = (self.clone(), store.clone(), vpp_id.to_string(), hit.clone());
                tokio::spawn(async move {
                    if let Err(e) = cache.load(&store, &id).await {
                        tracing::warn!(vpp_id = %id, error = %e, "background fleet reload failed");
                        stale.refreshing.store(false, Ordering::Release);
                    }
                });
            }
            return Ok(hit);
        }
        // One reload at a time, so a burst of misses does not run the same query 64 times.
        let _guard = self.reload.lock().await;
        if let Some(hit) = self.current(vpp_id) {
            return Ok(hit);
        }
        Ok(self.load(store, vpp_id).await?)
    }

    async fn load(&self, store: &Store, vpp_id: &str) -> vpp_store::Result<Arc<CachedFleet>> {
        let generation = self.generation.load(Ordering::Acquire);
        let snapshot = store.load_fleet(vpp_id).await?;
        let cached = Arc::new(CachedFleet {
            generation,
            loaded: Instant::now(),
            refreshing: AtomicBool::new(false),
            loaded_at: Timestamp::now(),
            snapshot,
            aggregates: Mutex::default(),
        });
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, c| c.generation == self.generation.load(Ordering::Acquire));
        // A write that raced with this load leaves the entry stale, so readers reload again.
        entries.insert(vpp_id.to_string(), cached.clone());
        Ok(cached)
    }
}
