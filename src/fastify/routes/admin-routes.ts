import type { FastifyInstance } from 'fastify'
import type { AuditLog } from '../../accounts/audit-log.ts'

/** Superuser routes over every account and the audit trail. */
export async function adminRoutes(_app: FastifyInstance, _options: { trail: AuditLog }): Promise<void> {}
