//! Virtual power plants: portfolios of resources with allocation ratios, and
//! the double-booking rule.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, Invalid, check_name};

/// Tolerance for sums of allocation ratios (floating point).
pub const RATIO_EPSILON: f64 = 1e-9;

/// The market a VPP serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MarketType {
    /// Day-ahead and intraday energy.
    Spot,
    /// Balancing reserves.
    Ancillary,
    /// Capacity market.
    Capacity,
}

impl MarketType {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spot => "SPOT",
            Self::Ancillary => "ANCILLARY",
            Self::Capacity => "CAPACITY",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Spot, Self::Ancillary, Self::Capacity].into_iter().find(|m| m.as_str() == s)
    }
}

/// Lifecycle of a VPP. Only `ACTIVE` VPPs hold allocations and dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VppStatus {
    /// Operating: its allocations count, it can be dispatched.
    Active,
    /// Configured but not operating; its allocations do not count.
    Inactive,
    /// Temporarily stopped; its allocations do not count.
    Suspended,
}

impl VppStatus {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Suspended => "SUSPENDED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Inactive, Self::Suspended].into_iter().find(|m| m.as_str() == s)
    }
}

/// Share of a resource's flexibility that belongs to one VPP, in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct AllocationRatio(f64);

impl AllocationRatio {
    /// The whole resource.
    pub const FULL: AllocationRatio = AllocationRatio(1.0);

    /// Parses a ratio; refuses anything outside (0, 1].
    pub fn new(value: f64) -> Result<Self, String> {
        if value.is_finite() && value > 0.0 && value <= 1.0 {
            Ok(Self(value))
        } else {
            Err(format!("allocation_ratio must be in (0, 1], got {value}"))
        }
    }

    /// The ratio as a number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for AllocationRatio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Default dispatch priority; lower numbers dispatch first.
pub const DEFAULT_PRIORITY: i32 = 100;

/// One resource's membership in a VPP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Resource id.
    pub resource_id: String,
    /// Share of the resource that belongs to this VPP.
    #[schema(value_type = f64)]
    #[serde(default = "full")]
    pub allocation_ratio: AllocationRatio,
    /// Dispatch priority: 1 goes first; default 100.
    #[serde(default = "default_priority")]
    pub priority: i32,
}

fn full() -> AllocationRatio {
    AllocationRatio::FULL
}

fn default_priority() -> i32 {
    DEFAULT_PRIORITY
}

/// A stored VPP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Vpp {
    /// Server-assigned id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free description.
    pub description: String,
    /// Market served.
    pub market_type: MarketType,
    /// Lifecycle status.
    pub status: VppStatus,
    /// Members, ordered by resource id.
    pub members: Vec<Member>,
    /// When created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// What a client sends to create a VPP.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VppRequest {
    /// Unique name.
    pub name: String,
    /// Free description.
    #[serde(default)]
    pub description: String,
    /// Market served.
    pub market_type: MarketType,
    /// Initial status; default ACTIVE.
    #[serde(default)]
    pub status: Option<VppStatus>,
    /// Resources to add whole (ratio 1, priority 100).
    #[serde(default)]
    pub resource_ids: Vec<String>,
    /// Resources to add with a ratio and priority.
    #[serde(default)]
    pub members: Vec<Member>,
}

impl VppRequest {
    /// Validates the request and returns the combined member list.
    pub fn validate(&self) -> Result<Vec<Member>, Invalid> {
        let mut errors = Errors::default();
        check_name(&mut errors, "name", &self.name);
        errors.check(self.description.chars().count() <= 2000, "description", "must be at most 2000 characters");
        let members: Vec<Member> = self
            .resource_ids
            .iter()
            .map(|id| Member {
                resource_id: id.clone(),
                allocation_ratio: AllocationRatio::FULL,
                priority: DEFAULT_PRIORITY,
            })
            .chain(self.members.iter().cloned())
            .collect();
        let mut seen = HashSet::new();
        for (i, m) in members.iter().enumerate() {
            let field = if i < self.resource_ids.len() {
                format!("resource_ids[{i}]")
            } else {
                format!("members[{}].resource_id", i - self.resource_ids.len())
            };
            errors.check(
                seen.insert(m.resource_id.as_str()),
                field,
                format!("resource `{}` is listed twice", m.resource_id),
            );
        }
        errors.finish(members)
    }
}

/// Partial update of a VPP's own fields.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VppUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New market type.
    pub market_type: Option<MarketType>,
    /// New status; activation is refused if it would double-book a member.
    pub status: Option<VppStatus>,
}

/// Changes to the member list, applied all together or not at all.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipChange {
    /// Resources to add.
    #[serde(default)]
    pub add_resources: Vec<Member>,
    /// Resource ids to remove.
    #[serde(default)]
    pub remove_resources: Vec<String>,
    /// Members to change.
    #[serde(default)]
    pub update_resources: Vec<MemberUpdate>,
}

/// A change to one member's ratio or priority.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    /// Resource id of the member.
    pub resource_id: String,
    /// New ratio.
    #[schema(value_type = Option<f64>)]
    pub allocation_ratio: Option<AllocationRatio>,
    /// New priority.
    pub priority: Option<i32>,
}

impl MembershipChange {
    /// Applies the change to `current` members, checking that removed and
    /// updated resources are members, added ones are not, and no resource is
    /// named twice. Returns the new member list with the field path of each
    /// member's origin (for error messages).
    pub fn apply(&self, current: &[Member]) -> Result<Vec<(Member, String)>, Invalid> {
        let mut errors = Errors::default();
        let mut named = HashSet::new();
        let is_member = |id: &str| current.iter().any(|m| m.resource_id == id);
        let mut members: Vec<(Member, String)> =
            current.iter().map(|m| (m.clone(), format!("members.{}", m.resource_id))).collect();
        for (i, id) in self.remove_resources.iter().enumerate() {
            let field = format!("remove_resources[{i}]");
            errors.check(named.insert(id.as_str()), &field, format!("resource `{id}` is named twice"));
            errors.check(is_member(id), &field, format!("resource `{id}` is not a member"));
            members.retain(|(m, _)| &m.resource_id != id);
        }
        for (i, u) in self.update_resources.iter().enumerate() {
            let field = format!("update_resources[{i}]");
            errors.check(
                named.insert(u.resource_id.as_str()),
                format!("{field}.resource_id"),
                format!("resource `{}` is named twice", u.resource_id),
            );
            match members.iter_mut().find(|(m, _)| m.resource_id == u.resource_id) {
                Some((m, origin)) => {
                    if let Some(r) = u.allocation_ratio {
                        m.allocation_ratio = r;
                    }
                    if let Some(p) = u.priority {
                        m.priority = p;
                    }
                    *origin = format!("{field}.allocation_ratio");
                }
                None => {
                    errors.push(format!("{field}.resource_id"), format!("resource `{}` is not a member", u.resource_id))
                }
            }
        }
        for (i, m) in self.add_resources.iter().enumerate() {
            let field = format!("add_resources[{i}]");
            errors.check(
                named.insert(m.resource_id.as_str()),
                format!("{field}.resource_id"),
                format!("resource `{}` is named twice", m.resource_id),
            );
            errors.check(
                !is_member(&m.resource_id),
                format!("{field}.resource_id"),
                format!("resource `{}` is already a member", m.resource_id),
            );
            members.push((m.clone(), format!("{field}.allocation_ratio")));
        }
        for (m, origin) in &members {
            errors.check(
                (1..=10_000).contains(&m.priority),
                origin.replace("allocation_ratio", "priority"),
                "priority must be 1..10000",
            );
        }
        members.sort_by(|a, b| a.0.resource_id.cmp(&b.0.resource_id));
        errors.finish(members)
    }
}

/// A resource's allocation in another active VPP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Allocation {
    /// VPP id.
    pub vpp_id: String,
    /// VPP name.
    pub vpp_name: String,
    /// Ratio held there.
    pub allocation_ratio: f64,
}

/// A refused allocation: the resource would be promised more than 100 %.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DoubleBooking {
    /// Request field that asked for the allocation.
    pub field: String,
    /// Resource id.
    pub resource_id: String,
    /// Resource name.
    pub resource_name: String,
    /// Ratio requested.
    pub requested_ratio: f64,
    /// Allocations held by other active VPPs.
    pub allocations: Vec<Allocation>,
    /// Ratio still free: 1 − Σ others.
    pub ratio_left: f64,
}

impl std::fmt::Display for DoubleBooking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held: Vec<String> = self
            .allocations
            .iter()
            .map(|a| format!("{} ({}) holds {}", a.vpp_name, a.vpp_id, a.allocation_ratio))
            .collect();
        write!(
            f,
            "resource {} ({}) would be double-booked: requested {} but {}; ratio left {:.6}",
            self.resource_name,
            self.resource_id,
            self.requested_ratio,
            held.join(", "),
            self.ratio_left
        )
    }
}

/// Checks the double-booking rule: the requested ratio plus the ratios held in
/// other active VPPs must not exceed 1.
pub fn check_double_booking(
    field: &str,
    resource_id: &str,
    resource_name: &str,
    requested: f64,
    others: Vec<Allocation>,
) -> Result<(), DoubleBooking> {
    let held: f64 = others.iter().map(|a| a.allocation_ratio).sum();
    if held + requested <= 1.0 + RATIO_EPSILON {
        return Ok(());
    }
    Err(DoubleBooking {
        field: field.to_string(),
        resource_id: resource_id.to_string(),
        resource_name: resource_name.to_string(),
        requested_ratio: requested,
        allocations: others,
        ratio_left: (1.0 - held).max(0.0),
    })
}

/// Kinds of conflict reported by `GET /conflicts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConflictKind {
    /// Σ allocation ratios over active VPPs exceeds 1.
    OverAllocated,
    /// An active VPP counts on a resource that is not ONLINE.
    UnavailableMember,
}

/// One current conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conflict {
    /// What is wrong.
    pub kind: ConflictKind,
    /// Resource concerned.
    pub resource_id: String,
    /// Resource name.
    pub resource_name: String,
    /// Resource status.
    pub resource_status: crate::resource::ResourceStatus,
    /// The active VPPs involved and their ratios.
    pub allocations: Vec<Allocation>,
    /// Σ ratios over active VPPs.
    pub total_ratio: f64,
    /// Explanation.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn alloc(id: &str, r: f64) -> Allocation {
        Allocation { vpp_id: id.into(), vpp_name: format!("VPP {id}"), allocation_ratio: r }
    }

    #[test]
    fn ratio_bounds() {
        assert!(AllocationRatio::new(0.0).is_err());
        assert!(AllocationRatio::new(1.0).is_ok());
        assert!(AllocationRatio::new(1.0000001).is_err());
        assert!(AllocationRatio::new(f64::NAN).is_err());
        assert!(serde_json::from_str::<AllocationRatio>("1.7").is_err());
    }

    #[test]
    fn double_booking_names_vpps_and_ratio_left() {
        let err = check_double_booking("f", "r1", "Battery 1", 0.5, vec![alloc("a", 0.4), alloc("b", 0.3)])
            .expect_err("1.2 > 1");
        assert_eq!(err.allocations.len(), 2);
        assert!((err.ratio_left - 0.3).abs() < 1e-12);
        assert!(err.to_string().contains("VPP a"));
        assert!(check_double_booking("f", "r1", "B", 0.3, vec![alloc("a", 0.4), alloc("b", 0.3)]).is_ok());
    }

    #[test]
    fn membership_change_is_checked() {
        let current = vec![Member { resource_id: "a".into(), allocation_ratio: AllocationRatio::FULL, priority: 100 }];
        let change: MembershipChange = serde_json::from_value(serde_json::json!({
            "add_resources": [{"resource_id": "a"}],
            "remove_resources": ["zz"],
        }))
        .expect("json");
        let err = change.apply(&current).expect_err("invalid");
        let fields: Vec<_> = err.0.iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, vec!["remove_resources[0]", "add_resources[0].resource_id"]);
    }

    proptest! {
        #[test]
        fn ratios_within_one_never_conflict(held in proptest::collection::vec(0.0f64..0.2, 0..5), r in 0.0f64..0.2) {
            let others: Vec<_> = held.iter().enumerate().map(|(i, h)| alloc(&i.to_string(), *h)).collect();
            let sum: f64 = held.iter().sum::<f64>() + r;
            prop_assert_eq!(check_double_booking("f", "x", "x", r, others).is_ok(), sum <= 1.0 + RATIO_EPSILON);
        }
    }
}
