// Browser test of the console in headless Chromium (Debian's package),
// driven by playwright-core against a running `vpp demo`.
//
//   VPP_URL=http://127.0.0.1:8080 VPP_ADMIN_PASSWORD=... VPP_VIEWER_PASSWORD=... node e2e/console.mjs
//
// Screenshots go to $VPP_E2E_SHOTS (default ./e2e-shots). Exits non-zero on the first failed check.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import assert from 'node:assert/strict'

const url = process.env.VPP_URL ?? 'http://127.0.0.1:8080'
const shots = process.env.VPP_E2E_SHOTS ?? 'e2e-shots'
mkdirSync(shots, { recursive: true })

// Under VPP_E2E_AT (scripts/console-e2e.sh) this process and the demo run
// on a clock shifted by libfaketime. Chromium does not take that library
// well (it spins), so it starts without it and its pages get the same
// time through Playwright's clock instead.
const shifted = process.env.FAKETIME !== undefined
const { LD_PRELOAD, FAKETIME, FAKETIME_DONT_FAKE_MONOTONIC, ...browserEnv } = process.env
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  env: browserEnv,
})
let failed = false
const step = async (name, fn) => {
  try {
    await fn()
    console.log(`ok   ${name}`)
  } catch (e) {
    failed = true
    console.log(`FAIL ${name}: ${e.message}`)
  }
}

async function login(page, user, password) {
  await page.goto(`${url}/`)
  await page.waitForURL(/\/login/)
  await page.fill('input[name=username]', user)
  await page.fill('input[name=password]', password)
  await page.click('button[type=submit]')
}

/** Signs out and waits until the console is back on the login page (the
 * session is revoked and forgotten by then; a navigation started earlier
 * would still find it and stay signed in). */
async function logout(page) {
  await page.click('[data-test=logout]')
  await page.waitForURL(/\/login/)
  await page.waitForSelector('input[name=username]')
}

const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'en-US' })
// The page's clock starts at this process's (shifted) time and runs on.
if (shifted) await page.clock.install({ time: Date.now() })
const consoleErrors = []
page.on('pageerror', (e) => {
  consoleErrors.push(e.message)
  console.log(`     page error: ${e.message} at ${(e.stack ?? '').split('\n').slice(1, 8).join(' ')}`)
})

/** Opens the demo's "Heat Pump Pilot" (three members, one more once the operator saved one) in the aggregation page; returns its capacity text. */
async function openHeatPumpPilot() {
  await page.click('[data-nav=vpps]')
  await page.waitForSelector('[data-test=preview]', { timeout: 15000 })
  const vpp = await page.locator('[data-test=vpp] option', { hasText: 'Heat Pump Pilot' }).getAttribute('value')
  await page.selectOption('[data-test=vpp]', vpp)
  await page.waitForFunction(() => document.querySelectorAll('[data-test=members] .dragrow').length >= 3)
  return settledCapacity(vpp)
}

/** The aggregate's capacity once the preview matches the VPP and its member rows. */
async function settledCapacity(vpp) {
  const rows = await page.locator('[data-test=members] .dragrow').count()
  await page.waitForSelector(`[data-test=preview][data-for="${vpp}"][data-members="${rows}"]`, { timeout: 10000 })
  return page.locator('[data-test=capacity]').innerText()
}

await step('a wrong password shows the API message and stays on the login page', async () => {
  await login(page, 'admin', 'wrong-password-123')
  const text = await page.locator('[role=alert]').innerText({ timeout: 10000 })
  assert.match(text, /401/)
  assert.match(page.url(), /\/login/)
})

await step('admin logs in and sees every page in the navigation', async () => {
  await login(page, 'admin', process.env.VPP_ADMIN_PASSWORD)
  await page.waitForSelector('[data-test=whoami]', { timeout: 10000 })
  for (const nav of ['dashboard', 'operate', 'resources', 'series', 'vpps', 'schedule', 'trading', 'strategies', 'parks', 'performance', 'audit']) {
    assert.equal(await page.locator(`[data-nav=${nav}]`).count(), 1, nav)
  }
})

await step('the dashboard shows the VPPs with live figures and charts', async () => {
  await page.waitForSelector('[data-vpp]', { timeout: 20000 })
  assert.equal(await page.locator('[data-vpp]').count(), 4)
  await page.waitForSelector('[data-live=true]', { timeout: 20000 })
  assert.ok((await page.locator('canvas').count()) >= 3, "today's chart, bar and pie charts drawn")
  // The fleet's power now, from the simulated devices' telemetry.
  await page.waitForFunction(() => /\d MW/.test(document.querySelector('[data-test=fleet-mw]')?.textContent ?? ''), null, { timeout: 20000 })
  assert.match(await page.locator('[data-test=fleet-now]').innerText(), /from [1-9]\d* reporting/)
  const first = await page.locator('.muted >> text=/Updated/').innerText()
  await page.waitForFunction((before) => !document.body.innerText.includes(before), first, { timeout: 15000 })
  await page.screenshot({ path: `${shots}/dashboard.png`, fullPage: true })
  // A figure, not a check (timings belong to benchmarks): a fresh load of
  // the console up to the dashboard's VPP cards.
  const started = Date.now()
  await page.reload()
  await page.waitForSelector('[data-vpp]', { timeout: 20000 })
  // Playwright's clock (under VPP_E2E_AT) replaces `performance`, which then has no navigation entry.
  const nav = await page.evaluate(() => performance.getEntriesByType?.('navigation')?.[0]?.loadEventEnd)
  const loaded = nav === undefined ? 'n/a under a shifted clock' : `${Math.round(nav)} ms`
  console.log(`     console reloaded: page loaded in ${loaded}, VPP cards after ${Date.now() - started} ms`)
})

await step('a first visit: the JavaScript sent up to the dashboard after login stays within 350 kB', async () => {
  // A fresh browser context has nothing cached: every script comes over the wire, compressed.
  const fresh = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' })
  const visitor = await fresh.newPage()
  if (shifted) await visitor.clock.install({ time: Date.now() })
  const scripts = []
  visitor.on('response', (r) => {
    if (r.url().endsWith('.js')) scripts.push(r)
  })
  await visitor.goto(`${url}/`)
  await visitor.waitForURL(/\/login/)
  await visitor.fill('input[name=username]', 'admin')
  await visitor.fill('input[name=password]', process.env.VPP_ADMIN_PASSWORD)
  const clicked = Date.now()
  await visitor.click('button[type=submit]')
  await visitor.waitForSelector('[data-vpp]', { timeout: 20000 })
  const cards = Date.now() - clicked
  let sent = 0
  let unpacked = 0
  for (const r of scripts) {
    sent += (await r.request().sizes()).responseBodySize
    unpacked += (await r.body()).length
  }
  // Figures, not timed checks: the size is a budget, the time is printed.
  console.log(`     JavaScript to the dashboard: ${scripts.length} files, ${Math.round(sent / 1024)} kB sent (${Math.round(unpacked / 1024)} kB unpacked); cards ${cards} ms after the login click`)
  assert.ok(sent <= 350 * 1024, `at most 350 kB of JavaScript sent, got ${Math.round(sent / 1024)} kB`)
  // At 1440 px the English navigation fits on one line.
  // One row: every item of the header starts above where every other ends.
  const oneRow = await visitor.evaluate(() => {
    const boxes = [...document.querySelectorAll('header a, header button, header select')].map((e) => e.getBoundingClientRect())
    return Math.max(...boxes.map((b) => b.top)) < Math.min(...boxes.map((b) => b.bottom))
  })
  assert.ok(oneRow, 'the header wraps at 1440 px')
  await fresh.close()
})

await step('the dashboard shows link health per protocol: MQTT connected, the two Modbus devices polled, two OCPP stations', async () => {
  await page.waitForSelector('[data-test=device-links]', { timeout: 20000 })
  await page.waitForFunction(
    () => document.querySelector('[data-protocol=modbus_tcp]')?.textContent?.includes('2 connected'),
    null,
    { timeout: 20000 },
  )
  await page.waitForFunction(
    () => document.querySelector('[data-protocol=ocpp]')?.textContent?.includes('2 stations connected'),
    null,
    { timeout: 20000 },
  )
  assert.equal(await page.locator('[data-test=modbus-devices]').innerText(), '2')
  assert.match(await page.locator('[data-protocol=mqtt]').innerText(), /connected/)
})

await step('resources page: filter, sort, page, and the API message at the field', async () => {
  await page.click('[data-nav=resources]')
  await page.waitForSelector('[data-test=resources] tr >> nth=1')
  assert.match(await page.locator('text=/in all/').innerText(), /55 in all/)
  // Each resource's device link: the demo's last two EV chargers are OCPP stations, connected.
  await page.selectOption('[data-test=filter-type]', 'EV_CHARGER')
  await page.waitForFunction(() => document.body.innerText.includes('8 in all'))
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-test=link]')].filter((c) => /OCPP\s+connected/.test(c.textContent ?? '')).length === 2,
    null,
    { timeout: 15000 },
  )
  assert.match(await page.locator('[data-test=link]').first().innerText(), /MQTT/)
  await page.selectOption('[data-test=filter-type]', 'BATTERY')
  await page.waitForFunction(() => document.body.innerText.includes('11 in all'))
  await page.selectOption('[data-test=sort]', '-capacity_kw')
  await page.waitForTimeout(500)
  const caps = await page.locator('[data-test=resources] td.n').allInnerTexts()
  const values = caps.map((c) => Number(c.replace(/[^0-9.]/g, '')))
  assert.deepEqual(values, [...values].sort((a, b) => b - a), 'sorted by capacity, largest first')
  await page.locator('[data-test=change-status]').first().click()
  await page.click('[data-test=apply-status]')
  const msg = await page.locator('[data-test=reason-error]').innerText({ timeout: 5000 })
  assert.match(msg, /must not be empty/)
  await page.screenshot({ path: `${shots}/resources.png`, fullPage: true })
})

await step('forecasts and measurements of a PV plant on one axis, with the error by horizon', async () => {
  await page.click('[data-nav=series]')
  await page.waitForSelector('[data-test=accuracy] tr >> nth=1', { timeout: 20000 })
  assert.ok((await page.locator('canvas').count()) >= 1, 'chart drawn')
  await page.waitForTimeout(1500) // the line animation
  await page.screenshot({ path: `${shots}/series.png`, fullPage: true })
})

await step('a PV plant: its weather, its physical forecast from technical data and the learned correction beside it', async () => {
  const pv = await page.locator('[data-test=series] option', { hasText: 'PV 01 Berlin-Adlershof power' }).first().getAttribute('value')
  await page.selectOption('[data-test=series]', pv)
  // The demo's weather is stored at each site's weather point; the chart shows irradiance, wind and temperature.
  await page.waitForSelector('[data-test=weather][data-point]:not([data-point=""])', { timeout: 15000 })
  await page.waitForFunction(() => Number(document.querySelector('[data-test=weather]')?.getAttribute('data-lines')) >= 3, null, { timeout: 15000 })
  // The demo trained a PHYSICAL_CORRECTION model on the plant's meter readings; its stored forecast is a line.
  await page.waitForFunction(() => (document.querySelector('[data-test=series-chart]')?.getAttribute('data-lines') ?? '').includes('Corrected by'), null, { timeout: 15000 })
  await page.click('[data-test=physical-forecast]')
  const result = await page.locator('[data-test=physical-result]').innerText({ timeout: 15000 })
  assert.match(result, /192 intervals/)
  assert.doesNotMatch(result, /cloudless sky/, 'under the weather forecast, not a clear sky')
  await page.waitForTimeout(1500)
  await page.screenshot({ path: `${shots}/series-physical.png`, fullPage: true })
})

await step('scheduling: the stored plan shows on open; optimise the spot portfolio for tomorrow and see power, SOC and execution', async () => {
  await page.click('[data-nav=schedule]')
  await page.waitForSelector('[data-test=run]:not([disabled])', { timeout: 10000 })
  // The demo stored tomorrow's plan: it is drawn before anything is solved.
  await page.waitForSelector('[data-test=stored-plan] canvas', { timeout: 10000 })
  assert.match(await page.locator('[data-test=stored-plan]').innerText(), /Stored plan for \d{4}-\d{2}-\d{2}/)
  await page.click('[data-test=run]')
  await page.waitForSelector('[data-test=schedule-result]', { timeout: 60000 })
  assert.match(await page.locator('[data-test=schedule-result]').innerText(), /optimal/)
  assert.ok((await page.locator('canvas').count()) >= 2, 'power and SOC charts')
  await page.waitForTimeout(1500)
  await page.screenshot({ path: `${shots}/schedule.png`, fullPage: true })
})

await step('VPP aggregation: dragging a fully booked resource in shows the double booking before saving', async () => {
  const before = await openHeatPumpPilot()
  await page.fill('[data-test=search]', 'PV 01')
  const source = page.locator('[data-test=pool] .dragrow:visible').first()
  const name = await source.getAttribute('data-resource')
  await source.dragTo(page.locator('[data-test=members]'))
  await page.waitForFunction(() => document.querySelectorAll('[data-test=members] .dragrow').length === 4, null, { timeout: 5000 })
  const warning = await page.locator('[data-test=double-booking]').innerText({ timeout: 5000 })
  assert.match(warning, new RegExp(name))
  assert.match(warning, /Nordlicht Spot Portfolio/)
  assert.notEqual(await page.locator('[data-test=capacity]').innerText(), before, 'capacity recomputed')
  assert.ok(await page.locator('[data-test=save]').isDisabled(), 'a double-booked arrangement cannot be saved')
  await page.screenshot({ path: `${shots}/vpps.png`, fullPage: true })
})

await step('trading monitor: bids, the kill switch cancels open bids, invoices with line items', async () => {
  await page.click('[data-nav=trading]')
  await page.waitForSelector('[data-test=bids] tr >> nth=1', { timeout: 15000 })
  assert.ok((await page.locator('[data-bid=SUBMITTED]').count()) > 0, 'the demo trader has open bids')
  await page.waitForSelector('[data-test=kill-switch][data-active=false]')
  await page.fill('[data-test=kill-reason]', 'browser test')
  // The first press asks for confirmation; only the second sets the switch.
  await page.click('[data-test=kill-toggle]')
  assert.equal(await page.getAttribute('[data-test=kill-switch]', 'data-active'), 'false', 'nothing before confirming')
  await page.click('[data-test=kill-toggle]')
  await page.waitForSelector('[data-test=kill-switch] .badge.ERROR')
  await page.waitForFunction(() => document.querySelectorAll('[data-bid=SUBMITTED]').length === 0)
  assert.ok((await page.locator('[data-bid=CANCELLED]').count()) > 0)
  await page.click('[data-test=kill-toggle]')
  await page.click('[data-test=kill-toggle]')
  await page.waitForSelector('[data-test=kill-switch] .badge.ONLINE')
  await page.waitForSelector('[data-test=invoices] tr >> nth=1', { timeout: 15000 })
  await page.locator('[data-test=invoices] tr >> nth=1').click()
  assert.ok((await page.locator('[data-test=invoices] tr.muted').count()) > 0, 'line items open')
  await page.screenshot({ path: `${shots}/trading.png`, fullPage: true })
})

await step('control room: a dispatch previewed with its split, confirmed, sent, and acknowledged by the simulated devices', async () => {
  await page.click('[data-nav=operate]')
  await page.waitForSelector('[data-test=dispatch-vpp] option', { state: 'attached', timeout: 15000 })
  const pool = await page.locator('[data-test=dispatch-vpp] option', { hasText: 'FCR Battery Pool' }).getAttribute('value')
  await page.selectOption('[data-test=dispatch-vpp]', pool)
  // A target the API refuses is named at its field, and nothing is sent.
  await page.fill('[data-test=dispatch-target]', '2000000000')
  await page.click('[data-test=dispatch-preview]')
  await page.waitForSelector('[role=alert]', { timeout: 10000 })
  assert.match(await page.locator('[role=alert]').first().innerText(), /422/)
  assert.equal(await page.getAttribute('[data-test=dispatch-target]', 'aria-invalid'), 'true')
  await page.fill('[data-test=dispatch-target]', '300')
  await page.click('[data-test=dispatch-preview]')
  await page.waitForSelector('[data-test=dispatch-split] canvas', { timeout: 10000 })
  assert.equal(await page.locator('[data-test=dispatch-split] canvas').count(), 2, 'bar and pie of the split')
  assert.match(await page.locator('[data-test=unmet]').innerText(), /kW unmet/)
  await page.screenshot({ path: `${shots}/operate-preview.png`, fullPage: true })
  // Sending asks first; only the confirmation dispatches.
  await page.click('[data-test=dispatch-send]')
  await page.waitForSelector('[data-test=dispatch-confirm]')
  assert.match(await page.locator('[data-test=dispatch-confirm]').innerText(), /Dispatch|dispatch/)
  await page.click('[data-test=dispatch-confirm-yes]')
  await page.waitForSelector('[data-test=execution] [data-test=instruction]', { timeout: 15000 })
  // The simulated devices (MQTT, Modbus, OCPP) answer within seconds.
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-test=delivery]')].some((d) => d.textContent.trim() === 'acknowledged'),
    null,
    { timeout: 30000 },
  )
  const states = await page.locator('[data-test=delivery]').allInnerTexts()
  console.log(`     setpoint deliveries: ${states.join(', ')}`)
  await page.screenshot({ path: `${shots}/operate-execution.png`, fullPage: true })
})

await step("a resource's detail: power now, its VPPs with ratios, the setpoint just sent with its delivery, its history", async () => {
  const acknowledged = page.locator('[data-test=instruction]', { has: page.locator('[data-test=delivery]', { hasText: 'acknowledged' }) }).first()
  const name = await acknowledged.locator('[data-test=instruction-resource]').innerText()
  await acknowledged.locator('[data-test=instruction-resource]').click()
  await page.waitForURL(/\/resources\/.+/)
  assert.equal(await page.locator('[data-test=resource-name]').innerText({ timeout: 10000 }), name)
  await page.waitForSelector('[data-test=live-power]', { timeout: 15000 })
  assert.match(await page.locator('[data-test=resource-vpps]').innerText(), /FCR Battery Pool/)
  await page.waitForFunction(() => /acknowledged/.test(document.querySelector('[data-test=resource-setpoints]')?.textContent ?? ''), null, { timeout: 15000 })
  await page.screenshot({ path: `${shots}/resource-detail.png`, fullPage: true })
})

await step('the fleet map: country outlines, nearby assets clustered, zoom and pan, a cluster click zooms in, an asset click opens it', async () => {
  await page.click('[data-nav=resources]')
  const map = page.locator('[data-test=fleet-map][data-ready=true]')
  await map.waitFor({ timeout: 20000 })
  await map.scrollIntoViewIfNeeded()
  // The demo's German sites: three clusters (each site's assets are within 2 km).
  const before = Number(await map.getAttribute('data-markers'))
  assert.ok(before >= 3 && before < 55, `the demo's assets are clustered: ${before} markers`)
  const box = await map.boundingBox()
  // The wheel zooms: the clusters move on screen.
  const first = await map.getAttribute('data-cluster')
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.wheel(0, -400)
  await page.waitForFunction((old) => document.querySelector('[data-test=fleet-map]')?.getAttribute('data-cluster') !== old, first, { timeout: 10000 })
  // Clicking a cluster zooms into it, until a lone asset is in view; clicking that opens it.
  for (let i = 0; i < 8 && !(await map.getAttribute('data-lone')); i++) {
    const [cx, cy] = (await map.getAttribute('data-cluster')).split(',').map(Number)
    await page.mouse.click(box.x + cx, box.y + cy)
    await page.waitForTimeout(500)
  }
  const after = Number(await map.getAttribute('data-markers'))
  console.log(`     map markers: ${before} at first, ${after} zoomed into a site`)
  assert.ok(after > before, 'a cluster came apart')
  await page.screenshot({ path: `${shots}/resources-map.png`, fullPage: true })
  const [x, y] = (await map.getAttribute('data-lone')).split(',').map(Number)
  await page.mouse.click(box.x + x, box.y + y)
  await page.waitForURL(/\/resources\/.+/, { timeout: 10000 })
  await page.waitForSelector('[data-test=resource-name]', { timeout: 10000 })
})

await step('control room: an alert acknowledged and resolved with a comment', async () => {
  // An alert to take: an ingestion source at a URL nobody serves, looked at now.
  const made = await page.evaluate(async () => {
    const headers = { authorization: `Bearer ${sessionStorage.getItem('vpp.access')}`, 'content-type': 'application/json' }
    const body = JSON.stringify({ name: 'Unreachable meter', target: 'series', location: 'http://127.0.0.1:9/meter.csv', schedule: '0 0 1 1 *' })
    const source = await (await fetch('/api/v1/vpp/ingestion/sources', { method: 'POST', headers, body })).json()
    const run = await fetch(`/api/v1/vpp/ingestion/sources/${source.id}/run`, { method: 'POST', headers })
    return { id: source.id, run: run.status }
  })
  assert.ok(made.id, 'source created')
  await page.click('[data-nav=operate]')
  const row = page.locator('[data-test=alerts] tr[data-rule=ingestion_failed]', { hasText: '127.0.0.1:9/meter.csv' }).first()
  await row.waitFor({ timeout: 20000 })
  await row.locator('[data-test=alert-ack]').click()
  await row.locator('[data-test=alert-comment]').fill('calling the DSO about their server')
  await row.locator('[data-test=alert-confirm]').click()
  await row.locator('[data-test=taken-by]').waitFor({ timeout: 10000 })
  assert.match(await row.locator('[data-test=taken-by]').innerText(), /admin: calling the DSO/)
  await row.locator('[data-test=alert-resolve]').click()
  await row.locator('[data-test=alert-comment]').fill('source removed')
  await row.locator('[data-test=alert-confirm]').click()
  await page.waitForFunction(() => ![...document.querySelectorAll('[data-test=alerts] tr')].some((r) => r.textContent.includes('127.0.0.1:9/meter.csv')), null, { timeout: 10000 })
  await page.evaluate(async (id) => {
    await fetch(`/api/v1/vpp/ingestion/sources/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${sessionStorage.getItem('vpp.access')}` } })
  }, made.id)
})

await step('VPPs: a new VPP is created inactive, renamed, then activated and deactivated after confirming', async () => {
  await page.click('[data-nav=vpps]')
  await page.click('[data-test=new-vpp-open]')
  await page.fill('[data-test=new-vpp-name]', 'E2E Control Pool')
  await page.click('[data-test=new-vpp-create]')
  await page.waitForSelector('[data-test=vpp-details][data-status=INACTIVE]', { timeout: 10000 })
  assert.equal(await page.inputValue('[data-test=vpp-name]'), 'E2E Control Pool')
  await page.click('[data-test=vpp-to-ACTIVE]')
  assert.equal(await page.getAttribute('[data-test=vpp-details]', 'data-status'), 'INACTIVE', 'nothing before confirming')
  await page.click('[data-test=vpp-status-confirm]')
  await page.waitForSelector('[data-test=vpp-details][data-status=ACTIVE]', { timeout: 10000 })
  assert.match(await page.locator('[data-test=vpp-changed]').innerText(), /active/)
  await page.click('[data-test=vpp-to-INACTIVE]')
  await page.click('[data-test=vpp-status-confirm]')
  await page.waitForSelector('[data-test=vpp-details][data-status=INACTIVE]', { timeout: 10000 })
  await page.screenshot({ path: `${shots}/vpps-status.png`, fullPage: true })
})

await step('strategies: the editor names a bad field, a backtest runs with progress and shows its metrics and curves', async () => {
  await page.click('[data-nav=strategies]')
  await page.waitForSelector('[data-test=strategies] [data-strategy]', { timeout: 20000 })
  // The page lists strategies first and models once their versions load: wait for them.
  await page.waitForFunction(() => document.querySelectorAll('[data-test=models] tr').length >= 3, null, { timeout: 20000 })
  assert.ok((await page.locator('[data-test=models] tr').count()) >= 3, 'two models with scores')
  await page.click('[data-model="DA price MSTL"]')
  const versions = await page.locator('[data-test=model-versions]').innerText({ timeout: 10000 })
  assert.match(versions, /ready/)
  // The demo's backtest of the ACTIVE strategy is shown first.
  await page.waitForSelector('[data-test=metrics] [data-figures="perfect foresight"]', { timeout: 20000 })
  // Pickers: an hour above 30 can never hold, and the server says so at its path.
  const first = page.locator('[data-condition="0.0"]')
  // Compact: a condition (field, operator, value) is one line.
  const rowHeight = await first.evaluate((el) => el.getBoundingClientRect().height)
  assert.ok(rowHeight < 40, `a condition takes one line, not ${rowHeight} px`)
  await first.locator('[data-test=field]').selectOption('hour')
  await first.locator('[data-test=operator]').selectOption('>')
  await first.locator('[data-test=value]').fill('30')
  await first.locator('[data-test=value]').press('Tab')
  await page.waitForFunction(() => /rules\[0\]\.conditions: never fires/.test(document.querySelector('[data-test=validation]')?.textContent ?? ''), null, { timeout: 10000 })
  await first.locator('[data-test=value]').fill('3')
  await first.locator('[data-test=value]').press('Tab')
  await page.waitForFunction(() => document.querySelector('[data-test=validation]')?.textContent?.startsWith('Valid'), null, { timeout: 10000 })
  // The JSON view shows the same definition; a misspelt field is named by path.
  await page.click('[data-test=view-json]')
  const editor = page.locator('[data-test=definition]')
  const good = await editor.inputValue()
  assert.match(good, /"field": "hour"/)
  await editor.fill(good.replace('"soc"', '"sok"'))
  await page.waitForFunction(() => document.querySelector('[data-test=validation]')?.textContent?.includes('rules[0].conditions[1].field'), null, { timeout: 10000 })
  await editor.fill(good)
  await page.waitForFunction(() => document.querySelector('[data-test=validation]')?.textContent?.startsWith('Valid'), null, { timeout: 10000 })
  const day = (back) => new Date(Date.now() - back * 86_400_000).toISOString().slice(0, 10)
  await page.fill('[data-test=from]', day(9))
  await page.fill('[data-test=to]', day(3))
  const before = await page.locator('[data-task-id]').getAttribute('data-task-id')
  await page.click('[data-test=run-backtest]')
  await page.waitForFunction(
    (old) => {
      const badge = document.querySelector('[data-task-id]')
      return badge && badge.getAttribute('data-task-id') !== old && badge.getAttribute('data-task') === 'DONE'
    },
    before,
    { timeout: 60000 },
  )
  const metrics = await page.locator('[data-test=metrics]').innerText()
  for (const label of ['v1', 'perfect foresight', 'Sharpe', 'VaR 95 %']) assert.ok(metrics.includes(label), `${label} in ${metrics}`)
  assert.ok((await page.locator('.chart').count()) >= 2, 'P&L and drawdown charts')
  await page.screenshot({ path: `${shots}/strategies.png`, fullPage: true })
})

await step('the park bill shows its lines, total and the load chart', async () => {
  await page.click('[data-nav=parks]')
  await page.waitForSelector('[data-test=total]', { timeout: 30000 })
  assert.match(await page.locator('[data-test=total]').innerText(), /^\d+\.\d\d$/)
  assert.ok((await page.locator('[data-test=bill] tr').count()) >= 6)
  assert.ok((await page.locator('canvas').count()) >= 1)
  await page.screenshot({ path: `${shots}/parks.png`, fullPage: true })
})

await step("tomorrow's park battery plan stands on the demand model's forecast and lowers the peak", async () => {
  await page.click('[data-test=battery-plan]')
  const result = await page.locator('[data-test=plan-result]').innerText({ timeout: 30000 })
  const [, peak, peakWith] = result.match(/peak ([\d,.]+) → ([\d,.]+) kW/) ?? []
  assert.ok(peak && peakWith, result)
  assert.ok(Number(peakWith.replace(/,/g, '')) <= Number(peak.replace(/,/g, '')), result)
  assert.match(result, /Suzhou Plant A demand/)
  await page.waitForTimeout(1500)
  await page.screenshot({ path: `${shots}/parks-battery-plan.png`, fullPage: true })
})

await step("a battery's payback over the park's year of load: investment, yearly saving, simple payback, NPV", async () => {
  await page.fill('[data-test=payback-kwh]', '2000')
  await page.click('[data-test=payback-run]')
  const table = await page.locator('[data-test=payback-metrics]').innerText({ timeout: 30000 })
  assert.match(table, /simple payback/)
  assert.match(table, /net present value/)
})

await step("the performance report of yesterday: the spot portfolio's production by source, per asset and in total", async () => {
  await page.click('[data-nav=performance]')
  await page.waitForSelector('[data-test=report-total]', { timeout: 30000 })
  await page.selectOption('[data-test=report-vpp]', { label: 'Nordlicht Spot Portfolio' })
  await page.click('[data-test=report-load]')
  await page.waitForTimeout(1500)
  const total = await page.locator('[data-test=report-total] th').nth(1).innerText()
  assert.ok(Number(total.replace(/[^0-9.]/g, '')) > 0, `yesterday's production: ${total}`)
  assert.ok(await page.locator('[data-test=report-assets] tr').count() > 2)
  await page.screenshot({ path: `${shots}/performance.png`, fullPage: true })
})

await step("the demo's inbox is an ingestion source; a source with a bad schedule is refused with the API's message", async () => {
  assert.match(await page.locator('[data-test=ingestion-sources]').innerText(), /demo inbox/)
  const form = page.locator('[data-test=ingestion-add]')
  await form.locator('input').nth(0).fill('DSO meter')
  await form.locator('input').nth(1).fill('/tmp/vpp-e2e-inbox')
  await form.locator('input').nth(2).fill('every day')
  await form.locator('button[type=submit]').click()
  await page.waitForSelector('.error', { timeout: 10000 })
  assert.match(await page.locator('.error').first().innerText(), /schedule/)
})

await step('Simplified Chinese: every navigation label switches', async () => {
  await page.selectOption('[data-test=locale]', 'zh-CN')
  assert.equal(await page.locator('[data-nav=resources]').innerText(), '资源')
  assert.equal(await page.locator('[data-nav=parks]').innerText(), '工业园区')
  assert.equal(await page.locator('[data-test=logout]').innerText(), '退出登录')
  await page.screenshot({ path: `${shots}/parks-zh.png`, fullPage: true })
  // The control room and the dashboard in Chinese, enums included.
  await page.click('[data-nav=operate]')
  await page.waitForSelector('[data-test=dispatch-mode]')
  assert.match(await page.locator('[data-test=dispatch-mode]').innerText(), /经济排序/)
  await page.screenshot({ path: `${shots}/operate-zh.png`, fullPage: true })
  await page.click('[data-nav=dashboard]')
  await page.waitForSelector('[data-test=fleet-now]', { timeout: 20000 })
  assert.match(await page.locator('[data-test=vpp-cards]').innerText(), /现货市场/)
  await page.screenshot({ path: `${shots}/dashboard-zh.png`, fullPage: true })
})

await step('Simplified Chinese: no English word is left on any page, bar names users gave, units, ids and standards', async () => {
  // Words of the names users (and the demo, as a user would) gave things.
  const named = await page.evaluate(async () => {
    const headers = { authorization: `Bearer ${sessionStorage.getItem('vpp.access')}` }
    const lists = ['/api/v1/vpp/resource-instances?size=1000', '/api/v1/vpp/vpps?size=1000', '/api/v1/vpp/series?size=1000',
      '/api/v1/vpp/strategies', '/api/v1/vpp/sites', '/api/v1/vpp/tariffs', '/api/v1/vpp/market-connectors', '/api/v1/vpp/ai-models',
      '/api/v1/auth/users', '/api/v1/vpp/resource-templates', '/api/v1/vpp/ingestion/sources', '/api/v1/vpp/contracts',
      '/api/v1/vpp/adjustable-loads', '/api/v1/vpp/devices/stations', '/api/v1/vpp/my/assets']
    const keys = new Set(['name', 'owner', 'building', 'city', 'manufacturer', 'model', 'username', 'display_name', 'description', 'notes', 'station_id', 'vendor', 'serial_number'])
    const words = new Set()
    const walk = (x) => {
      if (Array.isArray(x)) x.forEach(walk)
      else if (x && typeof x === 'object') {
        for (const [k, v] of Object.entries(x)) {
          if (typeof v === 'string' && keys.has(k)) for (const w of v.match(/[A-Za-z]+/g) ?? []) words.add(w.toLowerCase())
          else walk(v)
        }
      }
    }
    for (const path of lists) {
      const r = await fetch(path, { headers })
      if (r.ok) walk(await r.json())
    }
    return [...words]
  })
  const exempt = new Set([...named,
    // units, currencies, standards and products by their own names
    'kw', 'kwh', 'mw', 'mwh', 'gw', 'gwh', 'kva', 'kvar', 'kvarh', 'w', 'wh', 'v', 'a', 'hz', 'ms', 'kb', 'mb', 'pct', 'soc', 'eur', 'cny', 'usd', 'gbp',
    'mqtt', 'ocpp', 'modbus', 'tcp', 'sunspec', 'openadr', 'ven', 'vtn', 'api', 'rest', 'json', 'csv', 'html', 'utc', 'cet', 'cest', 'id', 'ids', 'vpp', 'vpps',
    'natural', 'earth', 'fcr', 'afrr', 'mfrr', 'epex', 'iso', 'p', 'mae', 'rmse', 'mape', 'var', 'cvar', 'sharpe', 'ai', 'lp', 'milp', 'highs', 'microlp',
    'mstl', 'ets', 'pv', 'ev', 'tou', 'ok', 'wape', 'cron', 'h', 'min', 's', 'd', 'de', 'cn', 'en', 'zh', 'vs'])
  const leftovers = {}
  for (const nav of ['dashboard', 'operate', 'resources', 'series', 'vpps', 'schedule', 'trading', 'strategies', 'parks', 'performance', 'audit']) {
    await page.click(`[data-nav=${nav}]`)
    await page.waitForTimeout(2500)
    const text = await page.evaluate(() => {
      const out = []
      const root = document.querySelector('main') ?? document.body
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement
        if (!el || el.closest('option, script, style, code, pre, [data-user-text]') || el.offsetParent === null) continue
        out.push(n.textContent ?? '')
      }
      // A select shows its chosen option only.
      for (const sel of root.querySelectorAll('select')) if (sel.offsetParent !== null) out.push(sel.selectedOptions[0]?.textContent ?? '')
      return out.join(' ')
    })
    // Not words: quoted names ("assets"), paths and zones (a/b), region codes (CN-JS), ids
    // (with digits, dots or underscores).
    const plain = text.replace(/"[^"]*"|“[^”]*”|`[^`]*`/g, ' ')
    const tokens = (plain.match(/[A-Za-z][A-Za-z0-9_.\/-]*/g) ?? [])
      .filter((w) => !/[\d_./]/.test(w) && !/^[A-Z]{2}-[A-Z]{1,3}$/.test(w))
    const words = tokens.flatMap((w) => w.split('-')).filter((w) => w.length > 1 && !exempt.has(w.toLowerCase()))
    if (words.length) {
      leftovers[nav] = [...new Set(words)].slice(0, 40).map((w) => {
        const at = plain.indexOf(w)
        return `${w} … ${plain.slice(Math.max(0, at - 30), at + 40).replace(/\s+/g, ' ')}`
      })
    }
    await page.screenshot({ path: `${shots}/${nav}-zh-all.png`, fullPage: true })
  }
  await page.selectOption('[data-test=locale]', 'en')
  assert.deepEqual(leftovers, {}, `English words on Chinese pages: ${JSON.stringify(leftovers, null, 1)}`)
})

await step('the audit log lists the status change attempt, and filters by entity and actor', async () => {
  await page.click('[data-nav=audit]')
  await page.waitForSelector('[data-test=audit] tr >> nth=1')
  // The dispatch sent from the control room, by admin.
  await page.selectOption('[data-test=audit-entity]', 'dispatch')
  await page.fill('[data-test=audit-actor]', 'admin')
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-test=audit] tr')].slice(1)
    return rows.length > 0 && rows.every((r) => r.textContent.includes('dispatch') && r.textContent.includes('admin'))
  }, null, { timeout: 10000 })
  await page.fill('[data-test=audit-actor]', 'nobody-here')
  await page.waitForSelector('p.empty', { timeout: 10000 })
})

await step('a viewer sees no audit log and no status buttons; the server refuses them anyway', async () => {
  await logout(page)
  await login(page, 'viewer', process.env.VPP_VIEWER_PASSWORD)
  await page.waitForSelector('[data-test=whoami]')
  assert.equal(await page.locator('[data-nav=audit]').count(), 0)
  await page.click('[data-nav=resources]')
  await page.waitForSelector('[data-test=resources] tr >> nth=1')
  assert.equal(await page.locator('[data-test=change-status]').count(), 0)
  const status = await page.evaluate(async () => {
    const r = await fetch('/api/v1/audit', { headers: { authorization: `Bearer ${sessionStorage.getItem('vpp.access')}` } })
    return r.status
  })
  assert.equal(status, 403)
  await page.goto(`${url}/audit`)
  await page.waitForSelector('[data-vpp]', { timeout: 20000 })
  await page.click('[data-nav=parks]')
  await page.waitForSelector('[data-test=tariffs] canvas', { timeout: 20000 })
  await page.click('[data-nav=series]')
  await page.waitForSelector('[data-test=series-chart]', { timeout: 20000 })
  await page.click('[data-nav=vpps]')
  await page.waitForSelector('[data-test=preview]', { timeout: 20000 })
  for (const test of ['new-version', 'new-tariff', 'new-site', 'edit-site', 'import-file', 'add-member', 'remove-member', 'save']) {
    assert.equal(await page.locator(`[data-test=${test}]`).count(), 0, `${test} hidden from a viewer`)
  }
})

await step('an operator creates a resource from a template: the API names a bad parameter at its field first', async () => {
  await logout(page)
  await login(page, 'operator', process.env.VPP_OPERATOR_PASSWORD)
  await page.waitForSelector('[data-test=whoami]')
  await page.click('[data-nav=resources]')
  await page.waitForSelector('[data-test=map] canvas', { timeout: 15000 })
  await page.click('[data-test=new-resource]')
  const form = page.locator('[data-test=resource-form]')
  const battery = await form.locator('[data-test=template] option', { hasText: '(BATTERY)' }).first().getAttribute('value')
  await form.locator('[data-test=template]').selectOption(battery)
  await form.locator('[data-param=usable_energy_kwh] input').waitFor()
  await form.locator('[data-test=name]').fill('E2E Battery')
  await form.locator('[data-test=initial-status]').selectOption('ONLINE')
  await form.locator('[data-test=device-address]').fill('modbus://127.0.0.1:15021')
  await form.locator('[data-param=usable_energy_kwh] input').fill('-5')
  await form.locator('[data-param=max_charge_kw] input').fill('50')
  await form.locator('[data-param=max_discharge_kw] input').fill('50')
  await page.click('[data-test=save-resource]')
  const message = await form.locator('[data-param=usable_energy_kwh] [data-test=param-error]').innerText({ timeout: 10000 })
  assert.ok(message.length > 0, 'message at the field')
  await form.locator('[data-param=usable_energy_kwh] input').fill('100')
  await page.click('[data-test=save-resource]')
  await page.waitForSelector('[data-test=resource-saved]', { timeout: 10000 })
  await page.selectOption('[data-test=filter-type]', 'BATTERY')
  await page.selectOption('[data-test=sort]', '-created_at')
  await page.waitForFunction(() => document.querySelector('[data-test=resources]')?.textContent?.includes('E2E Battery'), null, { timeout: 10000 })
  await page.screenshot({ path: `${shots}/resources-new.png`, fullPage: true })
})

await step('the operator uploads a technical-data file, sees its diff, then applies it', async () => {
  const file = { assets: [{
    asset_id: 'E2E-PV-1', name: 'E2E Roof', type: 'PV', status: 'active', owner: { name: 'E2E' },
    location: { latitude: 52.4, longitude: 13.5, timezone: 'Europe/Berlin' }, technical_attributes: { capacity_kw: 80, tilt_deg: 25 },
  }] }
  await page.setInputFiles('[data-test=techdata-file]', { name: 'e2e-assets.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) })
  await page.waitForSelector('[data-test=techdata-diff][data-dry-run=true]', { timeout: 10000 })
  assert.match(await page.locator('[data-test=techdata-diff]').innerText(), /E2E-PV-1/)
  assert.equal(await page.locator('[data-test=resources] >> text=E2E Roof').count(), 0, 'not applied by the preview')
  await page.screenshot({ path: `${shots}/techdata-preview.png`, fullPage: true })
  await page.click('[data-test=techdata-apply]')
  await page.waitForSelector('[data-test=techdata-diff][data-dry-run=false]', { timeout: 10000 })
  await page.selectOption('[data-test=filter-type]', 'PV')
  await page.waitForFunction(() => document.querySelector('[data-test=resources]')?.textContent?.includes('E2E Roof'), null, { timeout: 10000 })
})

await step('the operator drags the new resource into a VPP and sees the aggregate change, then saves', async () => {
  const before = await openHeatPumpPilot()
  await page.fill('[data-test=search]', 'E2E Battery')
  await page.locator('[data-test=pool] .dragrow:visible').first().dragTo(page.locator('[data-test=members]'))
  await page.waitForFunction(() => document.querySelectorAll('[data-test=members] .dragrow').length === 4, null, { timeout: 5000 })
  // The server recomputes the aggregate for the arrangement as it stands.
  await page.waitForFunction((old) => document.querySelector('[data-test=capacity]')?.textContent !== old, before, { timeout: 10000 })
  assert.equal(await page.locator('[data-test=double-booking]').count(), 0, 'a free resource is no double booking')
  await page.click('[data-test=save]')
  await page.waitForSelector('[data-test=saved]', { timeout: 10000 })
})

await step('the operator moves a resource into a VPP and out again from the keyboard', async () => {
  const before = await openHeatPumpPilot()
  const members = () => page.locator('[data-test=members] .dragrow').count()
  const count = await members()
  await page.fill('[data-test=search]', '')
  await page.locator('[data-test=pool] [data-test=add-member]:visible').first().focus()
  await page.keyboard.press('Enter')
  await page.waitForFunction((n) => document.querySelectorAll('[data-test=members] .dragrow').length === n, count + 1)
  const vpp = await page.locator('[data-test=vpp]').inputValue()
  assert.notEqual(await settledCapacity(vpp), before)
  // Focus stays in the list, on the next resource's button.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-test')), 'add-member')
  await page.locator('[data-test=members] [data-test=remove-member]').first().focus()
  await page.keyboard.press('Enter')
  await page.waitForFunction((n) => document.querySelectorAll('[data-test=members] .dragrow').length === n, count)
  assert.equal(await settledCapacity(vpp), before)
  await page.screenshot({ path: `${shots}/vpps-keyboard.png`, fullPage: true })
})

await step('the operator imports a big measurement file, sees it stored with progress, cancels it, and nothing is stored', async () => {
  await page.click('[data-nav=series]')
  await page.waitForSelector('[data-test=import-source]', { timeout: 15000 })
  const series = await page.locator('[data-test=series]').inputValue()
  await page.selectOption('[data-test=import-source]', 'live_measurement')
  // 400,000 one-second measurements (11 MB) from six days ago.
  const first = Math.floor(Date.now() / 1000 - 6 * 86_400) * 1000
  // Other data may lie in that window (the demo's meter final of past days,
  // live values the simulator writes): count this source before and after.
  const storedLive = () => page.evaluate(async ({ series, start, end }) => {
    const r = await fetch(`/api/v1/vpp/series/${series}/beliefs?source=live_measurement&start=${start}&end=${end}`,
      { headers: { authorization: `Bearer ${sessionStorage.getItem('vpp.access')}` } })
    return (await r.json()).length
  }, { series, start: new Date(first).toISOString(), end: new Date(first + 400_000_000).toISOString() })
  const before = await storedLive()
  let big = 'time,power_kw\n'
  for (let i = 0; i < 400_000; i++) big += `${new Date(first + i * 1000).toISOString()},${i % 500}\n`
  await page.setInputFiles('[data-test=import-file]', { name: 'big.csv', mimeType: 'text/csv', buffer: Buffer.from(big) })
  await page.click('[data-test=import-start]')
  await page.waitForSelector('[data-test=import-progress][data-stage=store]', { timeout: 30000 })
  await page.screenshot({ path: `${shots}/series-import-progress.png`, fullPage: true })
  await page.click('[data-test=import-cancel]')
  await page.waitForSelector('[data-test=import-cancelled]', { timeout: 30000 })
  assert.equal(await storedLive(), before, 'a cancelled import stores nothing')
  // A small file goes through and is reported.
  let small = 'time,power_kw\n'
  for (let i = 0; i < 60; i++) small += `${new Date(first + i * 1000).toISOString()},${i}\n`
  await page.setInputFiles('[data-test=import-file]', { name: 'small.csv', mimeType: 'text/csv', buffer: Buffer.from(small) })
  await page.click('[data-test=import-start]')
  await page.waitForSelector('[data-test=import-done]', { timeout: 30000 })
  assert.match(await page.locator('[data-test=import-report]').innerText(), /60 rows read: 60 stored/)
})

await step('the operator adds a tariff version (a negative price refused at its field) and a site, and imports its load', async () => {
  await page.click('[data-nav=parks]')
  await page.waitForSelector('[data-test=new-version]', { timeout: 20000 })
  await page.click('[data-test=new-version]')
  await page.fill('[data-test=price-peak]', '-1')
  await page.click('[data-test=save-tariff]')
  const message = await page.locator('[data-test=tariff-editor] [data-test=field-error]').first().innerText({ timeout: 10000 })
  assert.match(message, /0\.\.100/)
  await page.screenshot({ path: `${shots}/parks-tariff-version.png`, fullPage: true })
  await page.fill('[data-test=price-peak]', '1.5')
  await page.click('[data-test=save-tariff]')
  const saved = await page.locator('[data-test=tariff-saved]').innerText({ timeout: 10000 })
  const versions = saved.match(/(\d+) versions/)[1]
  // The day shown is the new version's first.
  await page.waitForFunction((v) => document.querySelector('[data-test=tariff-day]')?.textContent?.includes(`Version ${v},`), versions, { timeout: 10000 })
  await page.click('[data-test=new-site]')
  await page.fill('[data-test=site-name]', 'E2E Plant')
  await page.fill('[data-test=site-kva]', '-5')
  await page.click('[data-test=save-site]')
  assert.ok((await page.locator('[data-test=site-form] [data-test=field-error]').innerText({ timeout: 10000 })).length > 0)
  await page.fill('[data-test=site-kva]', '800')
  await page.click('[data-test=save-site]')
  await page.waitForSelector('[data-site="E2E Plant"]', { timeout: 10000 })
  assert.equal(await page.locator('[data-test=site] option:checked').innerText(), 'E2E Plant')
  let csv = 'time,load_kw\n'
  for (let k = 0; k < 96; k++) csv += `2026-11-02 ${String(Math.floor(k / 4)).padStart(2, '0')}:${String((k % 4) * 15).padStart(2, '0')},${100 + k}\n`
  await page.setInputFiles('[data-test=import-file]', { name: 'load.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  await page.click('[data-test=import-start]')
  await page.waitForSelector('[data-test=import-done]', { timeout: 15000 })
  assert.match(await page.locator('[data-test=load-report]').innerText(), /96 readings .*96 stored; 0 intervals missing/)
  await page.screenshot({ path: `${shots}/parks-site-load.png`, fullPage: true })
})

await step('the operator makes a Saturday a moved workday, and the tariff applies its workday windows on it', async () => {
  const saturday = new Date()
  saturday.setUTCDate(saturday.getUTCDate() + 7 + ((6 - saturday.getUTCDay() + 7) % 7))
  const date = saturday.toISOString().slice(0, 10)
  await page.fill('[data-test=tariff-date]', date)
  await page.waitForFunction(() => document.querySelector('[data-test=tariff-day]')?.textContent?.includes('weekend or holiday'), null, { timeout: 10000 })
  // The calendars are folded below the bill; open them.
  await page.click('[data-test=calendar-details] summary')
  await page.locator('[data-test=calendar] input[type=number]').fill(date.slice(0, 4))
  await page.click('[data-test=calendar-add]')
  const row = page.locator('[data-test=calendar-day]').last()
  await row.locator('input[type=date]').fill(date)
  await row.locator('select').selectOption('workday')
  await row.locator('input:not([type])').fill('E2E moved workday')
  await page.click('[data-test=calendar-save]')
  await page.waitForSelector('[data-test=calendar-saved]', { timeout: 10000 })
  // Ask for the day again: another date, then the Saturday.
  await page.fill('[data-test=tariff-date]', new Date(saturday.getTime() - 86_400_000).toISOString().slice(0, 10))
  await page.fill('[data-test=tariff-date]', date)
  await page.waitForFunction(() => /· workday$/.test(document.querySelector('[data-test=tariff-day]')?.textContent?.trim() ?? ''), null, { timeout: 10000 })
  await page.screenshot({ path: `${shots}/parks-calendar.png`, fullPage: true })
})

await step('forecasts and measurements on a DST day have 100 quarter-hours in Berlin; a year of them stays drawable', async () => {
  await page.click('[data-nav=series]')
  await page.waitForSelector('[data-test=series] option >> nth=0', { state: 'attached', timeout: 15000 })
  const load = await page.locator('[data-test=series] option', { hasText: 'Suzhou Plant A load' }).getAttribute('value')
  await page.selectOption('[data-test=series]', load)
  // The last Sunday of October that has passed: clocks go back in Europe/Berlin.
  const now = new Date()
  let year = now.getUTCFullYear()
  const lastSunday = (y) => { const d = new Date(Date.UTC(y, 9, 31)); d.setUTCDate(31 - d.getUTCDay()); return d }
  if (lastSunday(year) >= now) year -= 1
  await page.fill('[data-test=day]', lastSunday(year).toISOString().slice(0, 10))
  await page.waitForSelector('[data-test=series-chart][data-intervals="100"]', { timeout: 15000 })
  await page.screenshot({ path: `${shots}/series-dst.png`, fullPage: true })
  const started = Date.now()
  await page.selectOption('[data-test=span]', '365')
  await page.waitForFunction(() => Number(document.querySelector('[data-test=series-chart]')?.getAttribute('data-intervals')) > 30000, null, { timeout: 30000 })
  await page.waitForSelector('[data-test=series-chart] canvas')
  console.log(`     a year of quarter-hours loaded and drawn in ${Date.now() - started} ms`)
  await page.mouse.move(700, 400) // the tooltip over 35,040 points
  await page.screenshot({ path: `${shots}/series-year.png`, fullPage: true })
})

await step('a trader submits a bid, runs the auction after its gate closure and sees it clear', async () => {
  await logout(page)
  await login(page, 'trader', process.env.VPP_TRADER_PASSWORD)
  await page.waitForSelector('[data-test=whoami]')
  // A day-ahead auction in UTC whose gate closes at the first whole minute
  // at least 30 s from now (the rules name minutes), so the test can bid
  // before it and clear after it.
  const closure = new Date(Math.ceil((Date.now() + 30_000) / 60_000) * 60_000)
  const day = new Date(closure.getTime() + 86_400_000).toISOString().slice(0, 10)
  const name = `E2E auction ${closure.toISOString().slice(11, 16)}`
  const status = await page.evaluate(async ({ name, time }) => {
    const r = await fetch('/api/v1/vpp/market-connectors', {
      method: 'POST',
      headers: { authorization: `Bearer ${sessionStorage.getItem('vpp.access')}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name, market_type: 'SPOT',
        rules: { product_minutes: 60, gate_closure: { kind: 'day_before', days_before: 1, local_time: time }, min_bid_mw: '0.1',
          max_bid_mw: '500', tick_size: '0.01', price_floor: '-500', price_cap: '4000', currency: 'EUR', time_zone: 'UTC' },
      }),
    })
    return r.status
  }, { name, time: closure.toISOString().slice(11, 16) })
  assert.equal(status, 201)
  await page.click('[data-nav=trading]')
  await page.waitForSelector('[data-test=new-bid]', { timeout: 15000 })
  await page.waitForSelector(`[data-test=bid-connector] option:text("${name}")`, { state: 'attached', timeout: 10000 })
  const connector = await page.locator('[data-test=bid-connector] option', { hasText: name }).getAttribute('value')
  await page.selectOption('[data-test=bid-connector]', connector)
  const vpp = await page.locator('[data-test=bid-vpp] option', { hasText: 'Nordlicht Spot Portfolio' }).getAttribute('value')
  await page.selectOption('[data-test=bid-vpp]', vpp)
  await page.fill('[data-test=bid-date]', day)
  await page.fill('[data-test=bid-quantity]', '-1')
  await page.click('[data-test=submit-bid]')
  assert.ok((await page.locator('[data-test=bid-quantity-error]').innerText({ timeout: 10000 })).length > 0, 'message at the quantity')
  await page.fill('[data-test=bid-quantity]', '0.1')
  await page.click('[data-test=submit-bid]')
  await page.waitForSelector('[data-test=submitted-bid][data-status=SUBMITTED]', { timeout: 10000 })
  await page.waitForSelector('[data-test=position] canvas', { timeout: 10000 })
  await page.waitForTimeout(Math.max(0, closure.getTime() - Date.now()) + 1500)
  await page.click('[data-test=run-auction]')
  await page.waitForSelector('[data-test=submitted-bid][data-status=CLEARED]', { timeout: 20000 })
  await page.screenshot({ path: `${shots}/trading-bid.png`, fullPage: true })
})

await step('every control on every page has an accessible name, and the navigation works from the keyboard', async () => {
  await logout(page)
  await login(page, 'admin', process.env.VPP_ADMIN_PASSWORD)
  await page.waitForSelector('[data-test=whoami]')
  const missing = []
  for (const nav of ['dashboard', 'operate', 'resources', 'series', 'vpps', 'schedule', 'trading', 'strategies', 'parks', 'performance', 'audit']) {
    await page.click(`[data-nav=${nav}]`)
    await page.waitForTimeout(1500)
    const found = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
      .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
        || el.getAttribute('title') || (el.tagName === 'BUTTON' && el.textContent.trim())))
      .map((el) => el.outerHTML.slice(0, 100)))
    missing.push(...found.map((html) => `${nav}: ${html}`))
  }
  assert.deepEqual(missing, [])
  // Keyboard: Tab reaches the navigation links, Enter follows one.
  await page.locator('[data-nav=dashboard]').focus()
  await page.keyboard.press('Tab')
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-nav'))
  assert.equal(focused, 'operate')
  await page.keyboard.press('Enter')
  await page.waitForURL(/\/operate/)
})

await step('no uncaught errors in the page', async () => {
  assert.deepEqual(consoleErrors, [])
})

await browser.close()
process.exit(failed ? 1 : 0)
