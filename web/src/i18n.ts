// English and Simplified Chinese; every string the console shows is here.
import { createI18n } from 'vue-i18n'

const en = {
  app: { title: 'vpp console', logout: 'Log out', language: 'Language' },
  nav: { dashboard: 'Dashboard', resources: 'Resources', series: 'Forecasts and measurements', vpps: 'VPP aggregation', schedule: 'Scheduling and dispatch', trading: 'Trading', strategies: 'Strategies', parks: 'Industrial parks', performance: 'Performance', my: 'My assets', audit: 'Audit log' },
  login: { title: 'Log in', username: 'User name', password: 'Password', submit: 'Log in', failed: 'Login failed' },
  common: {
    loading: 'Loading…', retry: 'Retry', error: 'The API answered', empty: 'Nothing here yet.', page: 'Page {page} of {pages}',
    prev: 'Previous', next: 'Next', all: 'All', save: 'Save', cancel: 'Cancel', total: '{n} in all', live: 'live', paused: 'not live',
  },
  dashboard: {
    vpps: 'Virtual power plants', capacity: 'Capacity', up: 'Up', down: 'Down', online: 'Online', offline: 'Offline',
    maintenance: 'Maintenance', error: 'Error', members: 'members', availability: 'Available flexibility by VPP (kW)',
    byCategory: 'Capacity by category (kW)', alerts: 'Open alerts', noAlerts: 'No open alerts.',
    noVpps: 'No VPPs yet: create one from resources under Resources, or run `vpp demo`.', updated: 'Updated {at}',
    prices: "Today's market prices", noPrices: 'No market connector has prices for today yet.',
    links: 'Device links', protocol: 'Protocol', linkState: 'State', devices: 'Devices', lastContact: 'Last contact',
    rate: 'Messages / polls', failures: 'Failures', off: 'off', connected: 'connected', disconnected: 'disconnected',
    linksConnected: '{n} connected', pollsPerS: '{n} polls/s', stationsConnected: '{n} stations connected',
  },
  resources: {
    title: 'Resources', name: 'Name', type: 'Type', category: 'Category', status: 'Status', capacity: 'Capacity (kW)',
    site: 'Building', changeStatus: 'Change status', reason: 'Reason', apply: 'Apply', sort: 'Sort by', map: 'Where they are (longitude, latitude)',
    link: 'Device link', linkUp: 'connected', linkDown: 'not connected', linkDisabled: 'disabled',
    sorts: {
      nameAsc: 'Name, A to Z', nameDesc: 'Name, Z to A', capacityAsc: 'Capacity, smallest first', capacityDesc: 'Capacity, largest first',
      status: 'Status', type: 'Type', oldest: 'Registered, oldest first', newest: 'Registered, newest first',
    },
    techData: 'Technical-data upload', techFile: 'Asset master file (JSON with an "assets" list)', notJson: '{file} is not JSON: {reason}',
    preview: 'Preview of {file}, nothing applied yet:', applied: '{file} applied:', diffCounts: '{added} added, {changed} changed, {missing} missing, {same} unchanged.',
    asset: 'Asset', field: 'Field', old: 'Before', new: 'After', added: 'new', missing: 'not in the file (left as is)', applyFile: 'Apply this file',
    none: 'No resources match. Register one through the API (POST /api/v1/vpp/resource-instances) or run `vpp demo`.',
  },
  importFile: {
    start: 'Import', progress: 'Import progress', uploading: 'Uploading: {pct} %', storing: 'Storing: {sent} of {rows} rows sent to the database',
    cancelling: 'Cancelling…', done: 'Imported: {rows} rows checked and stored.',
    cancelled: 'Cancelled: the import was rolled back, nothing of the file was stored.',
    cancelledUpload: 'Cancelled before the file reached the server: nothing was stored.',
  },
  resourceForm: {
    new: 'New resource', edit: 'Edit', template: 'Template', initialStatus: 'Initial status', externalId: 'External id', deviceAddress: 'Device address',
    lat: 'Latitude', lon: 'Longitude', timezone: 'Time zone', parameters: 'Parameters of {template}',
    created: 'Resource {id} created.', updated: 'Resource {id} saved.',
  },
  series: {
    title: 'Forecasts and measurements', series: 'Series', day: 'Delivery day', zone: 'Market time zone', span: 'Span', days: '1 day | {n} days',
    none: 'No power series yet: the demo creates them, or POST /api/v1/vpp/series.', noValues: 'No values on this day.',
    accuracy: 'Forecast error by horizon (against meter final, else measurements)', horizon: 'Issued ahead', bias: 'Bias',
    noActuals: 'no actual values to compare with',
    import: 'Import a file into this series', importHint: 'CSV with a header: a time column (its name holds time, start or date) and a value column; a malformed file stores nothing.',
    source: 'Kind', beliefTime: 'Known at (forecasts and schedules)', unit: 'Unit', fileZone: 'Zone of times without offset',
    delimiter: 'Delimiter', decimalComma: 'Decimal comma', file: 'CSV file',
    importReport: '{rows} rows read: {accepted} stored, {duplicates} already stored, {rejected} refused.', line: 'Line', reason: 'Reason',
    sources: { forecast: 'Forecast', live_measurement: 'Live measurement', meter_final: 'Meter final', schedule: 'Schedule' },
    views: { latest: 'Latest forecast', tradeable: 'Latest tradeable forecast', measured: 'Live measurements', meter: 'Meter final', infeed: 'Best of infeed', schedule: 'Schedule' },
    physical: 'Physical forecast (48 h)', physicalHint: 'From the resource\'s technical data (PV and wind); stored as a new forecast version.',
    physicalDone: 'Forecast version of {at} stored: {intervals} intervals, peak {peak} kW, {energy} kWh.',
    clearSky: 'No weather forecast was available: this is a cloudless sky, an upper bound of production.',
    learned: 'Corrected by {name}',
    weatherTitle: 'Weather', weatherAt: 'Newest forecast at the weather point {point}, {km} km away: what the physical forecast reads.',
    noWeather: 'No weather point within 30 km: PV is forecast under a clear sky, wind cannot be forecast.',
    weather: { irradiance_ghi: 'Global irradiance', wind_speed_100m: 'Wind at 100 m', wind_speed_10m: 'Wind at 10 m', temperature: 'Temperature' },
  },
  vpps: {
    title: 'VPP aggregation', vpp: 'VPP', members: 'Members', available: 'Other resources', search: 'Search by name',
    ratio: 'Allocation ratio', priority: 'Priority', preview: 'As arranged:', saved: 'Saved.',
    dragHint: 'Drag resources between the lists, or use a row’s + and − buttons from the keyboard; the figures and any double booking update as you go. Nothing is stored until Save.',
    doubleBooked: '{name}: {ratio} asked, only {left} left; held by',
    addTo: 'Add {name} to {vpp}', removeFrom: 'Remove {name} from {vpp}',
  },
  schedule: {
    title: 'Scheduling and dispatch', preview: 'Optimise (preview)', store: 'Optimise and store as the plan',
    solving: 'Solving… {s} s', price: 'Price', prices: 'Price series', power: 'Power per member (kW, injection positive) against price',
    soc: 'State of charge against price', execution: 'Execution against the schedule, last 24 h', scheduled: 'Scheduled',
    measured: 'Measured', deviation: 'Deviation', noExecution: 'No execution records yet: the closed loop writes them while a schedule runs.',
    noVpps: 'No active VPP to schedule.', readOnly: 'Your role can look but not schedule.',
    solver: 'Solver {backend}: {status} in {ms} ms', cost: 'net cost {cost}', stored: '{n} schedule values stored',
  },
  trading: {
    title: 'Trading monitor', newBid: 'New bid (SPOT, one step)', slot: 'Slot (UTC)', side: 'Side', sell: 'Sell', buy: 'Buy',
    quantity: 'Quantity (MW)', price: 'Price (per MWh)', submit: 'Submit bid', runAuction: 'Run the auction now',
    submitted: 'Bid {id}:', positionTitle: 'Position against capacity, {day} (bids open and cleared)', position: 'Position (sold − bought)',
    availableUp: 'Available to sell now', roomSell: 'Room left to sell', cleared: 'auction run: {bids} bids, {trades} trades, mean price {price}',
    killSwitch: 'Kill switch', killActive: 'trading stopped', killInactive: 'trading allowed',
    release: 'Allow trading again', stopTrading: 'Stop all trading', date: 'Delivery day', market: 'Market',
    noBids: 'No bids match. Traders submit them with POST /api/v1/vpp/trading/submit-bid.', notional: 'Notional',
    steps: 'Steps', by: 'Submitted / approved by', approve: 'Approve', clearingPrices: 'Clearing prices, today and tomorrow',
    revenue: 'Revenue per quarter-hour', noRevenue: 'No trades on this day.', invoices: 'Invoices to asset owners',
    noInvoices: 'No contracts, or nothing produced this month.', contract: 'Contract', payout: 'Payout', fees: 'Fees',
    net: 'Net', vat: 'VAT', gross: 'Gross',
  },
  strategies: {
    title: 'Strategies and backtests', none: 'No strategies yet. Create one with POST /api/v1/vpp/strategies.', name: 'Name',
    type: 'Type', method: 'Method', models: 'Forecasting models', noModels: 'No models registered.', skill: 'Skill',
    definition: 'Definition (JSON; checked by the server as you type)', valid: 'Valid: {rules} rules, fields {fields}',
    saveVersion: 'Save as a new version', backtest: 'Backtest', from: 'From', to: 'To', run: 'Run backtest',
    net: 'Net', maxDrawdown: 'Max drawdown', successRate: 'Success rate', degradation: 'Degradation',
    versus: 'Against the benchmark: {diff} €; captures {capture} % of perfect foresight; replay {ms} ms.',
    cumulative: 'Cumulative P&L', drawdown: 'Drawdown', strategy: 'Strategy', benchmark: 'Benchmark', perfect: 'Perfect foresight',
    earlier: 'Backtests',
    rulesView: 'Rules', window: 'Training window', hoursAhead: 'hours ahead', live: 'Live {from} – {to}: {bids} bids, {cleared} with trades, trade P&L {pnl} €, max drawdown {dd} €.',
  },
  rules: {
    none: 'No rules: an AI_DRIVEN strategy follows the optimiser.', name: 'Rule name', if: 'IF', allHold: '(all conditions hold)',
    field: 'Field', operator: 'Operator', value: 'Value', then: 'THEN', action: 'Action', parameters: 'Parameters (JSON)',
    addCondition: '+ condition', addAction: '+ action', addRule: '+ rule', removeRule: 'Remove rule', remove: 'Remove',
  },
  parks: {
    title: 'Industrial parks', site: 'Site', month: 'Month', bill: 'Bill', line: 'Line', quantity: 'Quantity', rate: 'Rate',
    amount: 'Amount', formula: 'Formula', totalLine: 'Total', profile: 'Average day against the TOU windows',
    workday: 'Workday (kW)', nonWorkday: 'Weekend and holiday (kW)', savings: 'Savings', metric: 'Metric', value: 'Value',
    coverage: 'Coverage {pct} % of {n} intervals', noSites: 'No sites yet. Create a tariff above, then a site under it, or run `vpp demo`.',
    loadFile: 'Load curve (CSV time,load_kw; 15-minute grid)', loadReport: '{rows} readings from {first} to {last}: {accepted} stored; {missing} intervals missing.',
    periods: { sharp_peak: 'Sharp peak', peak: 'Peak', flat: 'Flat', valley: 'Valley' },
    plan: {
      title: 'Tomorrow\'s battery plan', make: 'Plan tomorrow',
      hint: 'The site battery planned on the newest stored forecast of a DEMAND model of the site\'s load, against the TOU prices and the demand charge.',
      result: '{day} on {model}: peak {peak} → {peakWith} kW, energy cost {cost} → {costWith} {currency}.',
      load: 'Forecast load (kW)', import: 'Grid import (kW)', battery: 'Battery (kW, discharge +)',
    },
    lines: {
      energy_sharp_peak: 'Energy, sharp peak', energy_peak: 'Energy, peak', energy_flat: 'Energy, flat', energy_valley: 'Energy, valley',
      demand: 'Demand or capacity fee', power_factor: 'Power-factor adjustment',
    },
    metrics: {
      adjustable_kw: 'Adjustable capacity', shiftable_kwh_per_workday: 'Shiftable energy per workday',
      peak_valley_arbitrage: 'Peak-valley arbitrage', demand_charge_reduction_loads: 'Demand-charge reduction by load shedding',
      demand_response_revenue: 'Demand-response revenue', battery_demand_charge_reduction: 'Battery: demand-charge reduction',
      battery_energy_arbitrage: 'Battery: energy arbitrage', battery_bill_saving: 'Battery: bill saving',
    },
  },
  tariffs: {
    title: 'Time-of-use tariffs', none: 'No tariffs yet: create one with New tariff.', name: 'Name', region: 'Holiday region', zone: 'Time zone',
    versions: 'Versions', from: 'from', show: 'Show', day: 'Day', dayInfo: 'Version {version}, season {season}', isWorkday: 'workday', isNonWorkday: 'weekend or holiday',
    newVersion: 'New version', newTariff: 'New tariff', newVersionOf: 'New version of {name} (starts from the newest)',
    saved: '{name} saved: {version} versions.', effectiveFrom: 'Effective from', currency: 'Currency', energyPrices: 'Energy prices per kWh',
    optional: 'optional', season: 'Season', seasonName: 'Name', removeSeason: 'Remove season', months: 'Months of the season',
    workday: 'Workday windows', non_workday: 'Weekend and holiday windows', start: 'Start', end: 'End', period: 'Period',
    removeWindow: 'Remove window', addWindow: 'Add window', ownWeekend: 'Own weekend and holiday windows', ownPrices: 'Own prices this season',
    addSeason: 'Add season', demandCharge: 'Demand charge and power factor', basis: 'Demand charge', noDemand: 'None',
    maxDemand: 'Per kW of maximum demand', capacity: 'Per kVA of transformer capacity', perKwMonth: 'Price per kW and month',
    perKvaMonth: 'Price per kVA and month', powerFactor: 'Power-factor adjustment', pfTarget: 'Target power factor',
    pfTableKept: 'Its adjustment table of {n} rows is kept.', components: 'Further per-kWh lines', code: 'Code', lineName: 'Name on the bill',
    ratePerKwh: 'Rate per kWh', pfAdjusted: 'Power-factor adjusted', removeLine: 'Remove line', addLine: 'Add line',
  },
  calendar: {
    title: 'Holiday calendar', hint: 'Monday to Friday are workdays unless listed as holidays; a weekend day listed as a workday (a moved workday) gets the workday windows.',
    year: 'Year', none: 'No exceptional days in {year}.', date: 'Date', kind: 'Kind', name: 'Name', holiday: 'Public holiday',
    movedWorkday: 'Moved workday', remove: 'Remove day', add: 'Add day', saved: 'Calendar saved.',
  },
  sites: {
    title: 'Sites', name: 'Name', tariff: 'Tariff', transformer: 'Transformer (kVA)', battery: 'Battery', description: 'Description',
    edit: 'Edit', new: 'New site', noBattery: 'none',
  },
  audit: { title: 'Audit log', at: 'Time', actor: 'Actor', action: 'Action', entity: 'Entity', status: 'Status', none: 'No entries.' },
  report: {
    title: 'Portfolio performance', period: 'Period', day: 'Delivery day', month: 'Month', show: 'Show', printable: 'Printable page',
    production: 'Production by source', asset: 'Asset', owner: 'Owner', productionMwh: 'Production (MWh)',
    latest: 'Latest forecast MAE / bias (kW)', tradeable: 'Tradeable forecast MAE / bias (kW)', imbalance: 'Imbalance cost',
    redispatchMwh: 'Redispatch (MWh)', redispatchPayout: 'Redispatch payout', payout: 'Contract payout', fees: 'Fees', total: 'Total',
    accuracyHint: 'Forecast accuracy leaves out curtailed quarter-hours; contract payout and fees are monthly.',
    amounts: 'Amounts in {currency}.', trading: 'Own trading against the market', trades: 'Trades', tradedMwh: 'Traded (MWh)',
    revenue: 'Revenue', ownVwap: 'Own VWAP', marketVwap: 'Market VWAP', difference: 'Difference',
    source: { meter_final: 'Meter final', live_measurement: 'Live', forecast: 'Forecast', redispatched: 'Redispatched' },
    ingested: 'Files ingested', noRuns: 'No files came in through an ingestion source yet.', file: 'File', outcome: 'Outcome',
    accepted: 'In', refused: 'Refused', message: 'What happened',
    outcomes: { running: 'running', imported: 'imported', partial: 'partly refused', refused: 'refused', failed: 'failed' },
  },
  ingestion: {
    sources: 'Ingestion sources', noSources: 'No ingestion source yet: a folder, URL or bucket vpp looks at on a schedule.',
    target: 'Importer', location: 'Location', schedule: 'Schedule (cron)', next: 'Next look', disabled: 'disabled',
    lookNow: 'Look now', connector: 'File connector (market files)', add: 'Add source',
  },
  my: {
    title: 'My assets', none: 'No asset names you as its owner yet.', invoices: 'Show invoices', noInvoices: 'No invoices for this month.',
    contract: 'Contract', net: 'Net',
  },
}

const zh: typeof en = {
  app: { title: 'vpp 控制台', logout: '退出登录', language: '语言' },
  nav: { dashboard: '总览', resources: '资源', series: '预测与量测', vpps: '虚拟电厂聚合', schedule: '调度计划与执行', trading: '交易监控', strategies: '交易策略', parks: '工业园区', performance: '绩效报告', my: '我的资产', audit: '审计日志' },
  login: { title: '登录', username: '用户名', password: '密码', submit: '登录', failed: '登录失败' },
  common: {
    loading: '加载中…', retry: '重试', error: '接口返回', empty: '暂无数据。', page: '第 {page} / {pages} 页',
    prev: '上一页', next: '下一页', all: '全部', save: '保存', cancel: '取消', total: '共 {n} 条', live: '实时', paused: '未连接',
  },
  dashboard: {
    vpps: '虚拟电厂', capacity: '容量', up: '上调', down: '下调', online: '在线', offline: '离线',
    maintenance: '检修', error: '故障', members: '个成员', availability: '各虚拟电厂可调容量（kW）',
    byCategory: '按类别的容量（kW）', alerts: '未处理告警', noAlerts: '没有未处理的告警。',
    noVpps: '还没有虚拟电厂：请先在“资源”中登记资源并聚合，或运行 `vpp demo`。', updated: '更新于 {at}',
    prices: '今日市场价格', noPrices: '今天还没有市场价格。',
    links: '设备链路', protocol: '协议', linkState: '状态', devices: '设备数', lastContact: '最近通信',
    rate: '消息 / 轮询', failures: '失败', off: '未启用', connected: '已连接', disconnected: '未连接',
    linksConnected: '{n} 台已连接', pollsPerS: '每秒 {n} 次轮询', stationsConnected: '{n} 个充电站已连接',
  },
  resources: {
    title: '资源', name: '名称', type: '类型', category: '类别', status: '状态', capacity: '容量（kW）',
    site: '楼宇', changeStatus: '更改状态', reason: '原因', apply: '应用', sort: '排序', map: '资源位置（经度、纬度）',
    link: '设备连接', linkUp: '已连接', linkDown: '未连接', linkDisabled: '已停用',
    sorts: {
      nameAsc: '名称（A 到 Z）', nameDesc: '名称（Z 到 A）', capacityAsc: '容量（从小到大）', capacityDesc: '容量（从大到小）',
      status: '状态', type: '类型', oldest: '登记时间（最早在前）', newest: '登记时间（最新在前）',
    },
    techData: '技术数据上传', techFile: '资产主数据文件（含 "assets" 列表的 JSON）', notJson: '{file} 不是 JSON：{reason}',
    preview: '{file} 预览，尚未应用：', applied: '{file} 已应用：', diffCounts: '新增 {added}，变更 {changed}，缺失 {missing}，未变 {same}。',
    asset: '资产', field: '字段', old: '变更前', new: '变更后', added: '新增', missing: '文件中没有（保持不变）', applyFile: '应用此文件',
    none: '没有符合条件的资源。可通过接口 POST /api/v1/vpp/resource-instances 登记，或运行 `vpp demo`。',
  },
  importFile: {
    start: '导入', progress: '导入进度', uploading: '正在上传：{pct} %', storing: '正在写入：已发送 {sent} / {rows} 行到数据库',
    cancelling: '正在取消…', done: '已导入：{rows} 行已校验并写入。',
    cancelled: '已取消：导入已回滚，文件中的数据均未写入。',
    cancelledUpload: '文件尚未完整上传即已取消：未写入任何数据。',
  },
  resourceForm: {
    new: '新建资源', edit: '编辑', template: '模板', initialStatus: '初始状态', externalId: '外部编号', deviceAddress: '设备地址',
    lat: '纬度', lon: '经度', timezone: '时区', parameters: '{template} 的参数',
    created: '资源 {id} 已创建。', updated: '资源 {id} 已保存。',
  },
  series: {
    title: '预测与量测', series: '时间序列', day: '交割日', zone: '市场时区', span: '跨度', days: '{n} 天',
    none: '还没有功率序列：演示数据会创建，或调用 POST /api/v1/vpp/series。', noValues: '当日没有数据。',
    accuracy: '按提前量的预测误差（对比结算电表值，否则实测值）', horizon: '提前时长', bias: '偏差',
    noActuals: '没有可对比的实际值',
    import: '向此序列导入文件', importHint: '带表头的 CSV：时间列（列名含 time、start 或 date）和数值列；格式错误的文件不会写入任何数据。',
    source: '类型', beliefTime: '发布时间（预测与计划必填）', unit: '单位', fileZone: '无时区偏移时间所在时区',
    delimiter: '分隔符', decimalComma: '小数逗号', file: 'CSV 文件',
    importReport: '读取 {rows} 行：写入 {accepted} 行，已存在 {duplicates} 行，拒绝 {rejected} 行。', line: '行号', reason: '原因',
    sources: { forecast: '预测', live_measurement: '实时量测', meter_final: '结算电表', schedule: '计划' },
    views: { latest: '最新预测', tradeable: '最新可交易预测', measured: '实时量测', meter: '结算电表值', infeed: '最佳上网值', schedule: '调度计划' },
    physical: '物理模型预测（48 小时）', physicalHint: '根据资源的技术参数计算（光伏与风电），保存为新的预测版本。',
    physicalDone: '已保存 {at} 的预测版本：{intervals} 个时段，峰值 {peak} kW，{energy} kWh。',
    clearSky: '没有可用的天气预报：此为晴空出力，即发电上限。',
    learned: '经 {name} 修正',
    weatherTitle: '天气', weatherAt: '天气点 {point}（相距 {km} 公里）的最新预报：物理模型预测所用的天气。',
    noWeather: '30 公里内没有天气点：光伏按晴空预测，风电无法预测。',
    weather: { irradiance_ghi: '总辐照度', wind_speed_100m: '100 米风速', wind_speed_10m: '10 米风速', temperature: '气温' },
  },
  vpps: {
    title: '虚拟电厂聚合', vpp: '虚拟电厂', members: '成员', available: '其他资源', search: '按名称搜索',
    ratio: '分配比例', priority: '优先级', preview: '当前组合：', saved: '已保存。',
    dragHint: '在两个列表之间拖动资源，或用键盘操作每行的 + 和 − 按钮，指标和重复分配会随之更新。点击保存前不会写入。',
    doubleBooked: '{name}：申请 {ratio}，仅剩 {left}；已被以下虚拟电厂占用',
    addTo: '将 {name} 加入 {vpp}', removeFrom: '将 {name} 移出 {vpp}',
  },
  schedule: {
    title: '调度计划与执行', preview: '优化（预览）', store: '优化并保存为计划',
    solving: '求解中… {s} 秒', price: '价格', prices: '价格序列', power: '各成员功率（kW，上网为正）与价格',
    soc: '荷电状态与价格', execution: '近24小时计划执行情况', scheduled: '计划',
    measured: '实测', deviation: '偏差', noExecution: '还没有执行记录：计划运行时闭环控制会写入。',
    noVpps: '没有可调度的运行中虚拟电厂。', readOnly: '当前角色只能查看，不能调度。',
    solver: '求解器 {backend}：{status}，用时 {ms} 毫秒', cost: '净成本 {cost}', stored: '已保存 {n} 个计划值',
  },
  trading: {
    title: '交易监控', newBid: '新报价（现货，单段）', slot: '时段（UTC）', side: '方向', sell: '卖出', buy: '买入',
    quantity: '电量（MW）', price: '价格（每 MWh）', submit: '提交报价', runAuction: '立即出清',
    submitted: '报价 {id}：', positionTitle: '{day} 头寸与容量（未成交与已出清报价）', position: '头寸（卖出 − 买入）',
    availableUp: '当前可售容量', roomSell: '剩余可售', cleared: '已出清：{bids} 笔报价，{trades} 笔成交，均价 {price}',
    killSwitch: '紧急停止', killActive: '已停止交易', killInactive: '允许交易',
    release: '恢复交易', stopTrading: '停止全部交易', date: '交割日', market: '市场',
    noBids: '没有符合条件的报价。交易员通过 POST /api/v1/vpp/trading/submit-bid 提交。', notional: '名义金额',
    steps: '报价段数', by: '提交人 / 审批人', approve: '审批通过', clearingPrices: '出清价格（今日和明日）',
    revenue: '每15分钟收益', noRevenue: '当日没有成交。', invoices: '资产所有者结算单',
    noInvoices: '没有合同，或本月没有发电。', contract: '合同', payout: '应付金额', fees: '费用',
    net: '净额', vat: '增值税', gross: '含税总额',
  },
  strategies: {
    title: '交易策略与回测', none: '暂无策略。通过 POST /api/v1/vpp/strategies 创建。', name: '名称',
    type: '类型', method: '方法', models: '预测模型', noModels: '暂无已注册模型。', skill: '技巧分',
    definition: '定义（JSON，输入时由服务器校验）', valid: '有效：{rules} 条规则，字段 {fields}',
    saveVersion: '保存为新版本', backtest: '回测', from: '开始', to: '结束', run: '运行回测',
    net: '净收益', maxDrawdown: '最大回撤', successRate: '成功率', degradation: '电池损耗',
    versus: '相对基准：{diff} €；达到完美预见收益的 {capture} %；回放 {ms} 毫秒。',
    cumulative: '累计盈亏', drawdown: '回撤', strategy: '策略', benchmark: '基准', perfect: '完美预见',
    earlier: '回测记录',
    rulesView: '规则', window: '训练数据窗口', hoursAhead: '提前小时数', live: '实盘 {from} – {to}：{bids} 笔报价，{cleared} 笔成交，交易盈亏 {pnl} €，最大回撤 {dd} €。',
  },
  rules: {
    none: '没有规则：AI 驱动策略直接采用优化结果。', name: '规则名称', if: '如果', allHold: '（全部条件成立）',
    field: '字段', operator: '运算符', value: '取值', then: '则', action: '动作', parameters: '参数（JSON）',
    addCondition: '+ 条件', addAction: '+ 动作', addRule: '+ 规则', removeRule: '删除规则', remove: '删除',
  },
  parks: {
    title: '工业园区', site: '站点', month: '月份', bill: '电费账单', line: '项目', quantity: '数量', rate: '单价',
    amount: '金额', formula: '计算公式', totalLine: '合计', profile: '典型日负荷与分时时段',
    workday: '工作日（kW）', nonWorkday: '周末及节假日（kW）', savings: '节费测算', metric: '指标', value: '数值',
    coverage: '数据覆盖率 {pct} %，共 {n} 个时段', noSites: '还没有站点。请先在上方创建电价，再在其下创建站点，或运行 `vpp demo`。',
    loadFile: '负荷曲线（CSV time,load_kw；15 分钟间隔）', loadReport: '{first} 至 {last} 共 {rows} 条读数：写入 {accepted} 条；缺失 {missing} 个时段。',
    periods: { sharp_peak: '尖峰', peak: '高峰', flat: '平段', valley: '低谷' },
    plan: {
      title: '明日储能计划', make: '制定明日计划',
      hint: '基于站点负荷 DEMAND 模型最新保存的预测，按分时电价和需量电费安排站点储能。',
      result: '{day}，依据 {model}：峰值 {peak} → {peakWith} kW，电量电费 {cost} → {costWith} {currency}。',
      load: '预测负荷（kW）', import: '电网购电（kW）', battery: '储能（kW，放电为正）',
    },
    lines: {
      energy_sharp_peak: '尖峰电量电费', energy_peak: '高峰电量电费', energy_flat: '平段电量电费', energy_valley: '低谷电量电费',
      demand: '基本电费（需量或容量）', power_factor: '功率因数调整电费',
    },
    metrics: {
      adjustable_kw: '可调节容量', shiftable_kwh_per_workday: '每工作日可转移电量',
      peak_valley_arbitrage: '峰谷套利', demand_charge_reduction_loads: '负荷削峰降低需量电费',
      demand_response_revenue: '需求响应收益', battery_demand_charge_reduction: '储能：降低需量电费',
      battery_energy_arbitrage: '储能：峰谷套利', battery_bill_saving: '储能：电费节省',
    },
  },
  tariffs: {
    title: '分时电价', none: '还没有电价：点击“新建电价”创建。', name: '名称', region: '节假日地区', zone: '时区',
    versions: '版本', from: '生效于', show: '查看', day: '日期', dayInfo: '第 {version} 版，季节 {season}', isWorkday: '工作日', isNonWorkday: '周末或节假日',
    newVersion: '新版本', newTariff: '新建电价', newVersionOf: '{name} 的新版本（以最新版本为起点）',
    saved: '{name} 已保存：共 {version} 个版本。', effectiveFrom: '生效日期', currency: '币种', energyPrices: '电量电价（每 kWh）',
    optional: '可选', season: '季节', seasonName: '名称', removeSeason: '删除季节', months: '季节所含月份',
    workday: '工作日时段', non_workday: '周末及节假日时段', start: '开始', end: '结束', period: '时段类型',
    removeWindow: '删除时段', addWindow: '添加时段', ownWeekend: '周末及节假日使用单独时段', ownPrices: '本季节使用单独电价',
    addSeason: '添加季节', demandCharge: '基本电费与功率因数', basis: '基本电费', noDemand: '无',
    maxDemand: '按最大需量（每 kW）', capacity: '按变压器容量（每 kVA）', perKwMonth: '每 kW 每月单价',
    perKvaMonth: '每 kVA 每月单价', powerFactor: '功率因数调整', pfTarget: '功率因数考核标准',
    pfTableKept: '保留原有 {n} 行调整表。', components: '其他按电量计收项目', code: '代码', lineName: '账单名称',
    ratePerKwh: '每 kWh 单价', pfAdjusted: '参与功率因数调整', removeLine: '删除项目', addLine: '添加项目',
  },
  calendar: {
    title: '节假日日历', hint: '周一至周五为工作日，除非列为节假日；列为工作日的周末（调休）按工作日时段计。',
    year: '年份', none: '{year} 年没有特殊日期。', date: '日期', kind: '类型', name: '名称', holiday: '法定节假日',
    movedWorkday: '调休工作日', remove: '删除日期', add: '添加日期', saved: '日历已保存。',
  },
  sites: {
    title: '站点', name: '名称', tariff: '电价', transformer: '变压器容量（kVA）', battery: '储能', description: '说明',
    edit: '编辑', new: '新建站点', noBattery: '无',
  },
  audit: { title: '审计日志', at: '时间', actor: '操作人', action: '操作', entity: '对象', status: '状态', none: '暂无记录。' },
  report: {
    title: '资产组合绩效', period: '期间', day: '交付日', month: '月份', show: '查询', printable: '打印版',
    production: '按来源的发电量', asset: '资产', owner: '业主', productionMwh: '发电量（MWh）',
    latest: '最新预测 MAE / 偏差（kW）', tradeable: '可交易预测 MAE / 偏差（kW）', imbalance: '不平衡费用',
    redispatchMwh: '再调度电量（MWh）', redispatchPayout: '再调度补偿', payout: '合同结算', fees: '服务费', total: '合计',
    accuracyHint: '预测精度不含被限电的刻钟；合同结算与服务费按月计算。',
    amounts: '金额单位：{currency}。', trading: '自有交易与市场对比', trades: '成交笔数', tradedMwh: '成交电量（MWh）',
    revenue: '收入', ownVwap: '自有成交均价', marketVwap: '市场成交均价', difference: '差值',
    source: { meter_final: '结算表计', live_measurement: '实时量测', forecast: '预测', redispatched: '再调度' },
    ingested: '已接入的文件', noRuns: '还没有通过接入源导入的文件。', file: '文件', outcome: '结果',
    accepted: '导入', refused: '拒绝', message: '说明',
    outcomes: { running: '导入中', imported: '已导入', partial: '部分拒绝', refused: '已拒绝', failed: '失败' },
  },
  ingestion: {
    sources: '数据接入源', noSources: '还没有接入源：vpp 按计划读取的文件夹、网址或对象存储。',
    target: '导入类型', location: '位置', schedule: '计划（cron）', next: '下次读取', disabled: '已停用',
    lookNow: '立即读取', connector: '文件连接器（市场文件）', add: '添加接入源',
  },
  my: {
    title: '我的资产', none: '还没有资产登记您为业主。', invoices: '查看结算单', noInvoices: '本月没有结算单。',
    contract: '合同', net: '净额',
  },
}

export type Locale = 'en' | 'zh-CN'

const saved = (localStorage.getItem('vpp.locale') as Locale | null) ?? (navigator.language.startsWith('zh') ? 'zh-CN' : 'en')

export const i18n = createI18n({ legacy: false, locale: saved, fallbackLocale: 'en', messages: { en, 'zh-CN': zh } })

export function setLocale(locale: Locale) {
  i18n.global.locale.value = locale
  localStorage.setItem('vpp.locale', locale)
  document.documentElement.lang = locale
}

/** A number in the chosen locale. */
export function num(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–'
  return new Intl.NumberFormat(i18n.global.locale.value, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(x)
}

/** A time in the chosen locale and a time zone (the browser's if none). */
export function when(ts: string | null | undefined, timeZone?: string, seconds = false): string {
  if (!ts) return '–'
  const timeStyle = seconds ? 'medium' : 'short'
  return new Intl.DateTimeFormat(i18n.global.locale.value, { dateStyle: 'short', timeStyle, timeZone }).format(new Date(ts))
}
