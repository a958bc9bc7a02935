// Generates src/api/schema.d.ts from the server's OpenAPI document:
//
//   VPP_OPENAPI=path/to/openapi.json npm run gen:api   (default: openapi.json)
//   VPP_OPENAPI=http://127.0.0.1:8080/api/v1/openapi.json npm run gen:api
//
// The document comes from a running server (/api/v1/openapi.json); it is
// not kept in the repository, the generated types are.
//
// Before generating, three defects of the server's document are repaired, each
// reported on stderr (a document without them passes through unchanged):
// - a parameter declared `in: path` whose name is no `{placeholder}` of its
//   path is a query parameter (OpenAPI allows path parameters only for
//   placeholders); it is required only if its schema does not admit null,
//   which is how the server marks an optional parameter;
// - a `$ref` to a schema missing from components is replaced by `{}` (any
//   value), as openapi-typescript refuses unresolved references;
// - an operationId used by more than one operation is dropped from all of
//   them (their types are then written under `paths` instead of
//   `operations`), as openapi-typescript refuses duplicates.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'

const input = process.env.VPP_OPENAPI || 'openapi.json'
// VPP_API_TYPES names another output file (CI compares it with the kept one).
const output = process.env.VPP_API_TYPES ?? new URL('../src/api/schema.d.ts', import.meta.url).pathname

const admitsNull = (schema) => JSON.stringify(schema ?? {}).includes('"null"')

/** Moves parameters that are not placeholders of their path to the query; returns how many. */
function queryParameters(doc) {
  let moved = 0
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const placeholders = new Set([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))
    for (const operation of Object.values(item)) {
      for (const p of operation?.parameters ?? []) {
        if (p.in !== 'path' || placeholders.has(p.name)) continue
        p.in = 'query'
        p.required = !admitsNull(p.schema)
        moved++
      }
    }
  }
  return moved
}

/** Replaces references to missing component schemas by `{}`; returns the names. */
function missingSchemas(doc) {
  const known = new Set(Object.keys(doc.components?.schemas ?? {}))
  const missing = new Set()
  const visit = (node) => {
    if (!node || typeof node !== 'object') return
    for (const [key, value] of Object.entries(node)) {
      const name = typeof value?.$ref === 'string' && value.$ref.match(/^#\/components\/schemas\/(.+)$/)?.[1]
      if (name && !known.has(name)) {
        missing.add(name)
        node[key] = {}
      } else visit(value)
    }
  }
  visit(doc)
  return [...missing]
}

/** Drops operationIds that more than one operation uses; returns them. */
function duplicateOperationIds(doc) {
  const operations = Object.values(doc.paths ?? {}).flatMap((item) => Object.values(item).filter((o) => o?.operationId))
  const count = new Map()
  for (const o of operations) count.set(o.operationId, (count.get(o.operationId) ?? 0) + 1)
  const duplicates = [...count].filter(([, n]) => n > 1).map(([id]) => id)
  for (const o of operations) if (duplicates.includes(o.operationId)) delete o.operationId
  return duplicates
}

/** The document, from a file or a running server. */
async function load(source) {
  try {
    if (/^https?:\/\//.test(source)) {
      const r = await fetch(source)
      if (!r.ok) throw new Error(`HTTP ${r.status}`)
      return await r.json()
    }
    return JSON.parse(readFileSync(source, 'utf8'))
  } catch (e) {
    console.error(`gen:api: cannot read the OpenAPI document ${source} (${e.message}); set VPP_OPENAPI to its file or URL`)
    process.exit(1)
  }
}

const doc = await load(input)
const moved = queryParameters(doc)
if (moved) console.warn(`gen:api: ${moved} parameters declared in the path but absent from it were taken as query parameters`)
const missing = missingSchemas(doc)
if (missing.length) console.warn(`gen:api: references to missing schemas taken as any value: ${missing.join(', ')}`)
const duplicates = duplicateOperationIds(doc)
if (duplicates.length) console.warn(`gen:api: operationIds used more than once, dropped: ${duplicates.join(', ')}`)

// An object schema without properties (free-form JSON) becomes
// Record<string, unknown>, not an object that admits no keys.
const ast = await openapiTS(doc, { emptyObjectsUnknown: true })
// An unchanged file keeps its time, so cargo does not rebuild the console.
const types = COMMENT_HEADER + astToString(ast)
if (existsSync(output) && readFileSync(output, 'utf8') === types) {
  console.log(`gen:api: ${output} is up to date with ${input}`)
} else {
  writeFileSync(output, types)
  console.log(`gen:api: wrote ${output} from ${input}`)
}
