//! Devices of vpp: the MQTT protocol they speak ([`protocol`]), the bridge
//! that carries their telemetry into the store and setpoints out to them
//! ([`bridge`]), device links over Modbus TCP ([`modbus`]) with SunSpec
//! discovery and register maps ([`sunspec`]), and simulated devices: a
//! fleet that speaks MQTT against a real broker ([`simulator`]), SunSpec
//! devices served over Modbus TCP ([`modbus_sim`]) and EV charging
//! stations that speak OCPP 2.0.1 to a CSMS ([`ocpp_sim`]).
//!
//! Depends on the domain and the store; must not depend on HTTP types.

pub mod bridge;
pub mod modbus;
pub mod modbus_sim;
pub mod ocpp_sim;
pub mod protocol;
pub mod simulator;
pub mod sunspec;
