//! The market job: every minute, ACTIVE strategies bid their next open
//! delivery day, then every day whose gate has closed is cleared. It sits
//! above [`crate::markets`] and [`crate::strategies`], which it drives.

use jiff::Timestamp;
use vpp_store::{Fence, Store};

use crate::markets::clearing_cycle;
use crate::strategies::bid_active_strategies;

/// Every `every` until the task is dropped: lets ACTIVE strategies bid
/// their next open day, then runs [`clearing_cycle`] under `fence` (the
/// market lease of the node running it); failures are logged and the loop
/// goes on.
pub fn spawn_market_job(
    store: std::sync::Arc<Store>,
    every: std::time::Duration,
    fence: Option<Fence>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // A strategy that cannot bid says why once per reason, not every cycle.
        let mut told = std::collections::HashSet::new();
        loop {
            // ACTIVE strategies bid their next open day before gates close.
            for (strategy, outcome) in bid_active_strategies(&store, Timestamp::now()).await {
                match outcome {
                    Ok(Some(b)) => {
                        tracing::info!(strategy, day = %b.trading_date, steps = b.bid.as_ref().map_or(0, |b| b.steps.len()), "strategy bid");
                    }
                    Ok(None) => {}
                    Err(e) => {
                        if told.insert((strategy.clone(), e.to_string())) {
                            tracing::warn!(strategy, error = %e, "strategy could not bid");
                        }
                    }
                }
            }
            match clearing_cycle(&store, Timestamp::now(), fence.as_ref()).await {
                Ok(days) => {
                    for d in days {
                        if d.bids > 0 {
                            tracing::info!(connector = %d.connector_id, day = %d.trading_date, bids = d.bids, trades = d.trades, "auction cleared");
                        } else {
                            tracing::debug!(connector = %d.connector_id, day = %d.trading_date, "auction cleared without bids");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "market clearing failed"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
