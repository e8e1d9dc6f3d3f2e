import type { Command } from 'commander'

/** `gatehouse audit <url>`: a security self-test of a running deployment. */
export function registerAuditCommand(_program: Command): void {}
