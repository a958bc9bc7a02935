// Names for the bodies and answers of the API, all taken from the server's
// OpenAPI document (schema.d.ts is generated: `npm run gen:api`).
import type { components } from './schema'

export type { paths } from './schema'
export type Schemas = components['schemas']

// Sign-in
export type Me = Schemas['Me']
export type TokenResponse = Schemas['TokenResponse']
export type AuditEntry = Schemas['AuditEntry']

// Resources and VPPs
export type Resource = Schemas['Resource']
export type ResourceStatus = Schemas['ResourceStatus']
export type ResourceTemplate = Schemas['ResourceTemplate']
export type ParameterSpec = Schemas['ParameterSpec']
export type ImportReport = Schemas['ImportReport']
export type Vpp = Schemas['Vpp']
export type Member = Schemas['Member']
export type PreviewResponse = Schemas['PreviewResponse']
export type DashboardSnapshot = Schemas['DashboardSnapshot']

// Series and file imports
export type Series = Schemas['Series']
export type SeriesPoint = Schemas['Point']
export type HorizonAccuracy = Schemas['HorizonAccuracy']
export type FileImportReport = Schemas['FileImportReport']
export type PhysicalForecast = Schemas['PhysicalForecast']
export type NearbyWeather = Schemas['NearbyWeather']
export type BatteryPlan = Schemas['BatteryPlan']
export type ImportJob = Schemas['ImportJob']

// Scheduling and trading
export type ScheduleResponse = Schemas['ScheduleResponse']
export type StoredSchedule = Schemas['StoredSchedule']
export type DeviationRecord = Schemas['DeviationRecord']
export type Connector = Schemas['Connector']
export type BidRecord = Schemas['BidRecord']
export type ClearingSummary = Schemas['ClearingSummary']
export type PositionSlot = Schemas['PositionSlot']
export type RevenueRow = Schemas['RevenueRow']
export type Invoice = Schemas['Invoice']
export type KillSwitch = Schemas['KillSwitch']

// Strategies and forecasting models
export type Strategy = Schemas['Strategy']
export type StrategyStatus = Schemas['StrategyStatus']
export type BacktestRecord = Schemas['BacktestRecord']
export type BacktestResult = Schemas['BacktestResult']
export type StrategyPerformance = Schemas['StrategyPerformance']
export type AiModel = Schemas['AiModel']
export type ModelVersion = Schemas['ModelVersion']
export type FieldInfo = Schemas['FieldInfo']

// Parks: tariffs, calendars, sites, bills
export type Tariff = Schemas['Tariff']
export type TariffTerms = Schemas['TariffTerms']
export type TariffDay = Schemas['TariffDay']
export type DayWindow = Schemas['DayWindow']
export type Period = Schemas['Period']
export type PeriodPrices = Schemas['PeriodPrices']
export type Season = Schemas['Season']
export type TouWindow = Schemas['Window']
export type TariffComponent = Schemas['Component']
export type CalendarDay = Schemas['CalendarDay']
export type Site = Schemas['Site']
export type LoadImport = Schemas['LoadImport']
export type Bill = Schemas['Bill']
export type BillLine = Schemas['BillLine']
export type LoadProfile = Schemas['LoadProfile']
export type SavingsReport = Schemas['SavingsReport']

// Performance reports, asset owners and ingestion
export type PerformanceReport = Schemas['PerformanceReport']
export type AssetPerformance = Schemas['AssetPerformance']
export type IngestionRun = Schemas['IngestionRun']
export type IngestionSource = Schemas['IngestionSource']
