import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashToken } from '../../src/core/tokens/index.ts'
import { dialects } from '../helpers/databases.ts'
import { bearer, login, register, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'logout-test-password'

for (const { dialect, skip, create } of dialects()) {
  describe(`POST /logout (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
      assert.equal((await register(t.app, 'leaver@example.com', PASSWORD)).statusCode, 201)
    })
    after(() => t?.close())

    const logout = (headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url: '/logout', headers })
    const me = (token: string) => t.app.inject({ url: '/me', headers: bearer(token) })

    it('revokes the presented token: 204, then the same token is refused', async () => {
      const token = await login(t.app, 'leaver@example.com', PASSWORD)
      assert.equal((await me(token)).statusCode, 200)
      const response = await logout(bearer(token))
      assert.equal(response.statusCode, 204)
      assert.equal(response.body, '')
      const afterwards = await me(token)
      assert.equal(afterwards.statusCode, 401)
      assert.match(String(afterwards.headers['www-authenticate']), /error="invalid_token"/)
      const row = await t.store.db
        .selectFrom('access_tokens')
        .select('id')
        .where('token_hash', '=', hashToken(token))
        .executeTakeFirst()
      assert.equal(row, undefined, 'the token row is gone server-side')
    })

    it("leaves the user's other tokens working", async () => {
      const phone = await login(t.app, 'leaver@example.com', PASSWORD)
      const laptop = await login(t.app, 'leaver@example.com', PASSWORD)
      assert.equal((await logout(bearer(phone))).statusCode, 204)
      assert.equal((await me(phone)).statusCode, 401)
      const still = await me(laptop)
      assert.equal(still.statusCode, 200)
      assert.equal(still.json().email, 'leaver@example.com')
    })

    it("leaves other users' tokens working", async () => {
      assert.equal((await register(t.app, 'stayer@example.com', PASSWORD)).statusCode, 201)
      const stayer = await login(t.app, 'stayer@example.com', PASSWORD)
      const leaver = await login(t.app, 'leaver@example.com', PASSWORD)
      assert.equal((await logout(bearer(leaver))).statusCode, 204)
      assert.equal((await me(stayer)).statusCode, 200)
    })

    it('answers a second logout with the same token 401', async () => {
      const token = await login(t.app, 'leaver@example.com', PASSWORD)
      assert.equal((await logout(bearer(token))).statusCode, 204)
      const again = await logout(bearer(token))
      assert.equal(again.statusCode, 401)
      assert.equal(again.json().code, 'INVALID_TOKEN')
    })

    it('answers logout without a token 401 with a Bearer challenge', async () => {
      const response = await logout()
      assert.equal(response.statusCode, 401)
      assert.equal(response.headers['www-authenticate'], 'Bearer')
      assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })
    })

    it('answers logout with a forged token 401 invalid_token and revokes nothing', async () => {
      const token = await login(t.app, 'leaver@example.com', PASSWORD)
      const response = await logout(bearer(`gth_${'B'.repeat(43)}`))
      assert.equal(response.statusCode, 401)
      assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/)
      assert.equal((await me(token)).statusCode, 200)
    })
  })
}
