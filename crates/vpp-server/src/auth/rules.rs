//! The one table that says who may call each route, and what it changes.
//!
//! Every route the router serves must appear here; the middleware refuses a
//! matched route without a rule, and the route × role test fails on it.

use axum::http::Method;
use vpp_domain::auth::Permission;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// Any authenticated caller.
    Authenticated,
    /// Callers holding this permission.
    Permission(Permission),
}

/// What a state-changing route changes, for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// Reads only, or audits itself (login, refresh, logout).
    None,
    /// A resource template; before and after are loaded.
    Template,
    /// A resource; before and after are loaded.
    Resource,
    /// A VPP; before and after are loaded.
    Vpp,
    /// A user; before and after are loaded.
    User,
    /// An API key; before and after are loaded.
    ApiKey,
    /// An action whose answer is recorded as the after state.
    Action(&'static str),
}

/// One route's rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// HTTP method.
    pub method: Method,
    /// Route pattern as the router knows it.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it changes.
    pub entity: Entity,
}

impl Rule {
    /// A control action: it moves power or money now (dispatch, status
    /// changes, bids, the kill switch, alerts). Control actions spend their
    /// own write budget.
    pub fn is_control(&self) -> bool {
        matches!(
            self.entity,
            Entity::Action(
                "dispatch"
                    | "dispatch-schedule"
                    | "submit-bid"
                    | "approve-bid"
                    | "cancel-bid"
                    | "kill-switch"
                    | "strategy-status"
                    | "strategy-bid"
                    | "acknowledge-alert"
                    | "resolve-alert"
            )
        ) || (self.method == Method::PUT && self.path.ends_with("/status"))
    }
}

const fn rule(method: Method, path: &'static str, access: Access, entity: Entity) -> Rule {
    Rule { method, path, access, entity }
}

use Access::{Authenticated, Public};
use Entity::{Action, ApiKey, Template, User, Vpp};
use Permission::*;

const fn p(permission: Permission) -> Access {
    Access::Permission(permission)
}

/// Every route and its rule.
pub const RULES: &[Rule] = &[
    // Operations
    rule(Method::GET, "/healthz", Public, Entity::None),
    rule(Method::GET, "/readyz", Public, Entity::None),
    rule(Method::GET, "/metrics", p(MetricsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/cluster", p(MetricsRead), Entity::None),
    // Sessions
    rule(Method::POST, "/api/v1/auth/login", Public, Entity::None),
    rule(Method::POST, "/api/v1/auth/refresh", Public, Entity::None),
    rule(Method::POST, "/api/v1/auth/logout", Public, Entity::None),
    rule(Method::GET, "/api/v1/auth/me", Authenticated, Entity::None),
    // Users and API keys
    rule(Method::GET, "/api/v1/auth/users", p(UsersManage), Entity::None),
    rule(Method::POST, "/api/v1/auth/users", p(UsersManage), User),
    rule(Method::GET, "/api/v1/auth/users/{id}", p(UsersManage), Entity::None),
    rule(Method::PUT, "/api/v1/auth/users/{id}", p(UsersManage), User),
    rule(Method::POST, "/api/v1/auth/users/{id}/reset-password", p(UsersManage), User),
    rule(Method::POST, "/api/v1/auth/users/{id}/revoke-sessions", p(UsersManage), User),
    rule(Method::GET, "/api/v1/auth/api-keys", p(ApiKeysManage), Entity::None),
    rule(Method::POST, "/api/v1/auth/api-keys", p(ApiKeysManage), ApiKey),
    rule(Method::DELETE, "/api/v1/auth/api-keys/{id}", p(ApiKeysManage), ApiKey),
    rule(Method::GET, "/api/v1/audit", p(AuditRead), Entity::None),
    // Templates
    rule(Method::GET, "/api/v1/vpp/resource-templates", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/resource-templates", p(RegistryWrite), Template),
    rule(Method::GET, "/api/v1/vpp/resource-templates/export", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/resource-templates/import", p(RegistryWrite), Action("template_library")),
    rule(Method::GET, "/api/v1/vpp/resource-templates/{id}", p(RegistryRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/resource-templates/{id}", p(RegistryWrite), Template),
    rule(Method::DELETE, "/api/v1/vpp/resource-templates/{id}", p(RegistryWrite), Template),
    // Resources
    rule(Method::GET, "/api/v1/vpp/resource-instances", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/resource-instances", p(RegistryWrite), Entity::Resource),
    rule(
        Method::POST,
        "/api/v1/vpp/resource-instances/technical-data",
        p(RegistryWrite),
        Action("technical_data_import"),
    ),
    rule(Method::GET, "/api/v1/vpp/resource-instances/technical-data/imports", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}", p(RegistryRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/resource-instances/{id}", p(RegistryWrite), Entity::Resource),
    rule(Method::PUT, "/api/v1/vpp/resource-instances/{id}/status", p(RegistryWrite), Entity::Resource),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}/status-history", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}/realtime-data", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}/setpoints", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/resource-instances/{id}/telemetry", p(TelemetryWrite), Action("telemetry")),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}/changes", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}/weather", p(RegistryRead), Entity::None),
    rule(
        Method::POST,
        "/api/v1/vpp/resource-instances/{id}/physical-forecast",
        p(SeriesWrite),
        Action("physical_forecast"),
    ),
    // Time series
    rule(Method::GET, "/api/v1/vpp/series", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/series", p(SeriesWrite), Action("series")),
    rule(Method::GET, "/api/v1/vpp/series/{id}", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/series/{id}/beliefs", p(SeriesWrite), Action("series_beliefs")),
    rule(Method::POST, "/api/v1/vpp/series/{id}/import", p(SeriesWrite), Action("series_import")),
    rule(Method::POST, "/api/v1/vpp/series/import", p(SeriesWrite), Action("series_import")),
    rule(Method::POST, "/api/v1/vpp/series/import-files", p(SeriesWrite), Action("series_import")),
    // An asset owner's own data
    rule(Method::GET, "/api/v1/vpp/my/assets", p(OwnerRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/my/assets/{id}/best-of-infeed", p(OwnerRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/my/invoices", p(OwnerRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/my/report", p(OwnerRead), Entity::None),
    // Scheduled ingestion
    rule(Method::GET, "/api/v1/vpp/ingestion/sources", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/ingestion/sources", p(IngestionManage), Action("ingestion_source")),
    rule(Method::GET, "/api/v1/vpp/ingestion/sources/{id}", p(RegistryRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/ingestion/sources/{id}", p(IngestionManage), Action("ingestion_source")),
    rule(Method::DELETE, "/api/v1/vpp/ingestion/sources/{id}", p(IngestionManage), Action("ingestion_source")),
    rule(Method::POST, "/api/v1/vpp/ingestion/sources/{id}/run", p(IngestionManage), Action("ingestion_run")),
    rule(Method::GET, "/api/v1/vpp/ingestion/runs", p(RegistryRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/weather/open-meteo", p(SeriesWrite), Action("weather_import")),
    rule(Method::POST, "/api/v1/vpp/weather/mosmix", p(SeriesWrite), Action("weather_import")),
    rule(Method::POST, "/api/v1/vpp/forecasts/physical", p(SeriesWrite), Action("physical_forecasts")),
    // The handlers check the permission that started the job.
    rule(Method::GET, "/api/v1/vpp/import-jobs/{id}", Authenticated, Entity::None),
    rule(Method::POST, "/api/v1/vpp/import-jobs/{id}/cancel", Authenticated, Action("import_cancel")),
    rule(Method::GET, "/api/v1/vpp/series/{id}/beliefs", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/series/{id}/values", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/series/{id}/resampled", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/series/{id}/best-of-infeed", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/best-of-infeed", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/imbalance-cost", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/series/{id}/accuracy", p(RegistryRead), Entity::None),
    // VPPs and dispatch
    rule(Method::GET, "/api/v1/vpp/vpps", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/vpps", p(VppsWrite), Vpp),
    rule(Method::POST, "/api/v1/vpp/vpps/preview", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/vpps/{id}", p(VppsWrite), Vpp),
    rule(Method::DELETE, "/api/v1/vpp/vpps/{id}", p(VppsWrite), Vpp),
    rule(Method::PUT, "/api/v1/vpp/vpps/{id}/resources", p(VppsWrite), Vpp),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/aggregated-params", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/vpps/{id}/dispatch", p(DispatchWrite), Action("dispatch")),
    rule(Method::POST, "/api/v1/vpp/vpps/{id}/dispatch/preview", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/schedules", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/vpps/{id}/schedules", p(DispatchWrite), Action("schedule")),
    rule(Method::POST, "/api/v1/vpp/vpps/{id}/schedules/dispatch", p(DispatchWrite), Action("dispatch-schedule")),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/execution", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/dispatches", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/rollup", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/conflicts", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/events/dashboard", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/trading/execution-status/{instruction_id}", p(VppsRead), Entity::None),
    // Alerts and devices
    rule(Method::GET, "/api/v1/vpp/alerts", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/alerts/{id}/acknowledge", p(DispatchWrite), Action("acknowledge-alert")),
    rule(Method::POST, "/api/v1/vpp/alerts/{id}/resolve", p(DispatchWrite), Action("resolve-alert")),
    rule(Method::GET, "/api/v1/vpp/devices/bridge", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/devices/protocols", p(VppsRead), Entity::None),
    // Charging stations authenticate themselves (HTTP Basic, their own password).
    rule(Method::GET, "/ocpp/{station_id}", Public, Entity::None),
    rule(Method::POST, "/api/v1/vpp/resource-instances/{id}/ocpp-station", p(RegistryWrite), Action("ocpp-station")),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}/charging-sessions", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/devices/links", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/devices/stations", p(RegistryRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/resource-instances/{id}/device-link", p(RegistryRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/resource-instances/{id}/device-link", p(RegistryWrite), Action("device-link")),
    rule(Method::DELETE, "/api/v1/vpp/resource-instances/{id}/device-link", p(RegistryWrite), Action("device-link")),
    // Markets, trading and settlement
    rule(Method::GET, "/api/v1/vpp/market-connectors", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/market-connectors", p(TradingWrite), Action("market-connector")),
    rule(Method::GET, "/api/v1/vpp/market-connectors/{id}", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/market-connectors/{id}/import", p(TradingWrite), Action("exchange-import")),
    rule(Method::GET, "/api/v1/vpp/market-data/{market_id}/realtime", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/market-data/{market_id}/history", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/trading/submit-bid", p(TradingWrite), Action("submit-bid")),
    rule(Method::GET, "/api/v1/vpp/trading/results", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/trading/position", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/trading/bids/{id}", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/trading/bids/{id}/approve", p(TradingWrite), Action("approve-bid")),
    rule(Method::POST, "/api/v1/vpp/trading/bids/{id}/cancel", p(TradingWrite), Action("cancel-bid")),
    rule(Method::GET, "/api/v1/vpp/trading/kill-switch", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/trading/kill-switch", p(TradingWrite), Action("kill-switch")),
    rule(Method::GET, "/api/v1/vpp/trading/risk-limits/{vpp_id}/{market_type}", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/trading/risk-limits/{vpp_id}/{market_type}", p(TradingWrite), Action("risk-limits")),
    rule(Method::POST, "/api/v1/vpp/trading/clear", p(TradingWrite), Action("clear-auction")),
    rule(Method::POST, "/api/v1/vpp/settlement/calculate", p(TradingWrite), Action("settlement")),
    rule(Method::GET, "/api/v1/vpp/settlement/records", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/contracts", p(VppsRead), Entity::None),
    rule(
        Method::POST,
        "/api/v1/vpp/redispatch/compensation/import",
        p(TradingWrite),
        Action("redispatch_compensation"),
    ),
    rule(Method::GET, "/api/v1/vpp/vpps/{id}/redispatch-payout", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/contracts/import", p(TradingWrite), Action("contracts-import")),
    rule(Method::GET, "/api/v1/vpp/invoices", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/reports/revenue-analysis", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/reports/operation", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/reports/performance", p(VppsRead), Entity::None),
    // Industrial parks
    rule(Method::GET, "/api/v1/vpp/tariffs", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/tariffs", p(ParksWrite), Action("tariff")),
    rule(Method::GET, "/api/v1/vpp/tariffs/{id}", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/tariffs/{id}/versions", p(ParksWrite), Action("tariff-version")),
    rule(Method::GET, "/api/v1/vpp/tariffs/{id}/day", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/holiday-calendars/{region}", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/holiday-calendars/{region}", p(ParksWrite), Action("holiday-calendar")),
    rule(Method::GET, "/api/v1/vpp/sites", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/sites", p(ParksWrite), Action("site")),
    rule(Method::GET, "/api/v1/vpp/sites/{id}", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/sites/{id}", p(ParksWrite), Action("site")),
    rule(Method::POST, "/api/v1/vpp/sites/{id}/load/import", p(ParksWrite), Action("load-import")),
    rule(Method::GET, "/api/v1/vpp/sites/{id}/load", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/sites/{id}/load/profile", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/sites/{id}/load/monthly", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/sites/{id}/flexibility", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/sites/{id}/savings", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/sites/{id}/battery-plan", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/sites/{id}/battery-payback", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/adjustable-loads", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/adjustable-loads", p(ParksWrite), Action("adjustable-load")),
    rule(Method::DELETE, "/api/v1/vpp/adjustable-loads/{id}", p(ParksWrite), Action("adjustable-load-delete")),
    rule(Method::POST, "/api/v1/vpp/bills/compute", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/bills/import", p(ParksWrite), Action("bills-import")),
    rule(Method::GET, "/api/v1/vpp/bills/reconcile", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/configuration", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/configuration/{key}", p(ParksWrite), Action("configuration")),
    rule(Method::GET, "/api/v1/vpp/reports/park", p(VppsRead), Entity::None),
    // Strategies
    rule(Method::GET, "/api/v1/vpp/strategies", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/strategies", p(StrategiesWrite), Action("strategy")),
    rule(Method::GET, "/api/v1/vpp/strategies/fields", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/strategies/validate", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/strategies/{id}", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/strategies/{id}", p(StrategiesWrite), Action("strategy-version")),
    rule(Method::DELETE, "/api/v1/vpp/strategies/{id}", p(StrategiesWrite), Action("strategy-delete")),
    rule(Method::GET, "/api/v1/vpp/strategies/{id}/versions", p(VppsRead), Entity::None),
    rule(Method::PUT, "/api/v1/vpp/strategies/{id}/status", p(StrategiesWrite), Action("strategy-status")),
    rule(Method::GET, "/api/v1/vpp/strategies/{id}/status-history", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/strategies/{id}/backtest", p(StrategiesWrite), Action("backtest")),
    rule(Method::GET, "/api/v1/vpp/strategies/{id}/backtest-results", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/strategies/{id}/backtest-results/{task_id}", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/strategies/{id}/backtest-results/{task_id}/intervals", p(VppsRead), Entity::None),
    rule(
        Method::POST,
        "/api/v1/vpp/strategies/{id}/backtest-results/{task_id}/cancel",
        p(StrategiesWrite),
        Action("backtest-cancel"),
    ),
    rule(Method::POST, "/api/v1/vpp/strategies/{id}/bid", p(TradingWrite), Action("strategy-bid")),
    rule(Method::GET, "/api/v1/vpp/strategies/{id}/decisions", p(VppsRead), Entity::None),
    rule(Method::GET, "/api/v1/vpp/reports/strategy-performance", p(VppsRead), Entity::None),
    // Forecasting models
    rule(Method::GET, "/api/v1/vpp/ai-models", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/ai-models", p(StrategiesWrite), Action("ai-model")),
    rule(Method::GET, "/api/v1/vpp/ai-models/{id}", p(VppsRead), Entity::None),
    rule(Method::DELETE, "/api/v1/vpp/ai-models/{id}", p(StrategiesWrite), Action("ai-model-delete")),
    rule(Method::GET, "/api/v1/vpp/ai-models/{id}/versions", p(VppsRead), Entity::None),
    rule(Method::POST, "/api/v1/vpp/ai-models/{id}/train", p(StrategiesWrite), Action("ai-model-train")),
    rule(Method::POST, "/api/v1/vpp/ai-models/{id}/predict", p(StrategiesWrite), Action("ai-model-predict")),
    rule(Method::POST, "/api/v1/vpp/ai-models/{id}/forecasts", p(StrategiesWrite), Action("ai-model-forecasts")),
    rule(Method::GET, "/api/v1/vpp/ai-models/{id}/performance", p(VppsRead), Entity::None),
];

/// The rule of a matched route. Documentation pages are public.
pub fn rule_for(method: &Method, path: &str) -> Option<Rule> {
    if path == "/api/v1/openapi.json" || path.starts_with("/api/v1/docs") {
        return Some(rule(Method::GET, "/api/v1/docs", Public, Entity::None)).filter(|_| method == Method::GET);
    }
    // HEAD is answered like GET.
    let method = if method == Method::HEAD { &Method::GET } else { method };
    RULES.iter().find(|r| r.method == *method && r.path == path).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_actions_are_the_routes_that_move_power_or_money() {
        let control: Vec<String> =
            RULES.iter().filter(|r| r.is_control()).map(|r| format!("{} {}", r.method, r.path)).collect();
        for expected in [
            "POST /api/v1/vpp/vpps/{id}/dispatch",
            "PUT /api/v1/vpp/resource-instances/{id}/status",
            "PUT /api/v1/vpp/strategies/{id}/status",
            "POST /api/v1/vpp/trading/submit-bid",
            "POST /api/v1/vpp/trading/bids/{id}/approve",
            "PUT /api/v1/vpp/trading/kill-switch",
            "POST /api/v1/vpp/alerts/{id}/acknowledge",
        ] {
            assert!(control.contains(&expected.to_string()), "{expected} in {control:?}");
        }
        assert_eq!(control.len(), 11, "{control:?}");
        assert!(RULES.iter().filter(|r| r.is_control()).all(|r| r.method != Method::GET));
    }
}
