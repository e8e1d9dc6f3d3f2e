import { createInterface } from 'node:readline'

/** A terminal-like input: process.stdin, or a fake one in tests. */
export interface PasswordInput extends NodeJS.ReadableStream {
  isTTY?: boolean
  setRawMode?(mode: boolean): unknown
}

export interface PasswordStreams {
  input?: PasswordInput
  output?: NodeJS.WritableStream
}

/**
 * A password from a terminal prompt (not echoed) or, when stdin is not a TTY, its first line, so
 * scripts can pipe it. Never from an argument: arguments show up in `ps` and shell history.
 */
export async function readPassword(prompt: string, streams: PasswordStreams = {}): Promise<string> {
  const { input = process.stdin, output = process.stdout } = streams
  if (!input.isTTY || !input.setRawMode) {
    const lines = createInterface({ input })
    for await (const line of lines) {
      lines.close()
      return line
    }
    return ''
  }
  const setRawMode = input.setRawMode.bind(input)
  // Echo off before the prompt shows: a password typed the moment it appears must not echo.
  setRawMode(true)
  output.write(prompt)
  input.resume()
  let password = ''
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n') {
          cleanup()
          output.write('\n')
          return resolve(password)
        }
        if (char === '\u0003' || char === '\u0004') {
          cleanup()
          output.write('\n')
          return reject(new Error('cancelled'))
        }
        password = char === '\u007f' || char === '\b' ? password.slice(0, -1) : password + char
      }
    }
    const cleanup = () => {
      input.off('data', onData)
      setRawMode(false)
      input.pause()
    }
    input.on('data', onData)
  })
}

/**
 * A new password: at a terminal it is typed twice and a mismatch is refused (nothing is echoed,
 * so a typo would otherwise become the password); piped, its first line.
 */
export async function readNewPassword(streams: PasswordStreams = {}): Promise<string> {
  const input = streams.input ?? process.stdin
  const password = await readPassword('Password: ', streams)
  if (!input.isTTY || !input.setRawMode) return password
  const repeated = await readPassword('Repeat the password: ', streams)
  if (repeated !== password) throw new Error('the two passwords do not match')
  return password
}
