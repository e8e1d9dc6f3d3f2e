/**
 * readNewPassword on a fake terminal (a stream with isTTY and setRawMode): what a person types,
 * key by key. The CLI tests drive the same code on a real pseudo-terminal.
 */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, test } from 'node:test'
import { type PasswordInput, readNewPassword } from '../../src/cli/read-password.ts'

function fakeTerminal() {
  const input = new PassThrough() as PassThrough & PasswordInput
  const rawModes: boolean[] = []
  input.isTTY = true
  input.setRawMode = (mode: boolean) => rawModes.push(mode)
  const output = new PassThrough()
  let written = ''
  output.setEncoding('utf8').on('data', (chunk: string) => {
    written += chunk
  })
  /** Types `keys` once `prompt` has been written `count` times. */
  async function typeAfter(prompt: string, count: number, keys: string) {
    while (written.split(prompt).length - 1 < count) await new Promise((resolve) => setImmediate(resolve))
    input.write(keys)
  }
  return { input, output, rawModes, written: () => written, typeAfter }
}

describe('readNewPassword', () => {
  test('at a terminal: asks twice, raw mode on and off each time, backspace edits, nothing echoed', async () => {
    const terminal = fakeTerminal()
    const reading = readNewPassword({ input: terminal.input, output: terminal.output })
    await terminal.typeAfter('Password: ', 1, 'long pass\u007fsword!\r')
    await terminal.typeAfter('Repeat the password: ', 1, 'long password!\r')
    assert.equal(await reading, 'long password!')
    assert.deepEqual(terminal.rawModes, [true, false, true, false])
    assert.equal(terminal.written(), 'Password: \nRepeat the password: \n')
  })

  test('at a terminal: two different passwords are refused', async () => {
    const terminal = fakeTerminal()
    const reading = readNewPassword({ input: terminal.input, output: terminal.output })
    await terminal.typeAfter('Password: ', 1, 'first password\r')
    await terminal.typeAfter('Repeat the password: ', 1, 'first passw0rd\r')
    await assert.rejects(reading, /the two passwords do not match/)
    assert.deepEqual(terminal.rawModes, [true, false, true, false])
  })

  test('at a terminal: Ctrl-C cancels and leaves raw mode', async () => {
    const terminal = fakeTerminal()
    const reading = readNewPassword({ input: terminal.input, output: terminal.output })
    await terminal.typeAfter('Password: ', 1, 'abc\u0003')
    await assert.rejects(reading, /cancelled/)
    assert.deepEqual(terminal.rawModes, [true, false])
  })

  test('piped: the first line only, asked once, no prompt', async () => {
    const input = new PassThrough()
    const output = new PassThrough()
    let written = ''
    output.on('data', (chunk) => {
      written += chunk
    })
    input.end('piped password\nsecond line\n')
    assert.equal(await readNewPassword({ input, output }), 'piped password')
    assert.equal(written, '')
  })
})
