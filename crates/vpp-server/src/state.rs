//! Shared state: the store, the fleet cache and the server settings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use vpp_store::{FleetSnapshot, Store};

use crate::error::ApiResult;

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Largest accepted request body, bytes.
    pub body_limit_bytes: usize,
    /// How long a cached fleet may be served before it is reloaded, even if
    /// this process saw no write (other processes may write to PostgreSQL).
    pub fleet_cache_ttl: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { body_limit_bytes: 16 * 1024 * 1024, fleet_cache_ttl: Duration::from_secs(1) }
    }
}

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<Store>,
    /// Cached fleets for the read-heavy aggregation endpoint.
    pub fleets: Arc<FleetCache>,
    /// Settings.
    pub settings: ServerSettings,
}

impl AppState {
    /// State over a migrated store.
    pub fn new(store: Arc<Store>, settings: ServerSettings) -> Self {
        Self { fleets: Arc::new(FleetCache::new(settings.fleet_cache_ttl)), store, settings }
    }
}

/// A fleet snapshot and when it was loaded.
#[derive(Debug)]
pub struct CachedFleet {
    generation: u64,
    loaded: Instant,
    /// When the snapshot was read from the database.
    pub loaded_at: Timestamp,
    /// The snapshot.
    pub snapshot: FleetSnapshot,
}

/// Caches fleet snapshots per VPP. Any successful write request through this
/// process bumps the generation, which invalidates every entry; entries also
/// expire after the TTL. Aggregation over a 10,000-member VPP then costs
/// microseconds instead of a 10,000-row query per request.
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

    fn fresh(&self, vpp_id: &str) -> Option<Arc<CachedFleet>> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(vpp_id).filter(|c| c.generation == generation && c.loaded.elapsed() < self.ttl).cloned()
    }

    /// The fleet of a VPP, from the cache when fresh.
    pub async fn get(&self, store: &Store, vpp_id: &str) -> ApiResult<Arc<CachedFleet>> {
        if let Some(hit) = self.fresh(vpp_id) {
            return Ok(hit);
        }
        // One reload at a time, so a burst of misses does not run the same query 64 times.
        let _guard = self.reload.lock().await;
        if let Some(hit) = self.fresh(vpp_id) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let snapshot = store.load_fleet(vpp_id).await?;
        let cached =
            Arc::new(CachedFleet { generation, loaded: Instant::now(), loaded_at: Timestamp::now(), snapshot });
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, c| c.generation == generation);
        entries.insert(vpp_id.to_string(), cached.clone());
        Ok(cached)
    }
}
