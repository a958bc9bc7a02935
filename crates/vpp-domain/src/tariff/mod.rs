//! Tariffs and bills for industrial parks: time-of-use windows and
//! versions ([`tou`]), load curves and their profiles ([`load`]), monthly
//! bills and their reconciliation ([`bill`]), and the flexibility of
//! adjustable loads with the savings it brings ([`flex`]).
//!
//! Local time appears only here, at the edge: windows, months and holidays
//! are local to the tariff's zone; every interval is a UTC timestamp.
//! Energy is kWh, power kW, prices and money in the tariff's currency
//! (exact decimals on bills, f64 in estimates).

pub mod bill;
pub mod flex;
pub mod load;
pub mod tou;
