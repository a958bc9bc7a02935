//! Markets: the money side of the VPP.
//!
//! - [`rules`]: a market's trading rules and the checks every bid passes
//!   (gate closure, products, sizes, ticks, limits, capacity, risk);
//! - [`analysis`]: revenue, trade count, net volume and VWAP per quarter-hour;
//! - [`connector`]: connector configuration (kind, endpoint, secret
//!   reference, rules);
//! - [`auction`]: uniform-price and pay-as-bid clearing on a columnar book;
//! - [`exchange`]: the connector trait and the built-in simulated exchange;
//! - [`files`]: exchange exports (prices, trades, German imbalance prices);
//! - [`invoice`]: contracts per asset (versioned) and monthly invoices with VAT;
//! - [`settlement`]: trade revenue, imbalance, reserve payments and fees per
//!   interval, in exact fixed point.
//!
//! Units: prices are currency/MWh (capacity prices currency/MW/h),
//! quantities MW, money an exact [`rust_decimal::Decimal`] with a currency.

pub mod analysis;
pub mod auction;
pub mod connector;
pub mod exchange;
pub mod files;
pub mod invoice;
pub mod records;
pub mod rules;
pub mod settlement;
