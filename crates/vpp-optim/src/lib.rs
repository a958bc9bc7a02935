//! Schedule optimisation for a site or VPP: batteries, flexible loads,
//! shiftable processes, curtailable PV and wind, and dispatchable
//! generators behind one grid connection, against import and feed-in prices.
//!
//! A [`Problem`] is checked first ([`Problem::explain`]): impossible
//! requests are answered with the constraints that conflict and their
//! values, never with a bare "infeasible". It is then modelled with
//! `good_lp` and solved by a real solver: `microlp` (LP and MILP, the
//! default) or `clarabel` (interior-point LP; integer parts are relaxed and
//! the result says so).
//!
//! Sign convention, as in the rest of vpp: positive power is injection into
//! the grid (generation, discharging), negative is consumption (charging,
//! loads). Powers are kW, energies kWh, prices €/MWh, money €.

mod battery;
mod fleet;
mod model;
mod solve;

pub use fleet::{DECOMPOSE_ABOVE, solve_fleet};
pub use model::{
    Asset, Battery, Conflict, FlexibleLoad, Generator, Horizon, MAX_MEMBERS, MAX_STEPS, Member, Objective, Problem,
    ShiftableProcess, Site,
};
pub use solve::{
    Backend, Breakdown, Decomposition, MemberSchedule, Schedule, SolveError, SolverInfo, SolverOptions, solve,
};
