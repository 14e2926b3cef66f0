// What the global setup's stack offers the tests, and helpers to use it (skopeo, the API).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

export interface StackState {
  portus: string // http://127.0.0.1:PORT, the UI and the API
  registry: string // 127.0.0.1:PORT, as in image references
  receiver: string // the webhook receiver's URL
  oidc_provider: string // LemonLDAP::NG's portal, the OpenID Connect provider Portus offers
  layout: string // an OCI layout with the tags `latest` and `v2`
  skopeo: string[] // skopeo with its private policy and temp dir
  skopeo_env: Record<string, string>
  skopeo_authfile: string
  database: string
}

export function stack(): StackState {
  const raw = process.env.PORTUS_E2E_STATE
  if (!raw) throw new Error('PORTUS_E2E_STATE is unset: run through `npm run e2e`')
  return JSON.parse(raw) as StackState
}

const run = promisify(execFile)

/** `skopeo copy` of the layout's `tag` to `<registry>/<repository>`, as `creds` (user:secret). */
export async function push(repository: string, tag: string, creds: string): Promise<void> {
  const s = stack()
  const [binary, ...global] = s.skopeo
  await run(
    binary,
    [
      ...global,
      'copy',
      '--authfile',
      s.skopeo_authfile,
      '--dest-tls-verify=false',
      '--dest-creds',
      creds,
      `oci:${s.layout}:${tag}`,
      `docker://${s.registry}/${repository}:${tag}`,
    ],
    { env: s.skopeo_env, timeout: 60_000 },
  )
}
