//! What an asset owner may read: its own assets (those whose technical
//! data names it as `owner`), their best of infeed, invoices and the
//! performance report, and nothing else. Every read is filtered here, once,
//! for every interface.

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use vpp_domain::market::invoice::Invoice;
use vpp_domain::resource::Resource;
use vpp_domain::series::{OwnerKind, Quantity};
use vpp_store::{Page, ResourceFilter, Store};

use crate::error::{AppError, AppResult};

/// The assets of `owner`, by name.
pub async fn owner_assets(store: &Store, owner: &str) -> AppResult<Vec<Resource>> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let p = store.list_resources(&ResourceFilter::default(), Page { page, size: vpp_store::MAX_PAGE_SIZE }).await?;
        out.extend(p.items.iter().filter(|r| r.owner.as_deref().map(str::trim) == Some(owner)).cloned());
        if (p.items.len() as i64) < vpp_store::MAX_PAGE_SIZE {
            break;
        }
        page += 1;
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One asset of `owner`; another owner's asset is forbidden.
pub async fn owner_asset(store: &Store, owner: &str, id: &str) -> AppResult<Resource> {
    let r = store.get_resource(id).await?;
    if r.owner.as_deref().map(str::trim) != Some(owner) {
        return Err(AppError::Forbidden(format!("resource `{id}` is not an asset of {owner}")));
    }
    Ok(r)
}

/// The best of infeed of one of `owner`'s assets over `[start, end)`.
pub async fn owner_infeed(
    store: &Store,
    owner: &str,
    id: &str,
    start: Timestamp,
    end: Timestamp,
) -> AppResult<Vec<(i64, Option<vpp_domain::series::Infeed>)>> {
    let r = owner_asset(store, owner, id).await?;
    let Some((key, series)) = store.find_series(OwnerKind::Resource, &r.id, Quantity::Power).await? else {
        return Ok(vec![]);
    };
    crate::series::infeed(store, key, &series, start, end, &crate::series::INFEED_PRIORITY).await
}

/// The invoices of `owner`'s assets for a month; asking for a contract of
/// another owner's asset is forbidden.
pub async fn owner_invoices(
    store: &Store,
    owner: &str,
    month: &str,
    contract_id: Option<&str>,
    vat_pct: Decimal,
) -> AppResult<Vec<Invoice>> {
    let mine: Vec<String> = owner_assets(store, owner).await?.into_iter().map(|r| r.id).collect();
    if let Some(id) = contract_id {
        let contracts = store.list_contracts().await?;
        let of = contracts.iter().find(|c| c.contract_id == id).ok_or_else(|| AppError::not_found("contract", id))?;
        if !mine.contains(&of.resource_id) {
            return Err(AppError::Forbidden(format!("contract `{id}` is not for an asset of {owner}")));
        }
    }
    let all = crate::markets::invoices_for_month(store, month, contract_id, vat_pct).await?;
    Ok(all.into_iter().filter(|i| mine.contains(&i.resource_id)).collect())
}

/// The performance report of `owner`'s assets (whole, without trading: the
/// trades are the direct marketer's).
pub async fn owner_report(
    store: &Store,
    owner: &str,
    day: Option<&str>,
    month: Option<&str>,
    gate_closure: SignedDuration,
    lang: vpp_domain::lang::Lang,
) -> AppResult<crate::performance::PerformanceReport> {
    let mut members = Vec::new();
    for r in owner_assets(store, owner).await? {
        if let Some((key, series)) = store.find_series(OwnerKind::Resource, &r.id, Quantity::Power).await? {
            members.push((key, series, 1.0));
        }
    }
    let id = format!("owner:{owner}");
    let portfolio = crate::performance::Portfolio { id: &id, name: owner, members: &members, trades_of: None, lang };
    crate::performance::report_of(store, portfolio, day, month, gate_closure).await
}
