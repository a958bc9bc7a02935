//! Physical production models of vpp: what a PV plant or a wind turbine
//! produces under given weather, from its technical data alone.
//!
//! - [`sun`]: where the sun is (NOAA's implementation of Meeus' low-precision
//!   solar coordinates, about 0.01° from NREL's SPA between 1900 and 2100),
//!   how much reaches the top of the atmosphere (Spencer 1971), the air mass
//!   (Kasten and Young 1989) and a cloudless sky (Ineichen and Perez 2002,
//!   Haurwitz 1945).
//! - [`pv`]: from horizontal irradiance to AC power: Erbs decomposition,
//!   Hay–Davies transposition with ground reflection, ASHRAE angle-of-incidence
//!   loss, Faiman cell temperature, the PVWatts DC model and the PVWatts
//!   inverter curve with clipping.
//! - [`wind`]: from wind at a measuring height to AC power: logarithmic or
//!   Hellman profile to hub height, temperature lapse, ideal-gas air density,
//!   the power curve corrected for density (IEC 61400-12-1 style, with the
//!   exponent moving from 1/3 to 2/3 between 7.5 and 12.5 m/s), cut-in and
//!   cut-out.
//!
//! The same chains run in `pvlib` and `windpowerlib`; `scripts/pv-vs-pvlib.py`
//! and `scripts/wind-vs-windpowerlib.py` compare them side by side.
//!
//! Units: angles in degrees at the interface (radians inside), irradiance in
//! W/m², temperature in °C, wind in m/s, pressure in Pa, power in kW. Times
//! are UNIX seconds (UTC) of the instant modelled, normally the middle of an
//! interval. The crate is pure arithmetic over columns: it depends on nothing,
//! not even on the rest of vpp, so the forecasts, the device simulator and the
//! benchmarks share one implementation.

pub mod fleet;
pub mod pv;
pub mod sun;
pub mod synthetic;
pub mod wind;
