import { type FindingSpec, finding } from '../finding.ts'
import { describeRequest } from '../http-probe.ts'
import type { Check } from './check.ts'

const DOCS: FindingSpec = {
  id: 'docs.exposure',
  asvs: 'V13.4.5',
  title: 'API documentation is not public',
  fix: 'Serve /docs and the OpenAPI document only where intended (Gatehouse: leave GATEHOUSE_DOCS unset in production), or behind authentication.',
  passMeans:
    'none of /docs, /openapi.json, /swagger… answers 2xx with Swagger, ReDoc or OpenAPI content (public docs are WARN: fine only when intended, they map every route for an attacker)',
}
const GIT: FindingSpec = {
  id: 'leak.git',
  asvs: 'V13.4.1',
  title: 'no source control metadata served',
  fix: 'Deploy without the .git folder, or refuse every path under /.git.',
  passMeans: '/.git/HEAD does not answer with a Git ref',
}

const DOC_PATHS = [
  '/docs',
  '/docs/json',
  '/openapi.json',
  '/swagger',
  '/swagger.json',
  '/swagger-ui/',
  '/api-docs',
  '/v3/api-docs',
  '/redoc',
]
const DOC_MARKERS = /swagger|openapi|redoc/i

export const docsCheck: Check = {
  name: 'documentation and metadata exposure',
  specs: [DOCS, GIT],
  async run(context, emit) {
    const exposed: string[] = []
    const seen: string[] = []
    for (const path of DOC_PATHS) {
      const response = await context.probe.request({ path })
      seen.push(`${path} ${response.status}`)
      if (response.status >= 200 && response.status < 300 && DOC_MARKERS.test(response.body)) {
        exposed.push(`${path} ${response.status} ${response.headers['content-type'] ?? ''}`.trim())
      }
    }
    const request = `GET ${DOC_PATHS.join(', ')}`
    emit(
      exposed.length > 0
        ? finding(
            DOCS,
            'WARN',
            'API documentation is public: intended? It lists every route and parameter for an attacker',
            {
              request,
              observed: exposed.join('; '),
            },
          )
        : finding(DOCS, 'PASS', 'no public documentation or OpenAPI document', {
            request,
            observed: seen.join(', '),
          }),
    )
    const git = await context.probe.request({ path: '/.git/HEAD' })
    const leaked = git.status >= 200 && git.status < 300 && /^(?:ref: refs\/|[0-9a-f]{40}\s*$)/.test(git.body)
    emit(
      finding(
        GIT,
        leaked ? 'FAIL' : 'PASS',
        leaked ? 'the Git metadata is downloadable: source and history can be rebuilt' : 'no Git metadata',
        {
          request: describeRequest('GET', '/.git/HEAD'),
          observed: `${git.status}${leaked ? ', body is a Git ref' : ''}`,
        },
      ),
    )
  },
}
