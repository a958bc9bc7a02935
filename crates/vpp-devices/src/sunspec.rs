//! SunSpec over Modbus: finding the models of a device, reading its power,
//! energy, temperature and state of charge, and writing power setpoints.
//!
//! Register layouts are those of the published SunSpec model definitions
//! (the `model_N.json` files): offsets below count from the first register
//! after a model's ID and length. The peer test (`scripts/modbus_e2e.py`)
//! lays its device out from those same files with pysunspec2, so an offset
//! wrong here fails there.
//!
//! Models used:
//! - 1 common: manufacturer, model, serial number;
//! - 101, 102, 103 inverter: W, WH, TmpCab, St (with their scale factors);
//! - 120 nameplate: DERTyp, WRtg;
//! - 121 basic settings: WMax (the reference of 123's WMaxLimPct);
//! - 123 immediate controls: WMaxLimPct and WMaxLim_Ena (PV curtailment);
//! - 124 storage: WChaMax, StorCtl_Mod, ChaState, OutWRte, InWRte;
//! - 802 battery base: SoC (when 124 gives none).

use std::future::Future;

use vpp_domain::device_link::{PointMeaning, RegisterPoint, unit_factor};

/// The `SunS` marker (0x5375 0x6E53).
const MARKER: [u16; 2] = [0x5375, 0x6E53];
/// Where devices put the marker, in the order tried.
pub const BASES: [u16; 3] = [40000, 50000, 0];
/// The end of the model chain.
const END: u16 = 0xFFFF;
/// Registers one Modbus read may return.
const MAX_READ: u16 = 125;

/// Why talking to a device failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    /// No connection, or it broke.
    #[error("connection: {0}")]
    Io(String),
    /// No answer in time.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// The device answered with a Modbus exception.
    #[error("Modbus exception {0}")]
    Exception(String),
    /// The device does not have what is needed.
    #[error("{0}")]
    Device(String),
}

/// Holding registers of one device.
pub trait Registers {
    /// Reads `count` registers from `address`.
    fn read(&mut self, address: u16, count: u16) -> impl Future<Output = Result<Vec<u16>, LinkError>> + Send;
    /// Writes registers from `address`.
    fn write(&mut self, address: u16, values: &[u16]) -> impl Future<Output = Result<(), LinkError>> + Send;
}

/// A model found on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ModelBlock {
    /// SunSpec model id.
    pub id: u16,
    /// Address of its first point (after ID and L).
    pub address: u16,
    /// Its length L, registers.
    pub len: u16,
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SunspecDevice {
    /// Where the `SunS` marker is.
    pub base_address: u16,
    /// The model chain in order.
    pub models: Vec<ModelBlock>,
    /// Model 1: manufacturer.
    pub manufacturer: String,
    /// Model 1: model.
    pub model: String,
    /// Model 1: serial number.
    pub serial: String,
    /// Model 120 `WRtg`, or 121 `WMax`, in kW.
    pub rated_kw: Option<f64>,
    /// Model 121 `WMax`, kW: what 123's `WMaxLimPct` is a percentage of.
    pub w_max_kw: Option<f64>,
    /// Model 124 `WChaMax`, kW: what 124's rates are percentages of.
    pub w_cha_max_kw: Option<f64>,
}

impl SunspecDevice {
    /// The first model with one of `ids`.
    pub fn find(&self, ids: &[u16]) -> Option<ModelBlock> {
        self.models.iter().copied().find(|m| ids.contains(&m.id))
    }

    /// Whether it controls storage (model 124).
    pub fn is_storage(&self) -> bool {
        self.find(&[124]).is_some()
    }
}

/// One reading of a device.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Reading {
    /// Active power, kW, positive into the grid.
    pub power_kw: Option<f64>,
    /// Lifetime energy, kWh.
    pub energy_kwh: Option<f64>,
    /// State of charge, %.
    pub soc_pct: Option<f64>,
    /// Cabinet temperature, °C.
    pub temperature_c: Option<f64>,
    /// The inverter reports FAULT (model 10x `St` = 7).
    pub fault: bool,
    /// Connected to the grid at its point of connection (model 122 `ECPConn`).
    pub grid_connected: Option<bool>,
    /// Active power it could deliver now, kW (model 122 `WAval`).
    pub available_kw: Option<f64>,
}

// Offsets within the models (after ID and L).
mod at {
    pub const COMMON_LEN: u16 = 66;
    pub const MN: usize = 0;
    pub const MD: usize = 16;
    pub const SN: usize = 48;
    // 101..103
    pub const INV_LEN: u16 = 50;
    pub const W: usize = 12;
    pub const W_SF: usize = 13;
    pub const WH: usize = 22;
    pub const WH_SF: usize = 24;
    pub const TMP_CAB: usize = 31;
    pub const TMP_SF: usize = 35;
    pub const ST: usize = 36;
    // 120
    pub const W_RTG: usize = 1;
    pub const W_RTG_SF: usize = 2;
    // 121
    pub const W_MAX: usize = 0;
    pub const W_MAX_SF: usize = 20;
    // 122
    pub const MS_LEN: u16 = 44;
    pub const ECP_CONN: usize = 2;
    pub const W_AVAL: usize = 29;
    pub const W_AVAL_SF: usize = 30;
    // 123
    pub const W_MAX_LIM_PCT: u16 = 3;
    pub const W_MAX_LIM_PCT_RVRT_TMS: u16 = 5;
    pub const W_MAX_LIM_ENA: u16 = 7;
    pub const W_MAX_LIM_PCT_SF: usize = 21;
    // 124
    pub const W_CHA_MAX: usize = 0;
    pub const STOR_CTL_MOD: u16 = 3;
    pub const CHA_STATE: usize = 6;
    pub const OUT_W_RTE: u16 = 10;
    pub const IN_W_RTE: u16 = 11;
    pub const IN_OUT_W_RTE_RVRT_TMS: u16 = 13;
    pub const W_CHA_MAX_SF: usize = 16;
    pub const CHA_STATE_SF: usize = 20;
    pub const IN_OUT_W_RTE_SF: usize = 23;
    // 802
    pub const SOC: usize = 9;
    pub const SOC_SF: usize = 54;
}

/// `StorCtl_Mod` bits.
const CHARGE: u16 = 1;
const DISCHARGE: u16 = 2;
/// `St` = FAULT.
const ST_FAULT: u16 = 7;

/// A scale factor register: 10^sf, or `None` if not implemented (0x8000)
/// or outside SunSpec's −10..10.
fn sf(raw: u16) -> Option<f64> {
    let v = raw as i16;
    (-10..=10).contains(&v).then(|| 10f64.powi(i32::from(v)))
}

/// An int16 value times its scale factor; `None` when not implemented (0x8000).
fn int16(raw: u16, scale: Option<f64>) -> Option<f64> {
    (raw != 0x8000).then_some(f64::from(raw as i16) * scale?)
}

/// A uint16 value times its scale factor; `None` when not implemented (0xFFFF).
fn uint16(raw: u16, scale: Option<f64>) -> Option<f64> {
    (raw != 0xFFFF).then_some(f64::from(raw) * scale?)
}

/// Registers as text: two characters per register, high byte first, NULs dropped.
fn text(regs: &[u16]) -> String {
    let bytes: Vec<u8> = regs.iter().flat_map(|r| r.to_be_bytes()).filter(|b| *b != 0).collect();
    String::from_utf8_lossy(&bytes).trim().to_string()
}

async fn read_block<R: Registers>(r: &mut R, m: ModelBlock, min_len: u16) -> Result<Vec<u16>, LinkError> {
    if m.len < min_len {
        return Err(LinkError::Device(format!("model {} has {} registers, {} expected", m.id, m.len, min_len)));
    }
    let mut out = Vec::with_capacity(usize::from(m.len));
    let mut done = 0;
    while done < m.len {
        let n = (m.len - done).min(MAX_READ);
        out.extend(r.read(m.address + done, n).await?);
        done += n;
    }
    if out.len() != usize::from(m.len) {
        return Err(LinkError::Device(format!("model {}: short answer", m.id)));
    }
    Ok(out)
}

/// Finds the marker (at `base`, or at 40000, 50000 and 0), walks the model
/// chain and reads the common, nameplate, settings and storage models.
pub async fn discover<R: Registers>(r: &mut R, base: Option<u16>) -> Result<SunspecDevice, LinkError> {
    let bases: Vec<u16> = base.map(|b| vec![b]).unwrap_or_else(|| BASES.to_vec());
    let mut found = None;
    let mut last_error = None;
    for b in &bases {
        match r.read(*b, 2).await {
            Ok(regs) if regs == MARKER => {
                found = Some(*b);
                break;
            }
            Ok(_) => {}
            // An address the device lacks answers with an exception: try the next.
            Err(e @ LinkError::Exception(_)) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    let Some(base_address) = found else {
        let tried: Vec<String> = bases.iter().map(u16::to_string).collect();
        let why = last_error.map(|e| format!(" (last: {e})")).unwrap_or_default();
        return Err(LinkError::Device(format!("no SunSpec marker `SunS` at {}{why}", tried.join(", "))));
    };
    let mut models = Vec::new();
    let mut addr = u32::from(base_address) + 2;
    loop {
        if models.len() > 200 || addr + 2 > 65536 {
            return Err(LinkError::Device("the SunSpec model chain does not end".into()));
        }
        let head = r.read(addr as u16, 2).await?;
        let (id, len) = (head[0], head.get(1).copied().unwrap_or(0));
        if id == END {
            break;
        }
        if addr + 2 + u32::from(len) > 65536 {
            return Err(LinkError::Device(format!("model {id} at {addr} runs past register 65535")));
        }
        models.push(ModelBlock { id, address: (addr + 2) as u16, len });
        addr += 2 + u32::from(len);
    }
    let mut device = SunspecDevice {
        base_address,
        models,
        manufacturer: String::new(),
        model: String::new(),
        serial: String::new(),
        rated_kw: None,
        w_max_kw: None,
        w_cha_max_kw: None,
    };
    let common = device.find(&[1]).ok_or_else(|| LinkError::Device("no common model (1)".into()))?;
    let c = read_block(r, common, at::COMMON_LEN - 1).await?;
    device.manufacturer = text(&c[at::MN..at::MN + 16]);
    device.model = text(&c[at::MD..at::MD + 16]);
    device.serial = text(&c[at::SN..at::SN + 16]);
    if let Some(m) = device.find(&[121]) {
        let s = read_block(r, m, 30).await?;
        device.w_max_kw = uint16(s[at::W_MAX], sf(s[at::W_MAX_SF])).map(|w| w / 1000.0);
    }
    if let Some(m) = device.find(&[120]) {
        let s = read_block(r, m, 26).await?;
        device.rated_kw = uint16(s[at::W_RTG], sf(s[at::W_RTG_SF])).map(|w| w / 1000.0);
    }
    device.rated_kw = device.rated_kw.or(device.w_max_kw);
    if let Some(m) = device.find(&[124]) {
        let s = read_block(r, m, 24).await?;
        device.w_cha_max_kw = uint16(s[at::W_CHA_MAX], sf(s[at::W_CHA_MAX_SF])).map(|w| w / 1000.0);
    }
    if device.find(&[101, 102, 103]).is_none() {
        return Err(LinkError::Device("no inverter model (101, 102 or 103)".into()));
    }
    Ok(device)
}

/// Reads power, energy, temperature and state (inverter model), the grid
/// connection and available power (122) and the state of charge (124,
/// else 802).
pub async fn read<R: Registers>(r: &mut R, d: &SunspecDevice) -> Result<Reading, LinkError> {
    let inverter = d.find(&[101, 102, 103]).ok_or_else(|| LinkError::Device("no inverter model".into()))?;
    let v = read_block(r, inverter, at::INV_LEN).await?;
    let energy = (u32::from(v[at::WH]) << 16) | u32::from(v[at::WH + 1]);
    let mut reading = Reading {
        power_kw: int16(v[at::W], sf(v[at::W_SF])).map(|w| w / 1000.0),
        // acc32: 0 means not implemented.
        energy_kwh: (energy != 0).then_some(f64::from(energy)).zip(sf(v[at::WH_SF])).map(|(e, s)| e * s / 1000.0),
        temperature_c: int16(v[at::TMP_CAB], sf(v[at::TMP_SF])),
        soc_pct: None,
        fault: v[at::ST] == ST_FAULT,
        grid_connected: None,
        available_kw: None,
    };
    // Model 122 is extra: a short one is left out rather than failing the poll.
    if let Some(m) = d.find(&[122]) {
        match read_block(r, m, at::MS_LEN).await {
            Ok(s) => {
                // ECPConn: 1 CONNECTED, 0 DISCONNECTED, 0xFFFF not implemented.
                let ecp = s[at::ECP_CONN];
                reading.grid_connected = (ecp != 0xFFFF).then_some(ecp & 1 == 1);
                reading.available_kw = uint16(s[at::W_AVAL], sf(s[at::W_AVAL_SF])).map(|w| w / 1000.0);
            }
            Err(LinkError::Device(e)) => tracing::debug!(error = %e, "SunSpec model 122 left out"),
            Err(e) => return Err(e),
        }
    }
    if let Some(m) = d.find(&[124]) {
        let s = read_block(r, m, 24).await?;
        reading.soc_pct = uint16(s[at::CHA_STATE], sf(s[at::CHA_STATE_SF]));
    }
    if reading.soc_pct.is_none()
        && let Some(m) = d.find(&[802])
    {
        let s = read_block(r, m, 62).await?;
        reading.soc_pct = uint16(s[at::SOC], sf(s[at::SOC_SF]));
    }
    Ok(reading)
}

/// Writes a power setpoint and reads it back. Storage (model 124):
/// discharge at `target_kw` > 0 (`StorCtl_Mod` DISCHARGE, `OutWRte` as % of
/// `WChaMax`), charge at < 0 (CHARGE, `InWRte`), hold at 0 (both, rates 0).
/// Otherwise an output limit (model 123 `WMaxLimPct` of `WMax`, enabled);
/// a generator cannot consume, so a negative target is a limit of 0 %.
/// The device reverts by itself after `revert_s` (the models' `RvrtTms`;
/// 0 keeps it until the next setpoint). Returns what was read back.
pub async fn write_setpoint<R: Registers>(
    r: &mut R,
    d: &SunspecDevice,
    target_kw: f64,
    revert_s: u64,
) -> Result<String, LinkError> {
    let revert = revert_s.min(65535) as u16;
    if let Some(m) = d.find(&[124]) {
        let s = read_block(r, m, 24).await?;
        let max =
            d.w_cha_max_kw.filter(|w| *w > 0.0).ok_or_else(|| LinkError::Device("model 124 has no WChaMax".into()))?;
        let scale =
            sf(s[at::IN_OUT_W_RTE_SF]).ok_or_else(|| LinkError::Device("model 124 has no InOutWRte_SF".into()))?;
        let pct = (target_kw.abs() / max * 100.0).min(100.0);
        let raw = (pct / scale).round().clamp(0.0, 32767.0) as u16;
        let (mode, out_rte, in_rte) = if target_kw > 0.0 {
            (DISCHARGE, raw, 0)
        } else if target_kw < 0.0 {
            (CHARGE, 0, raw)
        } else {
            (CHARGE | DISCHARGE, 0, 0)
        };
        r.write(m.address + at::IN_OUT_W_RTE_RVRT_TMS, &[revert]).await?;
        r.write(m.address + at::OUT_W_RTE, &[out_rte, in_rte]).await?;
        r.write(m.address + at::STOR_CTL_MOD, &[mode]).await?;
        let back = read_block(r, m, 24).await?;
        let (o, i, c) =
            (back[usize::from(at::OUT_W_RTE)], back[usize::from(at::IN_W_RTE)], back[usize::from(at::STOR_CTL_MOD)]);
        if (o, i, c) != (out_rte, in_rte, mode) {
            return Err(LinkError::Device(format!(
                "read back StorCtl_Mod {c}, OutWRte {o}, InWRte {i}; wrote {mode}, {out_rte}, {in_rte}"
            )));
        }
        return Ok(format!("StorCtl_Mod {mode}, OutWRte {out_rte}, InWRte {in_rte} (× {scale} % of {max} kW)"));
    }
    let m = d.find(&[123]).ok_or_else(|| LinkError::Device("no controls model (123 or 124)".into()))?;
    let s = read_block(r, m, 24).await?;
    let max = d.w_max_kw.filter(|w| *w > 0.0).ok_or_else(|| LinkError::Device("no WMax (model 121)".into()))?;
    let scale =
        sf(s[at::W_MAX_LIM_PCT_SF]).ok_or_else(|| LinkError::Device("model 123 has no WMaxLimPct_SF".into()))?;
    let pct = (target_kw.max(0.0) / max * 100.0).min(100.0);
    let raw = (pct / scale).round().clamp(0.0, 65534.0) as u16;
    r.write(m.address + at::W_MAX_LIM_PCT_RVRT_TMS, &[revert]).await?;
    r.write(m.address + at::W_MAX_LIM_PCT, &[raw]).await?;
    r.write(m.address + at::W_MAX_LIM_ENA, &[1]).await?;
    let back = read_block(r, m, 24).await?;
    let (p, e) = (back[usize::from(at::W_MAX_LIM_PCT)], back[usize::from(at::W_MAX_LIM_ENA)]);
    if (p, e) != (raw, 1) {
        return Err(LinkError::Device(format!("read back WMaxLimPct {p}, WMaxLim_Ena {e}; wrote {raw}, 1")));
    }
    Ok(format!("WMaxLimPct {raw} (× {scale} % of {max} kW), WMaxLim_Ena 1"))
}

/// Reads the points of an explicit register map.
pub async fn read_points<R: Registers>(r: &mut R, points: &[RegisterPoint]) -> Result<Reading, LinkError> {
    let mut reading = Reading::default();
    for p in points.iter().filter(|p| p.meaning != PointMeaning::PowerSetpoint) {
        let value = read_point(r, p).await?;
        match p.meaning {
            PointMeaning::ActivePower => reading.power_kw = Some(value),
            PointMeaning::Energy => reading.energy_kwh = Some(value),
            PointMeaning::Soc => reading.soc_pct = Some(value),
            PointMeaning::Temperature => reading.temperature_c = Some(value),
            PointMeaning::PowerSetpoint => {}
        }
    }
    Ok(reading)
}

/// The multiplier from a point's raw value to kW, kWh, % or °C.
async fn point_scale<R: Registers>(r: &mut R, p: &RegisterPoint) -> Result<f64, LinkError> {
    let scale = match p.scale_factor_address {
        Some(a) => {
            let raw = r.read(a, 1).await?;
            sf(raw[0]).ok_or_else(|| LinkError::Device(format!("scale factor at {a} is not implemented")))?
        }
        None => p.scale.unwrap_or(1.0),
    };
    Ok(scale * unit_factor(&p.unit))
}

async fn read_point<R: Registers>(r: &mut R, p: &RegisterPoint) -> Result<f64, LinkError> {
    let regs = r.read(p.address, p.data_type.width()).await?;
    let raw = p.data_type.decode(&regs).ok_or_else(|| LinkError::Device(format!("short answer at {}", p.address)))?;
    Ok(raw * point_scale(r, p).await?)
}

/// Writes the power setpoint point of an explicit map and reads it back.
pub async fn write_point<R: Registers>(
    r: &mut R,
    points: &[RegisterPoint],
    target_kw: f64,
) -> Result<String, LinkError> {
    let p = points
        .iter()
        .find(|p| p.meaning == PointMeaning::PowerSetpoint)
        .ok_or_else(|| LinkError::Device("the register map has no power_setpoint".into()))?;
    let scale = point_scale(r, p).await?;
    let raw = target_kw / scale;
    let regs = p
        .data_type
        .encode(raw)
        .ok_or_else(|| LinkError::Device(format!("{target_kw} kW does not fit a {:?} register", p.data_type)))?;
    r.write(p.address, &regs).await?;
    let back = r.read(p.address, p.data_type.width()).await?;
    if back != regs {
        return Err(LinkError::Device(format!("read back {back:?} at {}, wrote {regs:?}", p.address)));
    }
    Ok(format!("{} = {raw} at {}", p.meaning.as_str(), p.address))
}

/// The register image of one device in memory: vpp's own simulated
/// devices serve it (`crate::modbus_sim`), and the tests read it.
pub mod image {
    use super::*;

    /// Holding registers from `base`; reads outside them are refused as a
    /// device refuses an address it lacks.
    #[derive(Debug, Clone)]
    pub struct Image {
        base: u16,
        regs: Vec<u16>,
    }

    impl Default for Image {
        /// All 65,536 registers, zero.
        fn default() -> Self {
            Self { base: 0, regs: vec![0; 65536] }
        }
    }

    impl Image {
        /// `len` registers from `base`, zero.
        pub fn span(base: u16, len: usize) -> Self {
            Self { base, regs: vec![0; len.min(65536 - usize::from(base))] }
        }

        fn range(&self, address: u16, count: usize) -> Option<std::ops::Range<usize>> {
            let from = usize::from(address).checked_sub(usize::from(self.base))?;
            (from + count <= self.regs.len()).then_some(from..from + count)
        }

        /// Sets registers from `address` (ignored outside the span).
        pub fn set(&mut self, address: u16, values: &[u16]) {
            if let Some(r) = self.range(address, values.len()) {
                self.regs[r].copy_from_slice(values);
            }
        }

        /// Registers from `address`, `None` outside the span.
        pub fn get(&self, address: u16, count: u16) -> Option<&[u16]> {
            self.range(address, usize::from(count)).map(|r| &self.regs[r])
        }

        /// One register, 0 outside the span.
        pub fn reg(&self, address: u16) -> u16 {
            self.get(address, 1).map_or(0, |r| r[0])
        }
    }

    impl Registers for Image {
        async fn read(&mut self, address: u16, count: u16) -> Result<Vec<u16>, LinkError> {
            self.get(address, count)
                .map(<[u16]>::to_vec)
                .ok_or_else(|| LinkError::Exception("IllegalDataAddress".into()))
        }

        async fn write(&mut self, address: u16, values: &[u16]) -> Result<(), LinkError> {
            if self.get(address, values.len() as u16).is_none() {
                return Err(LinkError::Exception("IllegalDataAddress".into()));
            }
            self.set(address, values);
            Ok(())
        }
    }

    /// Text as `n` registers, two characters each, NUL-padded.
    pub fn text_regs(s: &str, n: usize) -> Vec<u16> {
        let mut bytes = s.as_bytes().to_vec();
        bytes.resize(n * 2, 0);
        bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()
    }

    /// A SunSpec device's registers: common (1), inverter (103), nameplate
    /// (120), settings (121), measurements and status (122) and either
    /// controls (123) or storage (124),
    /// with power scale factors chosen so the rating fits an int16.
    #[derive(Debug, Clone)]
    pub struct SunspecImage {
        /// The registers.
        pub image: Image,
        /// Each model's id and the address of its first point.
        pub placed: Vec<(u16, u16)>,
        /// Power scale factor (W = raw × 10^w_sf).
        pub w_sf: i16,
        /// Rating, W.
        pub rated_w: f64,
    }

    impl SunspecImage {
        /// A device rated `rated_w` with its marker at 40000.
        pub fn new(rated_w: f64, storage: bool, serial: &str) -> Self {
            Self::at(40000, rated_w, storage, serial)
        }

        /// [`SunspecImage::new`] with the marker at `base`.
        pub fn at(base: u16, rated_w: f64, storage: bool, serial: &str) -> Self {
            // The smallest power of ten that puts the rating under 30,000.
            let mut w_sf = 0i16;
            while rated_w / 10f64.powi(i32::from(w_sf)) > 30_000.0 && w_sf < 10 {
                w_sf += 1;
            }
            let rating = (rated_w / 10f64.powi(i32::from(w_sf))).round() as u16;
            let sf = w_sf as u16;
            let mut img = Image::span(base, 400);
            img.set(base, &MARKER);
            let mut addr = base + 2;
            let mut placed = Vec::new();
            let mut model = |img: &mut Image, id: u16, len: u16| {
                img.set(addr, &[id, len]);
                placed.push((id, addr + 2));
                addr += 2 + len;
                addr - len
            };
            let common = model(&mut img, 1, 66);
            img.set(common + at::MN as u16, &text_regs("vpp", 16));
            img.set(common + at::MD as u16, &text_regs(if storage { "sim-battery" } else { "sim-inverter" }, 16));
            img.set(common + at::SN as u16, &text_regs(serial, 16));
            img.set(common + 64, &[1]);
            let inv = model(&mut img, 103, 50);
            // WH_SF 0 (Wh), Tmp_SF -1 (0.1 °C), St MPPT.
            img.set(inv + at::W_SF as u16, &[sf]);
            img.set(inv + at::WH_SF as u16, &[0]);
            img.set(inv + at::TMP_SF as u16, &[(-1i16) as u16]);
            img.set(inv + at::ST as u16, &[4]);
            let nameplate = model(&mut img, 120, 26);
            img.set(nameplate, &[if storage { 82 } else { 4 }, rating, sf]);
            let settings = model(&mut img, 121, 30);
            img.set(settings + at::W_MAX as u16, &[rating]);
            img.set(settings + at::W_MAX_SF as u16, &[sf]);
            // Measurements and status: PV connected, available and operating;
            // the grid connection closed; the whole rating available.
            let status = model(&mut img, 122, at::MS_LEN);
            img.set(status, &[0b111, 0, 1]);
            img.set(status + at::W_AVAL as u16, &[rating, sf]);
            if storage {
                let s = model(&mut img, 124, 24);
                img.set(s + at::W_CHA_MAX as u16, &[rating]);
                img.set(s + at::W_CHA_MAX_SF as u16, &[sf]);
                img.set(s + at::STOR_CTL_MOD, &[0]);
                // ChaState_SF -1 (0.1 %), InOutWRte_SF -1 (0.1 %).
                img.set(s + at::CHA_STATE_SF as u16, &[(-1i16) as u16]);
                img.set(s + at::IN_OUT_W_RTE_SF as u16, &[(-1i16) as u16]);
            } else {
                let c = model(&mut img, 123, 24);
                // WMaxLimPct_SF -1 (0.1 %), limit 100 %, not enabled.
                img.set(c + at::W_MAX_LIM_PCT_SF as u16, &[(-1i16) as u16]);
                img.set(c + at::W_MAX_LIM_PCT, &[1000]);
            }
            img.set(addr, &[END, 0]);
            Self { image: img, placed, w_sf, rated_w }
        }

        fn model(&self, id: u16) -> Option<u16> {
            self.placed.iter().find(|(m, _)| *m == id).map(|(_, a)| *a)
        }

        /// Writes what the device measures: power (kW, positive into the
        /// grid), lifetime energy, cabinet temperature and, for storage, SOC.
        pub fn set_reading(&mut self, power_kw: f64, energy_kwh: f64, temperature_c: f64, soc_pct: Option<f64>) {
            if let Some(a) = self.model(103) {
                let w = (power_kw * 1000.0 / 10f64.powi(i32::from(self.w_sf))).round().clamp(-32767.0, 32767.0);
                let wh = (energy_kwh * 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32;
                self.image.set(a + at::W as u16, &[w as i16 as u16]);
                self.image.set(a + at::WH as u16, &[(wh >> 16) as u16, wh as u16]);
                self.image.set(a + at::TMP_CAB as u16, &[(temperature_c * 10.0).round() as i16 as u16]);
            }
            if let (Some(a), Some(soc)) = (self.model(124), soc_pct) {
                self.image.set(a + at::CHA_STATE as u16, &[(soc * 10.0).round().clamp(0.0, 1000.0) as u16]);
            }
        }

        /// What the device was told: kW (an output limit, or a storage
        /// rate, positive discharging) and the revert time in seconds
        /// (0: none), or `None` when no control is active.
        pub fn commanded(&self) -> Option<(f64, u16)> {
            let reg = |a: u16, o: u16| self.image.reg(a + o);
            if let Some(a) = self.model(123) {
                if reg(a, at::W_MAX_LIM_ENA) != 1 {
                    return None;
                }
                let pct = f64::from(reg(a, at::W_MAX_LIM_PCT)) / 10.0;
                return Some((pct / 100.0 * self.rated_w / 1000.0, reg(a, at::W_MAX_LIM_PCT_RVRT_TMS)));
            }
            let a = self.model(124)?;
            let rate = |o: u16| f64::from(reg(a, o) as i16) / 10.0 / 100.0 * self.rated_w / 1000.0;
            let revert = reg(a, at::IN_OUT_W_RTE_RVRT_TMS);
            match reg(a, at::STOR_CTL_MOD) {
                DISCHARGE => Some((rate(at::OUT_W_RTE), revert)),
                CHARGE => Some((-rate(at::IN_W_RTE), revert)),
                m if m == CHARGE | DISCHARGE => Some((0.0, revert)),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::image::*;
    use super::*;
    use vpp_domain::device_link::RegisterType;

    #[tokio::test]
    async fn a_sunspec_inverter_is_discovered_read_and_curtailed() {
        let mut dev = SunspecImage::new(10_000.0, false, "INV-1");
        dev.set_reading(7.25, 1234.567, 41.5, None);
        let d = discover(&mut dev.image, None).await.unwrap();
        assert_eq!(d.base_address, 40000);
        assert_eq!(d.models.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 103, 120, 121, 122, 123]);
        assert_eq!((d.manufacturer.as_str(), d.model.as_str(), d.serial.as_str()), ("vpp", "sim-inverter", "INV-1"));
        assert_eq!((d.rated_kw, d.w_max_kw, d.w_cha_max_kw), (Some(10.0), Some(10.0), None));
        let r = read(&mut dev.image, &d).await.unwrap();
        assert_eq!(r.power_kw, Some(7.25));
        assert_eq!(r.energy_kwh, Some(1234.567));
        assert!((r.temperature_c.unwrap() - 41.5).abs() < 1e-9);
        assert_eq!((r.soc_pct, r.fault), (None, false));
        let said = write_setpoint(&mut dev.image, &d, 4.0, 900).await.unwrap();
        assert!(said.contains("WMaxLimPct 400"), "{said}");
        assert_eq!(dev.commanded(), Some((4.0, 900)));
        // A generator cannot consume: a negative target limits to 0 %.
        write_setpoint(&mut dev.image, &d, -3.0, 0).await.unwrap();
        assert_eq!(dev.commanded(), Some((0.0, 0)));
    }

    #[tokio::test]
    async fn a_sunspec_battery_charges_and_discharges_on_model_124() {
        let mut dev = SunspecImage::new(5_000.0, true, "BAT-1");
        dev.set_reading(-2.0, 0.0, 25.0, Some(65.5));
        let d = discover(&mut dev.image, None).await.unwrap();
        assert!(d.is_storage());
        let r = read(&mut dev.image, &d).await.unwrap();
        assert_eq!((r.power_kw, r.energy_kwh, r.soc_pct), (Some(-2.0), None, Some(65.5)));
        write_setpoint(&mut dev.image, &d, 2.5, 900).await.unwrap();
        assert_eq!(dev.commanded(), Some((2.5, 900)));
        write_setpoint(&mut dev.image, &d, -5.0, 900).await.unwrap();
        assert_eq!(dev.commanded(), Some((-5.0, 900)));
        write_setpoint(&mut dev.image, &d, 0.0, 900).await.unwrap();
        assert_eq!(dev.commanded(), Some((0.0, 900)));
    }

    #[tokio::test]
    async fn a_large_plant_gets_a_power_scale_factor() {
        let mut dev = SunspecImage::new(2_500_000.0, false, "PARK");
        dev.set_reading(1_234.5, 0.0, 20.0, None);
        let d = discover(&mut dev.image, None).await.unwrap();
        assert_eq!((dev.w_sf, d.rated_kw, d.w_max_kw), (2, Some(2_500.0), Some(2_500.0)));
        assert_eq!(read(&mut dev.image, &d).await.unwrap().power_kw, Some(1_234.5));
    }

    #[tokio::test]
    async fn the_marker_is_looked_for_at_the_usual_places_and_its_absence_named() {
        for base in [50000, 0] {
            let mut dev = SunspecImage::at(base, 1_000.0, false, "X");
            let d = discover(&mut dev.image, None).await.unwrap();
            assert_eq!((d.base_address, d.models[0].address), (base, base + 4));
        }
        let mut dev = SunspecImage::at(30000, 1_000.0, false, "X");
        assert_eq!(discover(&mut dev.image, Some(30000)).await.unwrap().models.len(), 6);
        let mut empty = Image::default();
        let e = discover(&mut empty, None).await.unwrap_err();
        assert_eq!(e.to_string(), "no SunSpec marker `SunS` at 40000, 50000, 0");
        let e = discover(&mut empty, Some(30000)).await.unwrap_err();
        assert_eq!(e.to_string(), "no SunSpec marker `SunS` at 30000");
    }

    #[tokio::test]
    async fn an_explicit_map_reads_scaled_values_and_writes_the_setpoint() {
        let mut img = Image::default();
        img.set(100, &RegisterType::I32.encode(-12_500.0).unwrap());
        img.set(102, &[(-1i16) as u16]);
        img.set(200, &[873]);
        let points = vec![
            RegisterPoint {
                meaning: PointMeaning::ActivePower,
                address: 100,
                data_type: RegisterType::I32,
                unit: "W".into(),
                scale: None,
                scale_factor_address: Some(102),
            },
            RegisterPoint {
                meaning: PointMeaning::Soc,
                address: 200,
                data_type: RegisterType::U16,
                unit: "%".into(),
                scale: Some(0.1),
                scale_factor_address: None,
            },
            RegisterPoint {
                meaning: PointMeaning::PowerSetpoint,
                address: 300,
                data_type: RegisterType::I32,
                unit: "W".into(),
                scale: None,
                scale_factor_address: None,
            },
        ];
        let r = read_points(&mut img, &points).await.unwrap();
        assert_eq!(r.power_kw, Some(-1.25));
        assert!((r.soc_pct.unwrap() - 87.3).abs() < 1e-9);
        write_point(&mut img, &points, -3.5).await.unwrap();
        assert_eq!(RegisterType::I32.decode(img.get(300, 2).unwrap()), Some(-3500.0));
    }
}
