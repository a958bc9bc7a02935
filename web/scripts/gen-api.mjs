// Generates src/api/schema.d.ts from the server's OpenAPI document:
//
//   VPP_OPENAPI=path/to/openapi.json npm run gen:api   (default: openapi.json)
//   VPP_OPENAPI=http://127.0.0.1:8080/api/v1/openapi.json npm run gen:api
//
// The document comes from a running server (/api/v1/openapi.json); it is
// not kept in the repository, the generated types are.
//
// The server's document is valid OpenAPI 3.1 (scripts/check-openapi.py in
// CI), so it is used as served.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'

const input = process.env.VPP_OPENAPI || 'openapi.json'
// VPP_API_TYPES names another output file (CI compares it with the kept one).
const output = process.env.VPP_API_TYPES ?? new URL('../src/api/schema.d.ts', import.meta.url).pathname

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
