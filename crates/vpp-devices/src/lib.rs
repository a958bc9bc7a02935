//! Devices of vpp: the MQTT protocol they speak ([`protocol`]), the bridge
//! that carries their telemetry into the store and setpoints out to them
//! ([`bridge`]), device links over Modbus TCP ([`modbus`]) with SunSpec
//! discovery and register maps ([`sunspec`]), and a simulated fleet that
//! speaks the same protocols against a real broker ([`simulator`]).
//!
//! Depends on the domain and the store; must not depend on HTTP types.

pub mod bridge;
pub mod modbus;
pub mod modbus_sim;
pub mod protocol;
pub mod simulator;
pub mod sunspec;
