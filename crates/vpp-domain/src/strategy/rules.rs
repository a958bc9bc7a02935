//! The rule language of strategies: IF conditions THEN actions.
//!
//! A rule is `{name?, conditions: [...], actions: [...]}`. The conditions
//! of a rule all have to hold (AND); a condition is a comparison
//! `{field, operator, value}` or a group `{"and": [...]}`, `{"or": [...]}`,
//! `{"not": {...}}`. Rules are tried in order and the first whose
//! conditions hold fires; when none does, the strategy holds.
//!
//! Conditions are evaluated in three-valued logic: a field that was not
//! known at decision time (no price published yet, no forecast) makes its
//! comparison unknown, `not` of unknown stays unknown, and a rule fires only
//! when its conditions are true. A strategy thus never acts on a value it
//! could not have seen.
//!
//! Everything that can be checked without data is checked when the
//! strategy is saved ([`RuleSet::parse`]): unknown fields and operators,
//! values of the wrong type, `in` lists outside the field's range (a
//! comparison beyond the range is either never true, refused below, or
//! always true, which is harmless on its own), actions with
//! missing or bad parameters, price formulas naming unknown fields, and
//! rules that can never fire (contradictory conditions, or an earlier rule
//! that always fires first).

use serde::Serialize;
use serde_json::Value;

use crate::error::{Errors, Invalid};
use crate::market::auction::Side;

/// A quantity a rule can look at, as known at the decision time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// Newest price forecast for the interval, currency/MWh.
    ForecastPrice,
    /// Market price of the interval if already published, currency/MWh.
    ActualPrice,
    /// Rank of the interval's price (actual if known, else forecast) among
    /// the delivery day's intervals, 0 (cheapest) to 100 (dearest).
    PricePercentile,
    /// Local hour of the interval start in the market's time zone, 0..23.
    Hour,
    /// Local weekday of the interval, 1 (Monday) to 7 (Sunday).
    Weekday,
    /// Battery state of charge at the interval start, %.
    Soc,
    /// Newest generation forecast of the portfolio, kW.
    ForecastGeneration,
    /// Newest load forecast of the portfolio, kW.
    ForecastLoad,
    /// Power the battery can still discharge in the interval, kW.
    AvailableUp,
    /// Power the battery can still charge in the interval, kW.
    AvailableDown,
    /// Imbalance price of the interval if already published, currency/MWh.
    ImbalancePrice,
    /// Any stored series, by name (`series:<name>`), newest value known.
    Series(String),
}

/// Fields with a fixed name, with their wire names.
const NAMED: [(Field, &str); 11] = [
    (Field::ForecastPrice, "forecast_price"),
    (Field::ActualPrice, "actual_price"),
    (Field::PricePercentile, "price_percentile"),
    (Field::Hour, "hour"),
    (Field::Weekday, "weekday"),
    (Field::Soc, "soc"),
    (Field::ForecastGeneration, "forecast_generation"),
    (Field::ForecastLoad, "forecast_load"),
    (Field::AvailableUp, "available_up"),
    (Field::AvailableDown, "available_down"),
    (Field::ImbalancePrice, "imbalance_price"),
];

impl Field {
    /// Parses a wire name: one of the fixed names or `series:<name>`.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(name) = s.strip_prefix("series:") {
            let name = name.trim();
            return (!name.is_empty()).then(|| Self::Series(name.to_string()));
        }
        NAMED.iter().find(|(_, n)| *n == s).map(|(f, _)| f.clone())
    }

    /// Wire name.
    pub fn name(&self) -> String {
        match self {
            Self::Series(n) => format!("series:{n}"),
            other => NAMED.iter().find(|(f, _)| f == other).map(|(_, n)| n.to_string()).unwrap_or_default(),
        }
    }

    /// The values the field can take: `(min, max, integer)`.
    fn domain(&self) -> (f64, f64, bool) {
        match self {
            Self::PricePercentile | Self::Soc => (0.0, 100.0, false),
            Self::Hour => (0.0, 23.0, true),
            Self::Weekday => (1.0, 7.0, true),
            Self::ForecastGeneration | Self::ForecastLoad | Self::AvailableUp | Self::AvailableDown => {
                (0.0, f64::INFINITY, false)
            }
            _ => (f64::NEG_INFINITY, f64::INFINITY, false),
        }
    }

    /// Every fixed wire name, for error messages and the console's picker.
    pub fn catalogue() -> Vec<FieldInfo> {
        NAMED
            .iter()
            .map(|(f, n)| {
                let (min, max, integer) = f.domain();
                FieldInfo {
                    name: n,
                    unit: f.unit(),
                    min: min.is_finite().then_some(min),
                    max: max.is_finite().then_some(max),
                    integer,
                }
            })
            .collect()
    }

    fn unit(&self) -> &'static str {
        match self {
            Self::ForecastPrice | Self::ActualPrice | Self::ImbalancePrice => "currency/MWh",
            Self::PricePercentile | Self::Soc => "%",
            Self::Hour => "h",
            Self::Weekday => "1=Mon..7=Sun",
            Self::ForecastGeneration | Self::ForecastLoad | Self::AvailableUp | Self::AvailableDown => "kW",
            Self::Series(_) => "the series' unit",
        }
    }
}

/// A field as the catalogue describes it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldInfo {
    /// Wire name.
    pub name: &'static str,
    /// Unit of its values.
    pub unit: &'static str,
    /// Lowest value, if bounded.
    pub min: Option<f64>,
    /// Highest value, if bounded.
    pub max: Option<f64>,
    /// Whole numbers only.
    pub integer: bool,
}

/// Comparison of a field with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `between`: `[low, high]`, both included.
    Between,
    /// `in`: one of a list.
    In,
}

impl Operator {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            ">" | "gt" => Self::Gt,
            ">=" | "gte" | "ge" => Self::Gte,
            "<" | "lt" => Self::Lt,
            "<=" | "lte" | "le" => Self::Lte,
            "==" | "=" | "eq" => Self::Eq,
            "!=" | "ne" | "neq" => Self::Ne,
            "between" => Self::Between,
            "in" => Self::In,
            _ => return None,
        })
    }
}

/// A condition tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `field operator value`; `values` holds one value, two for
    /// `between`, or the list for `in`.
    Compare {
        /// Field compared.
        field: Field,
        /// Operator.
        operator: Operator,
        /// Operand(s).
        values: Vec<f64>,
    },
    /// All hold.
    And(Vec<Condition>),
    /// At least one holds.
    Or(Vec<Condition>),
    /// Does not hold.
    Not(Box<Condition>),
}

/// How much a bid offers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BidQuantity {
    /// Fixed power, kW.
    Kw(f64),
    /// Share of what the battery can deliver in that direction, %.
    PctAvailable(f64),
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Offer (sell, discharge) or ask (buy, charge) a quantity at a price.
    Bid {
        /// Sell or buy.
        side: Side,
        /// Quantity.
        quantity: BidQuantity,
        /// Limit price, currency/MWh.
        price: Formula,
    },
    /// Charge towards a target SOC, at most `power_kw` (the battery's limit if absent).
    Charge {
        /// Stop at this SOC, % (the battery's highest if absent).
        target_soc_pct: Option<f64>,
        /// Power, kW.
        power_kw: Option<f64>,
    },
    /// Discharge towards a target SOC.
    Discharge {
        /// Stop at this SOC, % (the battery's lowest if absent).
        target_soc_pct: Option<f64>,
        /// Power, kW.
        power_kw: Option<f64>,
    },
    /// Cut generation or defer flexible load by a share.
    Curtail {
        /// `generation` or `load`.
        target: CurtailTarget,
        /// Share cut, %.
        share_pct: f64,
    },
    /// Do nothing.
    Hold,
    /// Follow the optimiser's battery plan for the delivery day, planned on
    /// the prices known at decision time.
    Optimise {
        /// Wear cost per kWh of throughput, currency (the battery's own if absent).
        cycle_cost_per_kwh: Option<f64>,
    },
}

/// What a curtailment cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CurtailTarget {
    /// Generation sold (spilled energy).
    Generation,
    /// Flexible load (deferred, to be made up later in the day).
    Load,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Name shown in explanations (`rule N` if not given).
    pub name: String,
    /// All of these hold (empty: always).
    pub condition: Condition,
    /// What it does; the first action is the one executed per interval,
    /// a `curtail` may come beside it.
    pub actions: Vec<Action>,
}

/// A checked list of rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleSet {
    /// Rules in order.
    pub rules: Vec<Rule>,
}

/// Value lookup at one decision: `None` when not known then.
pub trait Values {
    /// The field's value, if known.
    fn get(&self, field: &Field) -> Option<f64>;
}

/// Which rule fired and what it saw.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// Index of the rule that fired, if any.
    pub rule: Option<usize>,
    /// Its name, or `no rule fired`.
    pub rule_name: String,
    /// The fields the rules looked at with the values seen (null: not known at decision time).
    pub seen: Vec<(String, Option<f64>)>,
}

/// Most terms the never-fires analysis expands a rule into.
const MAX_TERMS: usize = 1024;
/// Most rules in one strategy.
pub const MAX_RULES: usize = 200;

impl RuleSet {
    /// Parses and checks rules from their JSON form; every problem is
    /// reported with its path (`rules[2].conditions[0].operator`).
    pub fn parse(value: &Value, path: &str) -> Result<Self, Invalid> {
        let mut e = Errors::default();
        let Some(items) = value.as_array() else {
            return Err(Invalid::one(path, "must be a list of rules"));
        };
        if items.len() > MAX_RULES {
            return Err(Invalid::one(path, format!("at most {MAX_RULES} rules")));
        }
        let mut rules = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            if let Some(rule) = parse_rule(item, &p, i, &mut e) {
                rules.push(rule);
            }
        }
        if e.is_empty() {
            never_fire(&rules, path, &mut e);
        }
        e.finish(Self { rules })
    }

    /// The first rule whose conditions hold, with what the rules saw.
    pub fn decide(&self, values: &impl Values) -> (Option<&Rule>, Explanation) {
        for (i, rule) in self.rules.iter().enumerate() {
            if eval(&rule.condition, values) == Some(true) {
                let mut fields = Vec::new();
                rule_fields(rule, &mut fields);
                return (Some(rule), explain(Some(i), rule.name.clone(), &fields, values));
            }
        }
        let mut fields = Vec::new();
        for rule in &self.rules {
            rule_fields(rule, &mut fields);
        }
        (None, explain(None, "no rule fired".into(), &fields, values))
    }

    /// Every field named by a condition or formula, once.
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        for rule in &self.rules {
            rule_fields(rule, &mut out);
        }
        out
    }

    /// True if some rule runs the optimiser.
    pub fn uses_optimiser(&self) -> bool {
        self.rules.iter().flat_map(|r| &r.actions).any(|a| matches!(a, Action::Optimise { .. }))
    }
}

fn explain(rule: Option<usize>, name: String, fields: &[Field], values: &impl Values) -> Explanation {
    Explanation { rule, rule_name: name, seen: fields.iter().map(|f| (f.name(), values.get(f))).collect() }
}

fn rule_fields(rule: &Rule, out: &mut Vec<Field>) {
    condition_fields(&rule.condition, out);
    for action in &rule.actions {
        if let Action::Bid { price, .. } = action {
            price.fields(out);
        }
    }
}

fn condition_fields(c: &Condition, out: &mut Vec<Field>) {
    match c {
        Condition::Compare { field, .. } => {
            if !out.contains(field) {
                out.push(field.clone());
            }
        }
        Condition::And(cs) | Condition::Or(cs) => cs.iter().for_each(|c| condition_fields(c, out)),
        Condition::Not(c) => condition_fields(c, out),
    }
}

/// Kleene logic: `None` is unknown.
fn eval(c: &Condition, values: &impl Values) -> Option<bool> {
    match c {
        Condition::Compare { field, operator, values: operands } => {
            let v = values.get(field)?;
            Some(compare(v, *operator, operands))
        }
        Condition::And(cs) => {
            let mut unknown = false;
            for c in cs {
                match eval(c, values) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown { None } else { Some(true) }
        }
        Condition::Or(cs) => {
            let mut unknown = false;
            for c in cs {
                match eval(c, values) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
        Condition::Not(c) => eval(c, values).map(|b| !b),
    }
}

fn compare(v: f64, op: Operator, operands: &[f64]) -> bool {
    let a = operands.first().copied().unwrap_or(f64::NAN);
    match op {
        Operator::Gt => v > a,
        Operator::Gte => v >= a,
        Operator::Lt => v < a,
        Operator::Lte => v <= a,
        Operator::Eq => v == a,
        Operator::Ne => v != a,
        Operator::Between => operands.len() == 2 && v >= operands[0] && v <= operands[1],
        Operator::In => operands.contains(&v),
    }
}

// ---------------------------------------------------------------- parsing

fn parse_rule(item: &Value, p: &str, i: usize, e: &mut Errors) -> Option<Rule> {
    let Some(obj) = item.as_object() else {
        e.push(p, "must be an object {name?, conditions, actions}");
        return None;
    };
    for key in obj.keys() {
        if !["name", "conditions", "actions"].contains(&key.as_str()) {
            e.push(format!("{p}.{key}"), "unknown key; a rule has name, conditions and actions");
        }
    }
    let name = match obj.get("name") {
        None | Some(Value::Null) => format!("rule {}", i + 1),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 200 => s.trim().to_string(),
        Some(_) => {
            e.push(format!("{p}.name"), "must be a non-empty text of at most 200 characters");
            String::new()
        }
    };
    let conditions = match obj.get("conditions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(cs)) => cs
            .iter()
            .enumerate()
            .filter_map(|(k, c)| parse_condition(c, &format!("{p}.conditions[{k}]"), e, 0))
            .collect(),
        Some(_) => {
            e.push(format!("{p}.conditions"), "must be a list of conditions");
            Vec::new()
        }
    };
    let actions: Vec<Action> = match obj.get("actions") {
        Some(Value::Array(acts)) if !acts.is_empty() => {
            acts.iter().enumerate().filter_map(|(k, a)| parse_action(a, &format!("{p}.actions[{k}]"), e)).collect()
        }
        _ => {
            e.push(format!("{p}.actions"), "must be a non-empty list of actions");
            Vec::new()
        }
    };
    // Counted on the raw types, so that a rule with a bad action still hears about a second one.
    let main = obj
        .get("actions")
        .and_then(Value::as_array)
        .map_or(0, |acts| acts.iter().filter(|a| a.get("type").and_then(Value::as_str) != Some("curtail")).count());
    if main > 1 {
        e.push(
            format!("{p}.actions"),
            "at most one of bid, charge, discharge, hold and optimise per rule (curtail may come beside it)",
        );
    }
    Some(Rule { name, condition: Condition::And(conditions), actions })
}

const MAX_DEPTH: usize = 16;

fn parse_condition(c: &Value, p: &str, e: &mut Errors, depth: usize) -> Option<Condition> {
    if depth > MAX_DEPTH {
        e.push(p, format!("conditions nest deeper than {MAX_DEPTH} levels"));
        return None;
    }
    let Some(obj) = c.as_object() else {
        e.push(p, "must be an object: {field, operator, value} or {and|or: [...]} or {not: {...}}");
        return None;
    };
    for group in ["and", "or"] {
        if let Some(inner) = obj.get(group) {
            if obj.len() != 1 {
                e.push(p, format!("a `{group}` group has no other keys"));
                return None;
            }
            let Some(list) = inner.as_array().filter(|l| !l.is_empty()) else {
                e.push(format!("{p}.{group}"), "must be a non-empty list of conditions");
                return None;
            };
            let parts: Vec<_> = list
                .iter()
                .enumerate()
                .filter_map(|(k, c)| parse_condition(c, &format!("{p}.{group}[{k}]"), e, depth + 1))
                .collect();
            return Some(if group == "and" { Condition::And(parts) } else { Condition::Or(parts) });
        }
    }
    if let Some(inner) = obj.get("not") {
        if obj.len() != 1 {
            e.push(p, "a `not` group has no other keys");
            return None;
        }
        return parse_condition(inner, &format!("{p}.not"), e, depth + 1).map(|c| Condition::Not(Box::new(c)));
    }
    for key in obj.keys() {
        if !["field", "operator", "value"].contains(&key.as_str()) {
            e.push(format!("{p}.{key}"), "unknown key; a comparison has field, operator and value");
        }
    }
    let field = match obj.get("field").and_then(Value::as_str) {
        Some(name) => match Field::parse(name) {
            Some(f) => Some(f),
            None => {
                let known: Vec<_> = NAMED.iter().map(|(_, n)| *n).collect();
                e.push(
                    format!("{p}.field"),
                    format!("unknown field `{name}`; known: {}, or series:<name>", known.join(", ")),
                );
                None
            }
        },
        None => {
            e.push(format!("{p}.field"), "is required (a field name)");
            None
        }
    };
    let operator = match obj.get("operator").and_then(Value::as_str) {
        Some(s) => match Operator::parse(s) {
            Some(o) => Some(o),
            None => {
                e.push(
                    format!("{p}.operator"),
                    format!("unknown operator `{s}`; use >, >=, <, <=, ==, !=, between, in"),
                );
                None
            }
        },
        None => {
            e.push(format!("{p}.operator"), "is required");
            None
        }
    };
    let (field, operator) = (field?, operator?);
    let vp = format!("{p}.value");
    let values: Vec<f64> = match (operator, obj.get("value")) {
        (_, None) => {
            e.push(&vp, "is required");
            return None;
        }
        (Operator::Between, Some(Value::Array(pair))) if pair.len() == 2 => {
            let nums: Vec<f64> = pair.iter().filter_map(Value::as_f64).collect();
            if nums.len() != 2 {
                e.push(&vp, format!("`between` takes two numbers, got {}", Value::Array(pair.clone())));
                return None;
            }
            if nums[0] > nums[1] {
                e.push(&vp, format!("`between` needs low ≤ high, got [{}, {}]", nums[0], nums[1]));
                return None;
            }
            nums
        }
        (Operator::Between, Some(v)) => {
            e.push(&vp, format!("`between` takes [low, high], got {v}"));
            return None;
        }
        (Operator::In, Some(Value::Array(list))) if !list.is_empty() => {
            let nums: Vec<f64> = list.iter().filter_map(Value::as_f64).collect();
            if nums.len() != list.len() {
                e.push(&vp, format!("`in` takes a list of numbers for {}", field.name()));
                return None;
            }
            nums
        }
        (Operator::In, Some(v)) => {
            e.push(&vp, format!("`in` takes a non-empty list of numbers, got {v}"));
            return None;
        }
        (_, Some(v)) => match v.as_f64() {
            Some(x) => vec![x],
            None => {
                e.push(&vp, format!("{} is a number ({}), got {v}", field.name(), field.unit()));
                return None;
            }
        },
    };
    let (min, max, integer) = field.domain();
    if integer && values.iter().any(|v| v.fract() != 0.0) {
        e.push(&vp, format!("{} takes whole numbers ({})", field.name(), field.unit()));
        return None;
    }
    if operator == Operator::In && values.iter().any(|v| *v < min || *v > max) {
        e.push(&vp, format!("{} lies in {min}..{max}; a listed value never matches", field.name()));
        return None;
    }
    Some(Condition::Compare { field, operator, values })
}

fn parse_action(a: &Value, p: &str, e: &mut Errors) -> Option<Action> {
    let Some(obj) = a.as_object() else {
        e.push(p, "must be an object {type, parameters}");
        return None;
    };
    for key in obj.keys() {
        if !["type", "parameters"].contains(&key.as_str()) {
            e.push(format!("{p}.{key}"), "unknown key; an action has type and parameters");
        }
    }
    let empty = serde_json::Map::new();
    let params = match obj.get("parameters") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            e.push(format!("{p}.parameters"), "must be an object");
            return None;
        }
    };
    let pp = |k: &str| format!("{p}.parameters.{k}");
    let allow = |keys: &[&str], e: &mut Errors| {
        for k in params.keys() {
            if !keys.contains(&k.as_str()) {
                e.push(pp(k), format!("unknown parameter; allowed: {}", keys.join(", ")));
            }
        }
    };
    let number = |k: &str, min: f64, max: f64, e: &mut Errors| -> Option<f64> {
        match params.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_f64() {
                Some(x) if x >= min && x <= max => Some(x),
                Some(x) => {
                    e.push(pp(k), format!("must be between {min} and {max}, got {x}"));
                    None
                }
                None => {
                    e.push(pp(k), format!("must be a number, got {v}"));
                    None
                }
            },
        }
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let action = match kind.as_str() {
        "bid" => {
            allow(&["side", "quantity_kw", "quantity_pct", "price"], e);
            let side = match params.get("side").and_then(Value::as_str) {
                Some("sell") => Some(Side::Sell),
                Some("buy") => Some(Side::Buy),
                _ => {
                    e.push(pp("side"), "must be sell or buy");
                    None
                }
            };
            let kw = number("quantity_kw", 0.0, 10_000_000.0, e);
            let pct = number("quantity_pct", 0.0, 100.0, e);
            let quantity = match (kw, pct) {
                (Some(k), None) if k > 0.0 => Some(BidQuantity::Kw(k)),
                (None, Some(s)) if s > 0.0 => Some(BidQuantity::PctAvailable(s)),
                _ => {
                    e.push(pp("quantity_kw"), "give one of quantity_kw (kW > 0) or quantity_pct (% of available, > 0)");
                    None
                }
            };
            let price = match params.get("price") {
                Some(v) => Formula::parse(v).map_err(|m| e.push(pp("price"), m)).ok(),
                None => {
                    e.push(pp("price"), "is required: a number or a formula such as `forecast_price - 5`");
                    None
                }
            };
            Action::Bid { side: side?, quantity: quantity?, price: price? }
        }
        "charge" | "discharge" => {
            allow(&["target_soc_pct", "power_kw"], e);
            let target_soc_pct = number("target_soc_pct", 0.0, 100.0, e);
            let power_kw = number("power_kw", 0.0, 10_000_000.0, e);
            if power_kw == Some(0.0) {
                e.push(pp("power_kw"), "must be above 0 (use hold to do nothing)");
            }
            if kind == "charge" {
                Action::Charge { target_soc_pct, power_kw }
            } else {
                Action::Discharge { target_soc_pct, power_kw }
            }
        }
        "curtail" => {
            allow(&["target", "share_pct"], e);
            let target = match params.get("target").and_then(Value::as_str).unwrap_or("generation") {
                "generation" => CurtailTarget::Generation,
                "load" => CurtailTarget::Load,
                other => {
                    e.push(pp("target"), format!("must be generation or load, got `{other}`"));
                    return None;
                }
            };
            let share_pct = number("share_pct", 0.0, 100.0, e).unwrap_or(100.0);
            Action::Curtail { target, share_pct }
        }
        "hold" => {
            allow(&[], e);
            Action::Hold
        }
        "optimise" | "optimize" => {
            allow(&["cycle_cost_per_kwh"], e);
            Action::Optimise { cycle_cost_per_kwh: number("cycle_cost_per_kwh", 0.0, 10_000.0, e) }
        }
        "" => {
            e.push(format!("{p}.type"), "is required: bid, charge, discharge, curtail, hold or optimise");
            return None;
        }
        other => {
            e.push(
                format!("{p}.type"),
                format!("unknown action `{other}`; use bid, charge, discharge, curtail, hold or optimise"),
            );
            return None;
        }
    };
    Some(action)
}

// ---------------------------------------------------------------- never fires

/// A set of reals as sorted disjoint intervals `(lo, lo_open, hi, hi_open)`.
#[derive(Debug, Clone, PartialEq)]
struct Set(Vec<(f64, bool, f64, bool)>);

impl Set {
    fn all(field: &Field) -> Self {
        let (min, max, _) = field.domain();
        Self(vec![(min, false, max, false)])
    }

    fn of(field: &Field, op: Operator, v: &[f64]) -> Self {
        let (min, max, _) = field.domain();
        let a = v.first().copied().unwrap_or(f64::NAN);
        let raw = match op {
            Operator::Gt => vec![(a, true, max, false)],
            Operator::Gte => vec![(a, false, max, false)],
            Operator::Lt => vec![(min, false, a, true)],
            Operator::Lte => vec![(min, false, a, false)],
            Operator::Eq => vec![(a, false, a, false)],
            Operator::Ne => vec![(min, false, a, true), (a, true, max, false)],
            Operator::Between => vec![(v[0], false, v[1], false)],
            Operator::In => {
                let mut pts = v.to_vec();
                pts.sort_by(f64::total_cmp);
                pts.dedup();
                pts.into_iter().map(|x| (x, false, x, false)).collect()
            }
        };
        Self(raw).intersect(&Self::all(field), field)
    }

    fn intersect(&self, other: &Self, field: &Field) -> Self {
        let mut out = Vec::new();
        for &(a_lo, a_lo_open, a_hi, a_hi_open) in &self.0 {
            for &(b_lo, b_lo_open, b_hi, b_hi_open) in &other.0 {
                let (lo, lo_open) = if a_lo > b_lo {
                    (a_lo, a_lo_open)
                } else if b_lo > a_lo {
                    (b_lo, b_lo_open)
                } else {
                    (a_lo, a_lo_open || b_lo_open)
                };
                let (hi, hi_open) = if a_hi < b_hi {
                    (a_hi, a_hi_open)
                } else if b_hi < a_hi {
                    (b_hi, b_hi_open)
                } else {
                    (a_hi, a_hi_open || b_hi_open)
                };
                if nonempty(lo, lo_open, hi, hi_open, field.domain().2) {
                    out.push((lo, lo_open, hi, hi_open));
                }
            }
        }
        Self(out)
    }

    fn complement(&self, field: &Field) -> Self {
        let (min, max, _) = field.domain();
        let mut out = Vec::new();
        let (mut lo, mut lo_open) = (min, false);
        for &(a, a_open, b, b_open) in &self.0 {
            out.push((lo, lo_open, a, !a_open));
            lo = b;
            lo_open = !b_open;
        }
        out.push((lo, lo_open, max, false));
        let integer = field.domain().2;
        Self(out.into_iter().filter(|&(a, ao, b, bo)| nonempty(a, ao, b, bo, integer)).collect())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn nonempty(lo: f64, lo_open: bool, hi: f64, hi_open: bool, integer: bool) -> bool {
    if integer {
        let first = if lo_open { lo.floor() + 1.0 } else { lo.ceil() };
        let last = if hi_open { hi.ceil() - 1.0 } else { hi.floor() };
        return first <= last;
    }
    lo < hi || (lo == hi && !lo_open && !hi_open && lo.is_finite())
}

/// A conjunction of per-field sets; `None` inside a term marks "no constraint".
type Term = Vec<(Field, Set)>;

/// Disjunctive normal form of `c` (negated when `negate`), or `None` when
/// it would exceed [`MAX_TERMS`] (then the rule is not judged).
fn dnf(c: &Condition, negate: bool) -> Option<Vec<Term>> {
    match (c, negate) {
        (Condition::Compare { field, operator, values }, _) => {
            let set = Set::of(field, *operator, values);
            let set = if negate { set.complement(field) } else { set };
            Some(vec![vec![(field.clone(), set)]])
        }
        (Condition::Not(inner), _) => dnf(inner, !negate),
        (Condition::And(cs), false) | (Condition::Or(cs), true) => {
            let mut terms: Vec<Term> = vec![Vec::new()];
            for c in cs {
                let next = dnf(c, negate)?;
                let mut product = Vec::new();
                for t in &terms {
                    for n in &next {
                        let mut merged = t.clone();
                        merged.extend(n.iter().cloned());
                        product.push(merged);
                    }
                }
                if product.len() > MAX_TERMS {
                    return None;
                }
                terms = product;
            }
            Some(terms)
        }
        (Condition::Or(cs), false) | (Condition::And(cs), true) => {
            let mut terms = Vec::new();
            for c in cs {
                terms.extend(dnf(c, negate)?);
                if terms.len() > MAX_TERMS {
                    return None;
                }
            }
            Some(terms)
        }
    }
}

fn satisfiable(term: &Term) -> bool {
    let mut by_field: Vec<(&Field, Set)> = Vec::new();
    for (field, set) in term {
        match by_field.iter_mut().find(|(f, _)| *f == field) {
            Some((_, s)) => *s = s.intersect(set, field),
            None => by_field.push((field, set.clone())),
        }
    }
    by_field.iter().all(|(_, s)| !s.is_empty())
}

fn never_fire(rules: &[Rule], path: &str, e: &mut Errors) {
    let mut always: Option<usize> = None;
    for (i, rule) in rules.iter().enumerate() {
        let p = format!("{path}[{i}].conditions");
        if let Some(first) = always {
            e.push(p, format!("never fires: rule {} (`{}`) always fires before it", first + 1, rules[first].name));
            continue;
        }
        let Some(terms) = dnf(&rule.condition, false) else { continue };
        if !terms.iter().any(satisfiable) {
            e.push(p, "never fires: the conditions contradict each other (no value of the fields satisfies all)");
            continue;
        }
        // Always true when its negation cannot be satisfied.
        if let Some(neg) = dnf(&rule.condition, true)
            && !neg.iter().any(satisfiable)
        {
            always = Some(i);
        }
    }
}

// ---------------------------------------------------------------- formulas

/// A price formula: numbers, fields, `+ - * /` and parentheses, e.g.
/// `forecast_price * 0.95` or `(forecast_price + actual_price) / 2`.
///
/// Hand-written rather than a general expression crate: it needs to name
/// the typed fields of this language when a strategy is saved, and it is
/// evaluated once per interval in the backtest's inner loop (35,040 times a
/// year), where a compiled tree of a few nodes costs nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    /// A constant, currency/MWh.
    Number(f64),
    /// A field's value.
    Field(Field),
    /// `a op b` with op one of `+ - * /`.
    Binary(Box<Formula>, char, Box<Formula>),
    /// `-a`.
    Negate(Box<Formula>),
}

impl Formula {
    /// Parses a JSON number or a formula text.
    pub fn parse(v: &Value) -> Result<Self, String> {
        if let Some(x) = v.as_f64() {
            return Ok(Self::Number(x));
        }
        let Some(text) = v.as_str() else {
            return Err(format!("must be a number or a formula text, got {v}"));
        };
        if text.len() > 500 {
            return Err("a formula has at most 500 characters".into());
        }
        let tokens = tokenize(text)?;
        let mut pos = 0;
        let f = parse_sum(&tokens, &mut pos, 0)?;
        if pos != tokens.len() {
            return Err(format!("unexpected `{}` in `{text}`", tokens[pos].text()));
        }
        Ok(f)
    }

    /// The value, or `None` when a field is not known.
    pub fn eval(&self, values: &impl Values) -> Option<f64> {
        match self {
            Self::Number(x) => Some(*x),
            Self::Field(f) => values.get(f),
            Self::Negate(a) => a.eval(values).map(|x| -x),
            Self::Binary(a, op, b) => {
                let (a, b) = (a.eval(values)?, b.eval(values)?);
                let r = match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                };
                r.is_finite().then_some(r)
            }
        }
    }

    fn fields(&self, out: &mut Vec<Field>) {
        match self {
            Self::Number(_) => {}
            Self::Field(f) => {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
            Self::Negate(a) => a.fields(out),
            Self::Binary(a, _, b) => {
                a.fields(out);
                b.fields(out);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(f64),
    Name(String),
    Op(char),
}

impl Token {
    fn text(&self) -> String {
        match self {
            Self::Num(x) => x.to_string(),
            Self::Name(n) => n.clone(),
            Self::Op(c) => c.to_string(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/()".contains(c) {
            out.push(Token::Op(c));
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Token::Num(s.parse().map_err(|_| format!("`{s}` is not a number"))?));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_:-.".contains(chars[i])) {
                // `-` and `.` belong to a name only inside `series:<name>`.
                if "-.".contains(chars[i]) && !chars[start..i].iter().collect::<String>().starts_with("series:") {
                    break;
                }
                i += 1;
            }
            out.push(Token::Name(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character `{c}` in `{text}`"));
        }
    }
    Ok(out)
}

fn parse_sum(t: &[Token], pos: &mut usize, depth: usize) -> Result<Formula, String> {
    let mut left = parse_product(t, pos, depth)?;
    while let Some(Token::Op(op @ ('+' | '-'))) = t.get(*pos) {
        *pos += 1;
        let right = parse_product(t, pos, depth)?;
        left = Formula::Binary(Box::new(left), *op, Box::new(right));
    }
    Ok(left)
}

fn parse_product(t: &[Token], pos: &mut usize, depth: usize) -> Result<Formula, String> {
    let mut left = parse_atom(t, pos, depth)?;
    while let Some(Token::Op(op @ ('*' | '/'))) = t.get(*pos) {
        *pos += 1;
        let right = parse_atom(t, pos, depth)?;
        left = Formula::Binary(Box::new(left), *op, Box::new(right));
    }
    Ok(left)
}

fn parse_atom(t: &[Token], pos: &mut usize, depth: usize) -> Result<Formula, String> {
    if depth > MAX_DEPTH {
        return Err("the formula nests too deeply".into());
    }
    let token = t.get(*pos).ok_or("the formula ends too early")?;
    *pos += 1;
    match token {
        Token::Num(x) => Ok(Formula::Number(*x)),
        Token::Name(n) => match Field::parse(n) {
            Some(f) => Ok(Formula::Field(f)),
            None => Err(format!("unknown field `{n}` in the formula")),
        },
        Token::Op('-') => Ok(Formula::Negate(Box::new(parse_atom(t, pos, depth + 1)?))),
        Token::Op('(') => {
            let inner = parse_sum(t, pos, depth + 1)?;
            match t.get(*pos) {
                Some(Token::Op(')')) => {
                    *pos += 1;
                    Ok(inner)
                }
                _ => Err("a `(` is not closed".into()),
            }
        }
        other => Err(format!("unexpected `{}`", other.text())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Map(Vec<(Field, f64)>);
    impl Values for Map {
        fn get(&self, field: &Field) -> Option<f64> {
            self.0.iter().find(|(f, _)| f == field).map(|(_, v)| *v)
        }
    }

    fn errors(v: Value) -> Vec<(String, String)> {
        match RuleSet::parse(&v, "rules") {
            Ok(_) => Vec::new(),
            Err(Invalid(es)) => es.into_iter().map(|e| (e.field, e.message)).collect(),
        }
    }

    #[test]
    fn first_matching_rule_fires_and_explains_itself() {
        let rules = RuleSet::parse(
            &json!([
                {"name": "cheap", "conditions": [{"field": "forecast_price", "operator": "<", "value": 40},
                                                   {"field": "soc", "operator": "<", "value": 90}],
                 "actions": [{"type": "charge"}]},
                {"name": "dear", "conditions": [{"or": [{"field": "price_percentile", "operator": ">=", "value": 80},
                                                         {"field": "hour", "operator": "in", "value": [18, 19]}]}],
                 "actions": [{"type": "bid", "parameters": {"side": "sell", "quantity_pct": 100, "price": "forecast_price - 5"}}]}
            ]),
            "rules",
        )
        .expect("valid");
        let seen = Map(vec![(Field::ForecastPrice, 120.0), (Field::Soc, 50.0), (Field::Hour, 18.0)]);
        let (rule, why) = rules.decide(&seen);
        assert_eq!(rule.map(|r| r.name.as_str()), Some("dear"));
        assert_eq!(why.rule, Some(1));
        // The percentile is unknown, but hour 18 makes the OR true.
        assert!(why.seen.contains(&("price_percentile".into(), None)));
        assert!(why.seen.contains(&("hour".into(), Some(18.0))));
        let Action::Bid { price, .. } = &rule.expect("fired").actions[0] else { panic!("a bid") };
        assert_eq!(price.eval(&seen), Some(115.0));
    }

    #[test]
    fn an_unknown_value_never_fires_a_rule_even_under_not() {
        let rules = RuleSet::parse(
            &json!([{"conditions": [{"not": {"field": "actual_price", "operator": ">", "value": 100}}],
                     "actions": [{"type": "hold"}]}]),
            "rules",
        )
        .expect("valid");
        let (rule, why) = rules.decide(&Map(vec![]));
        assert!(rule.is_none());
        assert_eq!(why.rule_name, "no rule fired");
        assert!(rules.decide(&Map(vec![(Field::ActualPrice, 50.0)])).0.is_some());
    }

    #[test]
    fn unknown_fields_operators_and_type_mismatches_name_their_path() {
        let es = errors(json!([
            {"conditions": [{"field": "pricee", "operator": ">", "value": 1},
                            {"field": "hour", "operator": "~", "value": 1},
                            {"field": "soc", "operator": ">", "value": "high"},
                            {"field": "hour", "operator": "==", "value": 7.5}],
             "actions": [{"type": "sell"}]}
        ]));
        let fields: Vec<&str> = es.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rules[0].conditions[0].field",
                "rules[0].conditions[1].operator",
                "rules[0].conditions[2].value",
                "rules[0].conditions[3].value",
                "rules[0].actions[0].type"
            ]
        );
        assert!(es[0].1.contains("unknown field `pricee`"));
        assert!(es[2].1.contains("soc is a number"));
    }

    #[test]
    fn rules_that_can_never_fire_are_refused() {
        let contradict = errors(json!([
            {"conditions": [{"field": "hour", "operator": ">", "value": 18}, {"field": "hour", "operator": "<", "value": 6}],
             "actions": [{"type": "hold"}]}
        ]));
        assert_eq!(contradict.len(), 1);
        assert_eq!(contradict[0].0, "rules[0].conditions");
        assert!(contradict[0].1.contains("contradict"));
        // Out of the field's range: a percentile above 100.
        assert_eq!(
            errors(json!([{"conditions": [{"field": "price_percentile", "operator": ">", "value": 100}],
                           "actions": [{"type": "hold"}]}]))
            .len(),
            1
        );
        // NOT of a tautology, and integer gaps: 6 < hour < 7 has no whole hour.
        assert_eq!(
            errors(json!([
                {"conditions": [{"not": {"field": "soc", "operator": "between", "value": [0, 100]}}], "actions": [{"type": "hold"}]},
                {"conditions": [{"field": "hour", "operator": ">", "value": 6}, {"field": "hour", "operator": "<", "value": 7}],
                 "actions": [{"type": "hold"}]}
            ]))
            .len(),
            2
        );
        // Shadowed by an earlier rule that always fires.
        let shadowed = errors(json!([
            {"name": "always", "conditions": [{"or": [{"field": "soc", "operator": "<", "value": 50},
                                                       {"field": "soc", "operator": ">=", "value": 50}]}],
             "actions": [{"type": "hold"}]},
            {"conditions": [{"field": "hour", "operator": "==", "value": 3}], "actions": [{"type": "charge"}]}
        ]));
        assert_eq!(shadowed.len(), 1);
        assert_eq!(shadowed[0].0, "rules[1].conditions");
        assert!(shadowed[0].1.contains("`always`"));
        // Satisfiable edge cases stay accepted.
        assert!(
            errors(json!([{"conditions": [{"field": "forecast_price", "operator": ">=", "value": 50},
                                          {"field": "forecast_price", "operator": "<=", "value": 50}],
                           "actions": [{"type": "hold"}]}]))
            .is_empty()
        );
    }

    #[test]
    fn actions_and_formulas_are_checked() {
        let es = errors(json!([
            {"conditions": [], "actions": [
                {"type": "bid", "parameters": {"side": "up", "price": "forecast_prise * 2"}},
                {"type": "charge", "parameters": {"target_soc_pct": 120}}
            ]}
        ]));
        let fields: Vec<&str> = es.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"rules[0].actions[0].parameters.side"));
        assert!(fields.contains(&"rules[0].actions[0].parameters.quantity_kw"));
        assert!(fields.contains(&"rules[0].actions[0].parameters.price"));
        assert!(fields.contains(&"rules[0].actions[1].parameters.target_soc_pct"));
        assert!(fields.contains(&"rules[0].actions"), "two main actions in one rule");
        let f = Formula::parse(&json!("(forecast_price + series:ID-1.price) / 2 - -3")).expect("parses");
        let v = Map(vec![(Field::ForecastPrice, 10.0), (Field::Series("ID-1.price".into()), 30.0)]);
        assert_eq!(f.eval(&v), Some(23.0));
        assert!(Formula::parse(&json!("forecast_price +")).is_err());
        assert!(Formula::parse(&json!("(1 + 2")).is_err());
    }
}
