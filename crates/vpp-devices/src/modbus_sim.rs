//! Simulated SunSpec devices over Modbus TCP, served by tokio-modbus's
//! server: each unit id is one device with the simulator's physics (PV
//! under the synthetic weather, a battery with its SOC, …) behind a SunSpec
//! register image. Written controls (123 `WMaxLimPct`, 124 storage rates)
//! become the device's setpoint until their revert time. The demo links
//! some of its assets to such devices on 127.0.0.1, and `vpp bench modbus`
//! polls thousands of them.

use std::collections::HashMap;
use std::future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::net::TcpListener;
use tokio_modbus::server::Service;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use crate::simulator::{Device, Physics};
use crate::sunspec::image::SunspecImage;

/// One simulated device: its physics and its registers.
pub struct SimUnit {
    device: Device,
    image: SunspecImage,
    energy_kwh: f64,
    last: Option<Timestamp>,
    rng: SmallRng,
}

impl SimUnit {
    /// A SunSpec device for a simulated device rated `rated_kw`: storage
    /// (model 124) for a battery, an inverter with controls (123) otherwise.
    pub fn new(device: Device, rated_kw: f64, serial: &str, seed: u64) -> Self {
        let storage = matches!(device.physics, Physics::Battery { .. });
        let mut image = SunspecImage::new(rated_kw * 1000.0, storage, serial);
        image.set_reading(0.0, 0.0, 25.0, storage.then_some(device.soc_pct));
        Self { device, image, energy_kwh: 0.0, last: None, rng: SmallRng::seed_from_u64(seed) }
    }

    /// Advances the physics to now and writes the readings.
    fn step(&mut self) {
        let now = Timestamp::now();
        let dt = self.last.map_or(0.0, |t| now.duration_since(t).as_secs_f64()).clamp(0.0, 300.0);
        self.last = Some(now);
        if dt > 0.0 {
            self.device.step(now, dt, &mut self.rng);
            self.energy_kwh += self.device.power_kw.max(0.0) * dt / 3600.0;
        }
        let storage = matches!(self.device.physics, Physics::Battery { .. });
        self.image.set_reading(self.device.power_kw, self.energy_kwh, 30.0, storage.then_some(self.device.soc_pct));
    }

    /// Takes what the controls say as the device's setpoint.
    fn follow(&mut self) {
        self.device.setpoint = self.image.commanded().map(|(kw, revert_s)| {
            let until = match revert_s {
                0 => Timestamp::MAX,
                s => Timestamp::now() + jiff::SignedDuration::from_secs(i64::from(s)),
            };
            (kw, until)
        });
    }

    fn handle(&mut self, request: Request<'_>) -> Result<Response, ExceptionCode> {
        self.step();
        let image = &mut self.image.image;
        match request {
            Request::ReadHoldingRegisters(address, count) => image
                .get(address, count)
                .map(|r| Response::ReadHoldingRegisters(r.to_vec()))
                .ok_or(ExceptionCode::IllegalDataAddress),
            Request::WriteMultipleRegisters(address, values) => {
                image.get(address, values.len() as u16).ok_or(ExceptionCode::IllegalDataAddress)?;
                image.set(address, &values);
                self.follow();
                Ok(Response::WriteMultipleRegisters(address, values.len() as u16))
            }
            Request::WriteSingleRegister(address, value) => {
                image.get(address, 1).ok_or(ExceptionCode::IllegalDataAddress)?;
                image.set(address, &[value]);
                self.follow();
                Ok(Response::WriteSingleRegister(address, value))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

/// Devices by unit id, shared by the connections of one server.
#[derive(Clone)]
struct Units(Arc<HashMap<u8, Mutex<SimUnit>>>);

impl Service for Units {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let Some(unit) = self.0.get(&req.slave) else {
            return future::ready(Err(ExceptionCode::GatewayTargetDevice));
        };
        let mut unit = unit.lock().unwrap_or_else(|e| e.into_inner());
        future::ready(unit.handle(req.request))
    }
}

/// Serves `units` (unit id → device) on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, units: HashMap<u8, SimUnit>) -> std::io::Result<()> {
    let units = Units(Arc::new(units.into_iter().map(|(id, u)| (id, Mutex::new(u))).collect()));
    let server = Server::new(listener);
    let on_connected = |stream, addr: SocketAddr| {
        let units = units.clone();
        async move { accept_tcp_connection(stream, addr, move |_| Ok(Some(units.clone()))) }
    };
    server.serve(&on_connected, |e| tracing::debug!(error = %e, "simulated Modbus connection ended")).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sunspec::{self, Registers};
    use vpp_domain::device_link::{DeviceLinkSpec, LinkProtocol, RegisterMap};

    #[tokio::test]
    async fn a_simulated_battery_follows_what_is_written_over_tcp() {
        let physics =
            Physics::Battery { energy_kwh: 20.0, max_kw: 10.0, efficiency: 1.0, soc_min_pct: 5.0, soc_max_pct: 95.0 };
        let mut device = Device::new("b".into(), "default".into(), physics, 100.0, &mut SmallRng::seed_from_u64(1));
        device.soc_pct = 50.0;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(serve(listener, HashMap::from([(7, SimUnit::new(device, 10.0, "B-7", 1))])));
        let spec = DeviceLinkSpec {
            protocol: LinkProtocol::ModbusTcp,
            enabled: true,
            host: "127.0.0.1".into(),
            port,
            unit_id: 7,
            poll_interval_s: 1.0,
            timeout_ms: 1000,
            register_map: RegisterMap::Sunspec { base_address: None },
        };
        let found = crate::modbus::probe(&spec).await.unwrap();
        let d = found.sunspec.unwrap();
        assert_eq!((d.serial.as_str(), d.w_cha_max_kw), ("B-7", Some(10.0)));
        assert_eq!(found.reading.soc_pct, Some(50.0));
        let mut conn = crate::modbus::Connection::open(&spec, std::time::Duration::from_secs(1)).await.unwrap();
        sunspec::write_setpoint(&mut conn, &d, 6.0, 60).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let r = sunspec::read(&mut conn, &d).await.unwrap();
        assert_eq!(r.power_kw, Some(6.0), "{r:?}");
        assert!(r.energy_kwh.unwrap() > 0.0, "discharged energy is counted: {r:?}");
        // A unit the server lacks is refused.
        let other = DeviceLinkSpec { unit_id: 8, ..spec };
        let e = crate::modbus::probe(&other).await.unwrap_err();
        assert!(e.to_string().contains("Modbus exception"), "{e}");
        assert!(conn.read(0, 1).await.is_err());
        server.abort();
    }
}
