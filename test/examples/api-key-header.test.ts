import { build } from '../../examples/api-key-header.ts'
import { apiKeyExampleSuite } from './api-key-cases.ts'

apiKeyExampleSuite('api-key-header', build)
