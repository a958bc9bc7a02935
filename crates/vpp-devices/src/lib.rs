//! Devices of vpp: the MQTT protocol they speak ([`protocol`]), the bridge
//! that carries their telemetry into the store and setpoints out to them
//! ([`bridge`]), and a simulated fleet that speaks the same protocol against
//! a real broker ([`simulator`]).
//!
//! Depends on the domain and the store; must not depend on HTTP types.

pub mod bridge;
pub mod protocol;
pub mod simulator;
