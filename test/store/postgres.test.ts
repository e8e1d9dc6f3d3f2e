import { dialects } from '../helpers/databases.ts'
import { storeConformance } from './conformance.ts'

const postgres = dialects().find((d) => d.dialect === 'postgres')
if (!postgres) throw new Error('dialects() no longer lists postgres')

storeConformance('postgres', postgres.create, postgres.skip)
