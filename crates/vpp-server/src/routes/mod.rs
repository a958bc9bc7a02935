//! One module per API resource: handlers, request and response types, router.

pub mod ai_models;
pub mod alerts;
pub mod auth;
pub mod devices;
pub mod events;
pub mod imports;
pub mod ingestion;
pub mod markets;
pub mod ops;
pub mod owner;
pub mod parks;
pub mod redispatch;
pub mod reports;
pub mod resources;
pub mod schedules;
pub mod series;
pub mod strategies;
pub mod templates;
pub mod trading;
pub mod vpps;
pub mod weather;

use serde::Deserialize;
use vpp_store::{MAX_PAGE_SIZE, Page};

use crate::error::{ApiError, ApiResult};

/// Default page size of lists.
pub const DEFAULT_PAGE_SIZE: i64 = 20;

/// `page` (from 1) and `size` (1..=1000) query parameters.
pub(crate) fn page(page: Option<i64>, size: Option<i64>) -> ApiResult<Page> {
    let page = page.unwrap_or(1);
    let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
    if page < 1 {
        return Err(ApiError::invalid("page", format!("must be at least 1, got {page}")));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::invalid("size", format!("must be 1..{MAX_PAGE_SIZE}, got {size}")));
    }
    Ok(Page { page, size })
}

/// Defines a paged list response type for `$item`.
macro_rules! paged {
    ($name:ident, $item:ty) => {
        /// A page of items with the total count.
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// Items on this page.
            pub items: Vec<$item>,
            /// Total matching items.
            pub total: i64,
            /// Page number from 1.
            pub page: i64,
            /// Page size.
            pub size: i64,
        }

        impl From<vpp_store::Paged<$item>> for $name {
            fn from(p: vpp_store::Paged<$item>) -> Self {
                Self { items: p.items, total: p.total, page: p.page, size: p.size }
            }
        }
    };
}
pub(crate) use paged;

/// A list of at most `limit` items (1..=1000, default 100).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// Most items to return.
    pub limit: Option<i64>,
}

impl LimitQuery {
    pub(crate) fn get(&self) -> ApiResult<i64> {
        let limit = self.limit.unwrap_or(100);
        if (1..=MAX_PAGE_SIZE).contains(&limit) {
            Ok(limit)
        } else {
            Err(ApiError::invalid("limit", format!("must be 1..{MAX_PAGE_SIZE}, got {limit}")))
        }
    }
}
