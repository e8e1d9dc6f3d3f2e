import { Type } from '@sinclair/typebox'
import { EMAIL_MAX_LENGTH } from '../core/email/index.ts'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../core/passwords/policy.ts'

export const Email = Type.String({ format: 'email', maxLength: EMAIL_MAX_LENGTH })
/** ajv counts code points, like the core's policy: the two agree on what "1024 characters" is. */
export const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH })

export const PublicUserSchema = Type.Object(
  {
    id: Type.Integer(),
    email: Type.String(),
    is_active: Type.Boolean(),
    is_superuser: Type.Boolean(),
    is_verified: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'User' },
)

export const ErrorSchema = Type.Object(
  {
    detail: Type.Union([
      Type.String(),
      Type.Array(
        Type.Object({
          loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
          msg: Type.String(),
          type: Type.String(),
        }),
      ),
    ]),
    code: Type.String(),
  },
  { $id: 'Error' },
)

export const ErrorRef = Type.Ref(ErrorSchema)
export const UserRef = Type.Ref(PublicUserSchema)

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
})
