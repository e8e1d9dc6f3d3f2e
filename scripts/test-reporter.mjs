// Node's spec reporter, with a true `skipped` count. Node counts skipped tests only, but our
// suites skip whole `describe` blocks when a service is absent (test/helpers/services.ts), and
// the summary then said `skipped 0` under a list of skipped suites. Here a skipped suite counts
// as one skipped item.
import { Readable } from 'node:stream'
import { spec as Spec } from 'node:test/reporters'

const isSkippedSuite = (event) =>
  (event.type === 'test:pass' || event.type === 'test:fail') &&
  event.data.details?.type === 'suite' &&
  event.data.skip !== undefined &&
  event.data.skip !== false

export default async function* reporter(source) {
  let skippedSuites = 0
  async function* counted() {
    for await (const event of source) {
      if (isSkippedSuite(event)) skippedSuites++
      const skipped =
        event.type === 'test:diagnostic' &&
        event.data.nesting === 0 &&
        /^skipped (\d+)$/.exec(event.data.message)
      yield skipped
        ? { ...event, data: { ...event.data, message: `skipped ${Number(skipped[1]) + skippedSuites}` } }
        : event
    }
  }
  yield* Readable.from(counted()).pipe(new Spec())
}
