import type { CompiledQuery, Kysely } from 'kysely'

/**
 * For queries on every authenticated request: their SQL is built once per database (building and
 * compiling with Kysely cost more than running them), and only the parameters change.
 */
export function compiledOnce<DB, Row>(
  compile: (db: Kysely<DB>) => CompiledQuery<Row>,
): (db: Kysely<DB>) => string {
  const sqlByDb = new WeakMap<Kysely<DB>, string>()
  return (db) => {
    let sql = sqlByDb.get(db)
    if (sql === undefined) {
      sql = compile(db).sql
      sqlByDb.set(db, sql)
    }
    return sql
  }
}
