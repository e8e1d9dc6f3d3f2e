import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { dialects } from '../helpers/databases.ts'
import { register, requestToken, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'correct horse battery'

for (const { dialect, skip, create } of dialects()) {
  describe(`token kinds travel only where they were issued (${dialect})`, { skip }, () => {
    let t: TestApp
    let bearer: string
    let session: string
    before(async () => {
      t = await startTestApp({ create })
      assert.equal((await register(t.app, 'kinds@example.com', PASSWORD)).statusCode, 201)
      bearer = (await requestToken(t.app, 'kinds@example.com', PASSWORD)).json().access_token
      const login = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: 'kinds@example.com', password: PASSWORD },
      })
      assert.equal(login.statusCode, 200)
      const cookie = login.cookies.find((c) => c.name === t.app.gatehouse.cookies.session)
      session = cookie?.value ?? ''
      assert.match(session, /^gth_/)
    })
    after(() => t?.close())

    const me = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/me', headers })

    it('each works where it belongs', async () => {
      assert.equal((await me({ authorization: `Bearer ${bearer}` })).statusCode, 200)
      assert.equal((await me({ cookie: `token=${session}` })).statusCode, 200)
    })

    it('a /token bearer token sent as the session cookie is refused', async () => {
      const response = await me({ cookie: `token=${bearer}` })
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().code, 'INVALID_TOKEN')
    })

    it('a /login session token sent as a bearer token is refused', async () => {
      const response = await me({ authorization: `Bearer ${session}` })
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().code, 'INVALID_TOKEN')
    })

    it('the refusal holds when the token is already cached', async () => {
      assert.equal((await me({ authorization: `Bearer ${bearer}` })).statusCode, 200)
      assert.equal((await me({ cookie: `token=${bearer}` })).statusCode, 401)
      assert.equal((await me({ cookie: `token=${session}` })).statusCode, 200)
      assert.equal((await me({ authorization: `Bearer ${session}` })).statusCode, 401)
    })
  })
}
