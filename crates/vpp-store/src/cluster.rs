//! Several `vpp serve` nodes on one database: the nodes that say they are
//! alive, and the leases under which singleton work runs on one node only.
//!
//! A lease is a row taken or renewed by one conditional `UPDATE`, which the
//! database runs atomically (PostgreSQL locks the row and re-checks the
//! condition; SQLite has one writer), so two nodes never both get it. Its
//! `token` grows with every new holder: a write that carries the token it
//! was started under is refused once another node has taken the lease
//! ([`Store::check_fence`]).

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;

use crate::{Backend, Result, Store, StoreError, WriteTx, from_micros, to_micros};

/// A node that said it was alive.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClusterNode {
    /// Node id.
    pub id: String,
    /// vpp version it runs.
    pub version: String,
    /// When it started (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// When it last said it was alive (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: Timestamp,
}

/// A lease and who holds it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LeaseRow {
    /// What it guards (`market`, `control`, …).
    pub name: String,
    /// The node holding it; null when released.
    pub holder: Option<String>,
    /// Fencing token: grows by one with every new holder.
    pub token: i64,
    /// When its holder took it (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acquired_at: Option<Timestamp>,
    /// Held until then unless renewed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// A lease held: its name and fencing token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence {
    /// Lease name.
    pub lease: String,
    /// The holder's node id.
    pub node: String,
    /// The token it holds it under.
    pub token: i64,
}

impl Store {
    /// Makes this process node `id`: the imports and backtests it starts
    /// from now on are its own. Set once; later calls are ignored.
    pub fn set_node_id(&self, id: &str) {
        let _ = self.node_id.set(id.to_string());
    }

    /// This process's node id, once set.
    pub fn node_id(&self) -> Option<&str> {
        self.node_id.get().map(String::as_str)
    }

    /// Says node `id` is alive at `now` (inserted on its first call).
    pub async fn node_alive(&self, id: &str, version: &str, started_at: Timestamp, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO cluster_nodes (id, version, started_at, last_seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, version = excluded.version",
        )
        .bind(id.to_string())
        .bind(version.to_string())
        .bind(to_micros(started_at))
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets nodes not seen since `before` (they stopped or died).
    pub async fn forget_nodes(&self, before: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM cluster_nodes WHERE last_seen_at < $1")
            .bind(to_micros(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Removes node `id` (it stops).
    pub async fn node_gone(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM cluster_nodes WHERE id = $1").bind(id.to_string()).execute(&self.pool).await?;
        Ok(())
    }

    /// Nodes that said they were alive, oldest first.
    pub async fn cluster_nodes(&self) -> Result<Vec<ClusterNode>> {
        let rows =
            sqlx::query("SELECT id, version, started_at, last_seen_at FROM cluster_nodes ORDER BY started_at, id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ClusterNode {
                    id: r.try_get("id")?,
                    version: r.try_get("version")?,
                    started_at: from_micros(r.try_get("started_at")?)?,
                    last_seen_at: from_micros(r.try_get("last_seen_at")?)?,
                })
            })
            .collect()
    }

    /// Takes lease `name` for `node` until `now + ttl`, or renews it if
    /// `node` holds it: the fence it is held under, or `None` while another
    /// node holds it unexpired. A new holder gets the next token; a renewal
    /// keeps it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        node: &str,
        now: Timestamp,
        ttl: jiff::SignedDuration,
    ) -> Result<Option<Fence>> {
        sqlx::query("INSERT INTO leases (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name.to_string())
            .execute(&self.pool)
            .await?;
        // One statement: the database checks and takes the row atomically.
        // In SET, `holder` is the value before the update.
        let row = sqlx::query(
            "UPDATE leases SET \
               token = CASE WHEN holder = $2 THEN token ELSE token + 1 END, \
               acquired_at = CASE WHEN holder = $2 THEN acquired_at ELSE $3 END, \
               holder = $2, expires_at = $4 \
             WHERE name = $1 AND (holder = $2 OR holder IS NULL OR expires_at < $3) RETURNING token",
        )
        .bind(name.to_string())
        .bind(node.to_string())
        .bind(to_micros(now))
        .bind(to_micros(now + ttl))
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(Fence { lease: name.to_string(), node: node.to_string(), token: r.try_get("token")? }),
            None => None,
        })
    }

    /// Gives a lease up (the node stops); another node may take it at once.
    pub async fn release_lease(&self, fence: &Fence) -> Result<()> {
        sqlx::query("UPDATE leases SET holder = NULL, expires_at = 0 WHERE name = $1 AND holder = $2 AND token = $3")
            .bind(fence.lease.clone())
            .bind(fence.node.clone())
            .bind(fence.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every lease, by name.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>> {
        let rows = sqlx::query("SELECT name, holder, token, acquired_at, expires_at FROM leases ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LeaseRow {
                    name: r.try_get("name")?,
                    holder: r.try_get("holder")?,
                    token: r.try_get("token")?,
                    acquired_at: r.try_get::<Option<i64>, _>("acquired_at")?.map(from_micros).transpose()?,
                    expires_at: from_micros(r.try_get("expires_at")?)?,
                })
            })
            .collect()
    }

    /// Inside a write transaction: refuses the write ([`StoreError::Fenced`])
    /// unless `fence` still holds its lease at `now`. On PostgreSQL the
    /// lease row stays share-locked until the transaction ends, so no node
    /// takes the lease between this check and the commit.
    pub(crate) async fn check_fence(
        w: &mut WriteTx<'_>,
        backend: Backend,
        fence: &Fence,
        now: Timestamp,
    ) -> Result<()> {
        let sql = match backend {
            Backend::Postgres => "SELECT holder, token, expires_at FROM leases WHERE name = $1 FOR SHARE",
            Backend::Sqlite => "SELECT holder, token, expires_at FROM leases WHERE name = $1",
        };
        let row = sqlx::query(sql).bind(fence.lease.clone()).fetch_optional(&mut *w.tx).await?;
        let held = match &row {
            Some(r) => {
                let holder: Option<String> = r.try_get("holder")?;
                let token: i64 = r.try_get("token")?;
                let expires: i64 = r.try_get("expires_at")?;
                holder.as_deref() == Some(fence.node.as_str()) && token == fence.token && expires >= to_micros(now)
            }
            None => false,
        };
        if held { Ok(()) } else { Err(StoreError::Fenced { lease: fence.lease.clone(), token: fence.token }) }
    }
}
