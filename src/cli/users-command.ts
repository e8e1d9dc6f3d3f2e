import type { Command } from 'commander'

/** `gatehouse users list|show|deactivate|activate|promote|demote`. */
export function registerUsersCommand(_program: Command): void {}
