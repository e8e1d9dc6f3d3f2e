import { createSqliteDatabase } from '../helpers/databases.ts'
import { storeConformance } from './conformance.ts'

storeConformance('sqlite', createSqliteDatabase, false)
