import { createInterface } from 'node:readline'

/**
 * A password from a terminal prompt (not echoed) or, when stdin is not a TTY, its first line, so
 * scripts can pipe it. Never from an argument: arguments show up in `ps` and shell history.
 */
export async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const lines = createInterface({ input: process.stdin })
    for await (const line of lines) {
      lines.close()
      return line
    }
    return ''
  }
  process.stdout.write(prompt)
  process.stdin.setRawMode(true)
  process.stdin.resume()
  let password = ''
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          cleanup()
          process.stdout.write('\n')
          return resolve(password)
        }
        if (char === '\u0003') {
          cleanup()
          return reject(new Error('cancelled'))
        }
        password = char === '\u007f' ? password.slice(0, -1) : password + char
      }
    }
    const cleanup = () => {
      process.stdin.off('data', onData)
      process.stdin.setRawMode(false)
      process.stdin.pause()
    }
    process.stdin.on('data', onData)
  })
}
